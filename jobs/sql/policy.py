"""The access policy of the analyst SQL interface (conf/access.yaml), resolved for one role.

A role reads some tables; in each, a column whose sensitivity (L1–L4, from the catalogue's data
dictionary in schemas/extracts/) is above the role's clearance is replaced by its mask. The
masks are DuckDB macros (:data:`MASK_MACROS`) that match :mod:`jobs.masking`, which masks the
same values for display elsewhere (reports, profiles).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.config import ConfigError, conf_file, extract_schemas

Level = Literal["L1", "L2", "L3", "L4"]
Mask = Literal["id", "name", "phone", "text", "year", "hidden"]
LEVELS: tuple[str, ...] = ("L1", "L2", "L3", "L4")

# One DuckDB macro per mask. Values too short to keep a prefix and suffix are starred whole,
# so a malformed identifier is never shown in clear.
MASK_MACROS = {
    "id": "CASE WHEN v IS NULL THEN NULL WHEN length(v) < 10 THEN repeat('*', length(v)) "
    "ELSE left(v, 6) || repeat('*', length(v) - 10) || right(v, 4) END",
    "name": "CASE WHEN v IS NULL OR length(v) = 0 THEN v "
    "ELSE left(v, 1) || repeat('*', length(v) - 1) END",
    "phone": "CASE WHEN v IS NULL THEN NULL WHEN length(v) < 8 THEN repeat('*', length(v)) "
    "ELSE left(v, 3) || repeat('*', length(v) - 7) || right(v, 4) END",
    "text": "CASE WHEN v IS NULL THEN NULL WHEN length(v) <= 6 THEN repeat('*', length(v)) "
    "ELSE left(v, 6) || repeat('*', least(6, length(v) - 6)) END",
}
_DIVISION = re.compile(r"^\d{2}(\d{2}){0,2}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Item(_Frozen):
    """A data item: the delivered field it comes from (or a stated level) and its mask."""

    field: str | None = None
    level: Level | None = None
    per_source: str | None = None
    mask: Mask

    @model_validator(mode="after")
    def _one_origin(self) -> Item:
        if sum(x is not None for x in (self.field, self.level, self.per_source)) != 1:
            raise ValueError("an item has exactly one of field, level or per_source")
        return self


class BronzeMasks(_Frozen):
    by_parser: dict[str, Mask] = Field(default_factory=dict)
    by_field: dict[str, Mask] = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)


class Role(_Frozen):
    label: str
    clearance: Level
    tables: tuple[str, ...]
    district: bool = False


class AccessConf(_Frozen):
    items: dict[str, Item]
    bronze: BronzeMasks
    columns: dict[str, dict[str, str]]
    divisions: dict[str, str | None]
    roles: dict[str, Role]


@dataclass(frozen=True)
class ColumnRule:
    """How one column (or nested field path) is shown to readers below its level."""

    level: str
    mask: str
    per_source: str | None = None  # the column naming each row's source (level decided per row)


class AccessDenied(PermissionError):
    """The role may not do this; the message says why."""


def _field_levels() -> dict[str, str]:
    return {
        f"{s.source_id}.{c.column}": c.sensitivity
        for s in extract_schemas().values()
        for c in s.columns
    }


@lru_cache(maxsize=1)
def access_conf() -> AccessConf:
    """conf/access.yaml, validated against the catalogue (every named field must exist)."""
    try:
        conf = AccessConf.model_validate(conf_file("access.yaml"))
    except ValueError as e:
        raise ConfigError(f"conf/access.yaml: {e}") from e
    fields = _field_levels()
    named = [i.field for i in conf.items.values() if i.field] + list(conf.bronze.by_field)
    unknown = sorted(f for f in named if f not in fields)
    if unknown:
        raise ConfigError(f"conf/access.yaml names fields no extract schema has: {unknown}")
    items = set(conf.items)
    used = {i for cols in conf.columns.values() for i in cols.values()}
    used |= set(conf.bronze.columns.values())
    if used - items:
        raise ConfigError(f"conf/access.yaml uses undefined items: {sorted(used - items)}")
    for name, role in conf.roles.items():
        if role.district:
            loose = [t for t in role.tables if t not in conf.divisions]
            if loose:
                raise ConfigError(
                    f"conf/access.yaml: district role {name} reads {loose}, "
                    "which have no division column under `divisions`"
                )
    return conf


def _item_rule(item: Item, levels: dict[str, str]) -> ColumnRule:
    if item.per_source:
        return ColumnRule("L4", item.mask, per_source=item.per_source)
    return ColumnRule(levels[item.field] if item.field else item.level, item.mask)


def column_rules(table: str) -> dict[str, ColumnRule]:
    """The sensitive columns of ``table`` (dotted paths for nested fields) and their rules.

    Columns not returned are L1 (readable by every role that reads the table).
    """
    conf = access_conf()
    levels = _field_levels()
    rules: dict[str, ColumnRule] = {}
    layer, _, name = table.partition(".")
    if layer == "bronze" and name in extract_schemas():
        item_mask = {i.field: i.mask for i in conf.items.values() if i.field}
        for col in extract_schemas()[name].columns:
            ref = f"{name}.{col.column}"
            mask = (
                item_mask.get(ref)
                or conf.bronze.by_field.get(ref)
                or conf.bronze.by_parser.get(col.parser.split(":")[0])
                or "hidden"
            )
            rules[col.column] = ColumnRule(col.sensitivity, mask)
        for column, item in conf.bronze.columns.items():
            rules[column] = _item_rule(conf.items[item], levels)
        return rules
    for pattern in ("*", table):
        for path, item in conf.columns.get(pattern, {}).items():
            rules[path] = _item_rule(conf.items[item], levels)
    return rules


def source_levels() -> dict[str, str]:
    """Each source's most sensitive field: the level of a raw line it delivered."""
    return {
        s.source_id: max((c.sensitivity for c in s.columns), key=LEVELS.index)
        for s in extract_schemas().values()
    }


@dataclass(frozen=True)
class Grant:
    """A role resolved for one reader: what it reads, in clear or masked, and where."""

    role: str
    clearance: str
    patterns: tuple[str, ...]
    division: str | None = None

    def may_read(self, table: str) -> bool:
        return any(fnmatch.fnmatchcase(table, p) for p in self.patterns)

    def in_clear(self, level: str) -> bool:
        return LEVELS.index(level) <= LEVELS.index(self.clearance)

    def division_column(self, table: str) -> str | None:
        """The column a district reader's rows are filtered on (None: not filtered)."""
        if self.division is None:
            return None
        return access_conf().divisions[table]


def grant(role: str, division: str | None = None) -> Grant:
    """Resolve ``role`` from conf/access.yaml; a district role needs its division code."""
    roles = access_conf().roles
    if role not in roles:
        raise AccessDenied(f"unknown role {role!r}; roles: {', '.join(sorted(roles))}")
    spec = roles[role]
    if spec.district:
        if not division:
            raise AccessDenied(f"role {role} reads one district: give its division code")
        if not _DIVISION.match(division):
            raise AccessDenied(f"{division!r} is not a division code (2, 4 or 6 digits)")
    elif division:
        raise AccessDenied(f"role {role} is not limited to a district; drop the division")
    return Grant(role, spec.clearance, spec.tables, division if spec.district else None)
