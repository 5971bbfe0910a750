"""The settings files of conf/ as frozen, validated models, each loaded once.

Every file is read into a pydantic model with ``extra="forbid"``: a key the model does not know
is an error, and every error names the file and the key (``conf/quality.yaml: weights.accuracy:
Input should be a valid number``). Defaults live here, in the models, and nowhere else; code
tables live in conf/codes.yaml.

* ``authority()``      conf/authority.yaml   一数一源: each attribute's sources, authority first
* ``references()``     conf/references.yaml  where each source names a person
* ``quality()``        conf/quality.yaml     weights, bands and the rules' sections (each rule
  validates its own section with its own model: jobs/pipeline/quality/rules/)
* ``codes()``          conf/codes.yaml       code tables
* ``curated()``        conf/curated.yaml     the curated tables' catalogue entries
* ``orchestration()``  conf/orchestration.yaml
* ``maintenance()``    conf/maintenance.yaml
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from jobs.platform.config import ConfigError, Frozen, conf_file, project_dir

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, *, where: str) -> M:
    """``data`` as ``model``, or a ConfigError naming ``where`` (a file, maybe a key in it) and
    each wrong key."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None


def _load(model: type[M], name: str) -> M:
    return validated(model, conf_file(name), where=f"conf/{name}")


# ---------------------------------------------------------------------------- authority.yaml
class EventAuthority(Frozen):
    """An attribute decided by a rule over events (the latest marriage registration), with the
    sources to fall back on where no event decides it."""

    rule: Literal["latest_marriage_event"]
    events: str
    fallback: tuple[str, ...] = ()


class MatchField(Frozen):
    """A field of probabilistic linkage (Fellegi-Sunter): agreement probabilities m and u."""

    m: float = Field(gt=0, lt=1)
    u: float = Field(gt=0, lt=1)


class Probabilistic(Frozen):
    """Probabilistic person linkage: the score threshold and each compared field."""

    threshold: float
    fields: dict[str, MatchField]


class AuthoritySettings(Frozen):
    """conf/authority.yaml: for each entity kind and attribute, its sources, authority first."""

    person: dict[str, tuple[str, ...] | EventAuthority]
    legal_person: dict[str, tuple[str, ...]]
    licence: dict[str, tuple[str, ...]]
    probabilistic: Probabilistic

    def order(self, kind: Literal["person", "legal_person", "licence"]) -> dict[str, list[str]]:
        """Each attribute's sources in order, an event rule's fallbacks for its attribute."""
        return {a: list(sources_of(spec)) for a, spec in getattr(self, kind).items()}

    def spec(self, kind: str, attribute: str) -> tuple[str, ...] | EventAuthority | None:
        """The entry of one attribute as written (None when the file has none)."""
        return getattr(self, kind, {}).get(attribute) if kind in _KINDS else None


_KINDS = ("person", "legal_person", "licence")


def sources_of(spec: tuple[str, ...] | EventAuthority) -> tuple[str, ...]:
    """The sources of one authority entry, in order; an event rule's event source first."""
    if isinstance(spec, EventAuthority):
        return (spec.events, *spec.fallback)
    return tuple(spec)


def fallback_of(spec: tuple[str, ...] | EventAuthority) -> tuple[str, ...]:
    """The sources that decide an attribute by plain order (an event rule's fallbacks)."""
    return spec.fallback if isinstance(spec, EventAuthority) else tuple(spec)


# --------------------------------------------------------------------------- references.yaml
class SexSpec(Frozen):
    """A reference's sex: a delivered column read through a code table, or a fixed value."""

    column: str | None = None
    table: str | None = None
    value: str | None = None


class BirthSpec(Frozen):
    """A reference's birth date (or month) column and its formats."""

    column: str
    formats: tuple[str, ...]
    precision: Literal["day", "month"] = "day"


class PersonReference(Frozen):
    """Where a source names a person: the role, ID, name, sex and birth columns."""

    role: str
    id: str
    name: str
    sex: SexSpec | None = None
    birth: BirthSpec | None = None
    when: dict[str, str] | None = None  # only rows whose columns hold these values


class ReferenceSettings(Frozen):
    """conf/references.yaml: each source's person references."""

    persons: dict[str, tuple[PersonReference, ...]]


# ------------------------------------------------------------------------------ quality.yaml
class Bands(Frozen):
    """The report's colour bands: a score at or above ``good`` is good, at or above ``fair``
    fair."""

    good: float = 98
    fair: float = 90


class QualitySettings(Frozen):
    """conf/quality.yaml: dimension weights, the report's bands and each rule's section."""

    weights: dict[str, float]
    uniqueness_in: str = "accuracy"
    bands: Bands = Field(default_factory=Bands)
    # days a department has to rectify a finding, from the date it is first seen, by the
    # severity of its rule (the workbench's due dates and overdue counts)
    due_days: dict[Literal["high", "medium", "low"], int] = Field(
        default_factory=lambda: {"high": 15, "medium": 30, "low": 60}
    )
    rules: dict[str, dict[str, Any]]


# ----------------------------------------------------------------------------- the others
class CuratedResource(Frozen):
    """A curated table's catalogue entry (政务数据资源目录)."""

    resource_code: str
    name: str
    share_type: str
    open_type: str


class CuratedSettings(Frozen):
    """conf/curated.yaml: the provider of the curated tables and each table's entry."""

    provider: str
    department_id: str
    department: str
    system: str
    update_cycle: str
    resources: dict[str, CuratedResource]


class OrchestrationSettings(Frozen):
    """conf/orchestration.yaml: the go-live business date and the tasks' retries."""

    start_date: dt.date
    retries: int = Field(3, ge=0)
    retry_delay_seconds: float = Field(120, gt=0)
    max_retry_delay_minutes: float = Field(30, gt=0)


class MaintenanceSettings(Frozen):
    """conf/maintenance.yaml: how many days of as-of reads maintenance keeps, and when the
    Airflow DAG ``govlake_maintain`` runs it (cron, Beijing time)."""

    keep_as_of_days: int = Field(400, gt=0)
    schedule: str = Field("0 3 * * 0", pattern=r"^\S+( \S+){4}$")


class CodeSettings(Frozen):
    """conf/codes.yaml: code tables (delivered code → canonical code) and code categories."""

    model_config = Frozen.model_config | {"extra": "allow"}  # one key per code table

    marital_category: dict[str, str]

    def table(self, name: str) -> dict[str, str]:
        """One code table, its codes and values as strings."""
        raw = (self.model_extra or {}).get(name)
        if not isinstance(raw, dict):
            raise ConfigError(f"conf/codes.yaml: no code table {name!r}")
        return {str(a): str(b) for a, b in raw.items()}


@lru_cache(maxsize=8)
def _cached(name: str, root) -> BaseModel:
    model = {
        "authority.yaml": AuthoritySettings,
        "references.yaml": ReferenceSettings,
        "quality.yaml": QualitySettings,
        "curated.yaml": CuratedSettings,
        "orchestration.yaml": OrchestrationSettings,
        "maintenance.yaml": MaintenanceSettings,
        "codes.yaml": CodeSettings,
    }[name]
    return _load(model, name)


def authority() -> AuthoritySettings:
    """conf/authority.yaml, loaded once."""
    return _cached("authority.yaml", project_dir())


def references() -> ReferenceSettings:
    """conf/references.yaml, loaded once."""
    return _cached("references.yaml", project_dir())


def quality() -> QualitySettings:
    """conf/quality.yaml, loaded once."""
    return _cached("quality.yaml", project_dir())


def curated() -> CuratedSettings:
    """conf/curated.yaml, loaded once."""
    return _cached("curated.yaml", project_dir())


def orchestration() -> OrchestrationSettings:
    """conf/orchestration.yaml, loaded once."""
    return _cached("orchestration.yaml", project_dir())


def maintenance() -> MaintenanceSettings:
    """conf/maintenance.yaml, loaded once."""
    return _cached("maintenance.yaml", project_dir())


def codes() -> CodeSettings:
    """conf/codes.yaml, loaded once."""
    return _cached("codes.yaml", project_dir())
