"""The one masking policy of govlake: who reads which tables, and how each value is shown.

Every surface that shows data applies it from here: the DuckDB views of the SQL interface and
of the SQL server (:func:`jobs.serving.sql.views.masked_select` builds them from :func:`column_rules`
and :data:`MASKS`), ``show``/``profile``/``trace`` (they read through those views or call
:func:`mask_value`), and the quality report with its 整改清单 (:func:`mask_value`).

A role reads some tables (conf/access.yaml). In each, a column whose level (L1–L4, from the
catalogue's data dictionary in schemas/extracts/, raised for quasi-identifiers by ``min_level``)
is above the role's clearance is shown through its mask. Each mask exists twice, side by side in
:data:`MASKS`: as DuckDB SQL (for views) and as Python (for everything else); a test checks that
both give the same value.

Identifiers are never partly shown: a reader below their level gets a pseudonym, a keyed
HMAC-SHA-256 of the value (:func:`pseudonym`), with the key held outside the lake
(:func:`pseudonym_key`). Pseudonyms are stable, so analysts can still join, group and count.
Quasi-identifiers are generalised (GB/T 37964): birth dates to their month, addresses to their
county, other dates to their year.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from jobs.platform.config import ConfigError, Frozen, conf_file, extract_schemas
from jobs.platform.private import read_private

Level = Literal["L1", "L2", "L3", "L4"]
Mask = Literal["pseudonym", "name", "phone", "address", "month", "year", "hidden"]
LEVELS: tuple[str, ...] = ("L1", "L2", "L3", "L4")
_DIVISION = re.compile(r"^\d{2}(\d{2}){0,2}$")

# -- the masks, in SQL and in Python ---------------------------------------------------------

# An address down to its county-level division (省 市 区/县/旗/县级市); nothing when it has none.
ADDRESS_PREFIX = (
    r"^((?:.{1,7}?(?:省|自治区))?(?:.{1,8}?(?:市|自治州|州|盟|地区))?.{1,8}?(?:区|县|旗|市))"
)
_ADDRESS = re.compile(ADDRESS_PREFIX)
PSEUDONYM_PREFIX = "P"
PSEUDONYM_HEX = 23  # 92 bits: no collision among a country's identifiers in practice


def mask_name(value: str | None) -> str | None:
    """张*, 欧阳** : the surname's first character kept."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str | None) -> str | None:
    """138****1234: the operator prefix and the last four digits kept."""
    if not value:
        return value
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(value: str | None) -> str | None:
    """河北省沧州市运河区: the address generalised to its county; NULL when no county is named."""
    if not value:
        return value
    m = _ADDRESS.match(value)
    return m.group(1) if m else None


@dataclass(frozen=True)
class MaskDef:
    """One mask: its DuckDB macro body (over ``v``), the Python function, the types it takes."""

    sql: str
    python: Callable[[object], object]
    takes: str  # "string" or "date"


def _month(value):
    return value.replace(day=1) if value is not None else None


def _year(value):
    return value.replace(month=1, day=1) if value is not None else None


MASKS: dict[str, MaskDef] = {
    "pseudonym": MaskDef(
        # HMAC-SHA-256 (RFC 2104) over the UTF-8 value; the padded key halves are session
        # variables set from outside the lake, never written into SQL text
        "CASE WHEN v IS NULL OR length(v) = 0 THEN v ELSE "
        f"'{PSEUDONYM_PREFIX}' || upper(left(sha256(getvariable('gl_opad') || "
        f"unhex(sha256(getvariable('gl_ipad') || encode(v)))), {PSEUDONYM_HEX})) END",
        lambda v: pseudonym(v),
        "string",
    ),
    "name": MaskDef(
        "CASE WHEN v IS NULL OR length(v) = 0 THEN v "
        "ELSE left(v, 1) || repeat('*', length(v) - 1) END",
        mask_name,
        "string",
    ),
    "phone": MaskDef(
        "CASE WHEN v IS NULL OR length(v) = 0 THEN v WHEN length(v) < 8 THEN repeat('*', length(v)) "
        "ELSE left(v, 3) || repeat('*', length(v) - 7) || right(v, 4) END",
        mask_phone,
        "string",
    ),
    "address": MaskDef(
        "CASE WHEN v IS NULL OR length(v) = 0 THEN v "
        f"ELSE nullif(regexp_extract(v, '{ADDRESS_PREFIX}', 1), '') END",
        mask_address,
        "string",
    ),
    "month": MaskDef("CAST(date_trunc('month', v) AS DATE)", _month, "date"),
    "year": MaskDef("CAST(date_trunc('year', v) AS DATE)", _year, "date"),
}


def apply_mask(mask: str, value):
    """``value`` as a reader below its level sees it under ``mask`` (None when hidden)."""
    spec = MASKS.get(mask)
    if spec is None or value is None:
        return None
    if spec.takes == "string":
        return spec.python(value if isinstance(value, str) else str(value))
    return spec.python(value) if isinstance(value, dt.date) else None


# -- the pseudonym key -----------------------------------------------------------------------

KEY_ENV = "GOVLAKE_PSEUDONYM_KEY"
KEY_FILE_ENV = "GOVLAKE_PSEUDONYM_KEY_FILE"


class PseudonymKeyError(ConfigError):
    """The pseudonym key cannot be had safely; the message says why."""


def _default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "govlake" / "pseudonym.key"


def key_file() -> Path | None:
    """Where the key is read from (None: from the environment variable itself)."""
    if os.environ.get(KEY_ENV):
        return None
    return Path(os.environ.get(KEY_FILE_ENV) or _default_key_file()).expanduser()


def _read_key_file(path: Path) -> bytes:
    if not path.exists() and not os.environ.get(KEY_FILE_ENV):
        # a fresh deployment: make its own key, readable by its owner only
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    secret = read_private(path, what="pseudonym key file", max_bytes=4096, error=PseudonymKeyError)
    secret = secret.strip()
    if len(secret) < 16:
        raise PseudonymKeyError(f"pseudonym key file {path} holds fewer than 16 bytes")
    return secret


@lru_cache(maxsize=4)
def _key_material(env_secret: str | None, path: str | None) -> bytes:
    secret = env_secret.encode() if env_secret else _read_key_file(Path(path))
    if env_secret and len(secret) < 16:
        raise PseudonymKeyError(f"{KEY_ENV} holds fewer than 16 bytes")
    # one 32-byte HMAC key whatever the secret's length
    return hashlib.sha256(b"govlake pseudonym v1\0" + secret).digest()


def pseudonym_key(lake_root: str | Path | None = None) -> bytes:
    """The deployment's HMAC key: ``$GOVLAKE_PSEUDONYM_KEY``, else the file named by
    ``$GOVLAKE_PSEUDONYM_KEY_FILE``, else ``~/.config/govlake/pseudonym.key`` (made on first
    use, mode 600). A key file inside the lake is refused: the lake's readers must not hold it.
    """
    path = key_file()
    if path is not None and lake_root is not None:
        root = Path(lake_root).resolve()
        if path.resolve().is_relative_to(root):
            raise PseudonymKeyError(
                f"the pseudonym key {path} must be kept outside the lake {root}"
            )
    return _key_material(os.environ.get(KEY_ENV) or None, str(path) if path else None)


def key_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer padded keys (RFC 2104), for the SQL form of the mask."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonym(value: str | None, key: bytes | None = None) -> str | None:
    """P3F9A…: the keyed HMAC-SHA-256 of ``value``, as the SQL views compute it."""
    if value is None or value == "":
        return value
    digest = hmac.new(key or pseudonym_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX].upper()


def is_pseudonym(text: str) -> bool:
    """Whether ``text`` has the shape of a pseudonym (P + hex digits)."""
    return bool(re.fullmatch(rf"{PSEUDONYM_PREFIX}[0-9A-F]{{{PSEUDONYM_HEX}}}", text or ""))


# -- conf/access.yaml --------------------------------------------------------------------------


class Item(Frozen):
    """A data item: the delivered field it comes from (or a stated level) and its mask.

    ``min_level`` raises a quasi-identifier above its field's level (GB/T 37964): a birth date
    is L2 as a delivered field, but shown whole only to roles cleared for identifiers.
    """

    field: str | None = None
    level: Level | None = None
    per_source: str | None = None
    min_level: Level | None = None
    mask: Mask

    @model_validator(mode="after")
    def _one_origin(self) -> Item:
        if sum(x is not None for x in (self.field, self.level, self.per_source)) != 1:
            raise ValueError("an item has exactly one of field, level or per_source")
        return self


class BronzeMasks(Frozen):
    """How bronze fields are masked: by their parser, or by a named field."""

    by_parser: dict[str, Mask] = Field(default_factory=dict)
    by_field: dict[str, Mask] = Field(default_factory=dict)
    columns: dict[str, str] = Field(default_factory=dict)


class Limits(Frozen):
    """What one reader's queries may take. A client may lower these, never raise them."""

    max_rows: int = Field(gt=0)
    timeout_s: float = Field(gt=0)
    max_concurrent: int = Field(gt=0)  # sessions (server) and queries at once per user
    memory_limit: str = Field(pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$")
    max_result_mb: int = Field(gt=0)  # bytes of one result, as built and as sent

    @property
    def max_result_bytes(self) -> int:
        """The result-size cap in bytes."""
        return self.max_result_mb * 1024 * 1024

    @property
    def memory_bytes(self) -> int:
        """The memory limit (``512MB``, ``2GiB``...) in bytes."""
        number, unit = re.match(r"^(\d+(?:\.\d+)?)\s*(\w+)$", self.memory_limit).groups()
        scale = {"MB": 10**6, "GB": 10**9, "MiB": 2**20, "GiB": 2**30}[unit]
        return int(float(number) * scale)


class LimitsOverride(Frozen):
    """A role's changes to the default query limits (conf/access.yaml ``limits:``)."""

    max_rows: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)
    max_concurrent: int | None = Field(default=None, gt=0)
    memory_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$")
    max_result_mb: int | None = Field(default=None, gt=0)


class Role(Frozen):
    """A role of conf/access.yaml: its label, clearance, tables and limits."""

    label: str
    clearance: Level
    tables: tuple[str, ...]
    district: bool = False
    # bound to one department (department_id of conf/catalog): the workbench's liaisons
    department: bool = False
    limits: LimitsOverride = Field(default_factory=LimitsOverride)


class Spill(Frozen):
    """Where a query spills to disk, and how much it may spill."""

    directory: str | None = None  # default: <system temp>/govlake-sql-<uid>; env GOVLAKE_SQL_SPILL
    max_size: str = Field(pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$")


class AccessConf(Frozen):
    """conf/access.yaml: items and their masks, bronze masks, roles, limits and spill."""

    items: dict[str, Item]
    bronze: BronzeMasks
    columns: dict[str, dict[str, str]]
    divisions: dict[str, str | None]
    limits: Limits
    spill: Spill
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
    from jobs.platform.settings import validated

    conf = validated(AccessConf, conf_file("access.yaml"), where="conf/access.yaml")
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


def role_limits(role: str) -> Limits:
    """The role's limits: conf/access.yaml's defaults, lowered or raised for the role."""
    conf = access_conf()
    if role not in conf.roles:
        raise AccessDenied(f"unknown role {role!r}")
    own = conf.roles[role].limits.model_dump(exclude_none=True)
    return conf.limits.model_copy(update=own)


def _max_level(*levels: str | None) -> str:
    return max((lv for lv in levels if lv), key=LEVELS.index)


def _item_rule(item: Item, levels: dict[str, str]) -> ColumnRule:
    if item.per_source:
        return ColumnRule("L4", item.mask, per_source=item.per_source)
    level = levels[item.field] if item.field else item.level
    return ColumnRule(_max_level(level, item.min_level), item.mask)


def column_rules(table: str) -> dict[str, ColumnRule]:
    """The sensitive columns of ``table`` (dotted paths for nested fields) and their rules.

    Columns not returned are L1 (readable by every role that reads the table).
    """
    conf = access_conf()
    levels = _field_levels()
    rules: dict[str, ColumnRule] = {}
    layer, _, name = table.partition(".")
    if layer == "bronze" and name in extract_schemas():
        item_mask = {i.field: i for i in conf.items.values() if i.field}
        for col in extract_schemas()[name].columns:
            ref = f"{name}.{col.column}"
            item = item_mask.get(ref)
            mask = (
                (item.mask if item else None)
                or conf.bronze.by_field.get(ref)
                or conf.bronze.by_parser.get(col.parser.split(":")[0])
                or "hidden"
            )
            level = _max_level(col.sensitivity, item.min_level if item else None)
            rules[col.column] = ColumnRule(level, mask)
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
    department: str | None = None  # the department a liaison answers for

    def may_read(self, table: str) -> bool:
        """Whether the grant covers the table."""
        return any(fnmatch.fnmatchcase(table, p) for p in self.patterns)

    def in_clear(self, level: str) -> bool:
        """Whether values of ``level`` are shown unmasked to this grant."""
        return LEVELS.index(level) <= LEVELS.index(self.clearance)

    def division_column(self, table: str) -> str | None:
        """The column a district reader's rows are filtered on (None: not filtered)."""
        if self.division is None:
            return None
        return access_conf().divisions[table]

    def in_division(self, code: str | None) -> bool:
        """Whether a row of this division code is the reader's (always, for city-wide roles)."""
        return self.division is None or (code or "").startswith(self.division)

    def limits(self) -> Limits:
        """The query limits of the grant's role."""
        return role_limits(self.role)


def grant(role: str, division: str | None = None, *, department: str | None = None) -> Grant:
    """Resolve ``role`` from conf/access.yaml; a district role needs its division code, a
    departmental role its department (a ``department_id`` of conf/catalog)."""
    roles = access_conf().roles
    if role not in roles:
        raise AccessDenied(f"unknown role {role!r}; roles: {', '.join(sorted(roles))}")
    spec = roles[role]
    if spec.department:
        from jobs.platform.config import catalog

        known = sorted({e.department_id for e in catalog().values()})
        if department not in known:
            raise AccessDenied(
                f"role {role} answers for one department: give one of {', '.join(known)}"
            )
    elif department:
        raise AccessDenied(f"role {role} is not bound to a department; drop the department")
    if spec.district:
        if not division:
            raise AccessDenied(f"role {role} reads one district: give its division code")
        if not _DIVISION.match(division):
            raise AccessDenied(f"{division!r} is not a division code (2, 4 or 6 digits)")
    elif division:
        raise AccessDenied(f"role {role} is not limited to a district; drop the division")
    return Grant(
        role,
        spec.clearance,
        spec.tables,
        division if spec.district else None,
        department if spec.department else None,
    )


# -- masking outside SQL -----------------------------------------------------------------------


def mask_value(table: str, path: str, *, value, reader: Grant, source: str | None = None):
    """``value`` of column ``path`` of ``table`` as ``reader`` may see it (the views' rule).

    ``source`` is the row's source, for columns whose level is decided per row.
    """
    rule = column_rules(table).get(path)
    if rule is None or value is None:
        return value
    if rule.per_source:
        level = source_levels().get(source or "")
        return value if level is not None and reader.in_clear(level) else None
    if reader.in_clear(rule.level):
        return value
    return apply_mask(rule.mask, value)


def mask_row(table: str, row: dict, *, reader: Grant) -> dict:
    """A row (nested structs and lists too) of ``table`` as ``reader`` may see it."""
    rules = column_rules(table)

    def walk(value, path: str):
        if path in rules:
            rule = rules[path]
            if rule.per_source:
                return mask_value(
                    table, path, value=value, reader=reader, source=row.get(rule.per_source)
                )
            return mask_value(table, path, value=value, reader=reader)
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path) for v in value]
        return value

    return {k: walk(v, k) for k, v in row.items()}


def attribute_rule(attribute: str) -> ColumnRule | None:
    """The rule of the data item a finding's attribute names: a base library's column
    (``birth_date``, ``legal_rep_name``) or an item itself (``id_number``). None: L1."""
    conf = access_conf()
    levels = _field_levels()
    for table in ("silver.person", "silver.legal_person", "silver.licence"):
        item = conf.columns.get(table, {}).get(attribute)
        if item:
            return _item_rule(conf.items[item], levels)
    if attribute in conf.items:
        return _item_rule(conf.items[attribute], levels)
    return None
