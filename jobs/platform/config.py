"""Settings as data: extract schemas (schemas/extracts) and catalogue entries (conf/catalog).

Everything is loaded once into frozen, validated pydantic objects. The project directory (the
one holding conf/ and schemas/) defaults to the checkout this package lives in; set
``GOVLAKE_PROJECT_DIR`` to point at another, e.g. to onboard a source from files alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def project_dir() -> Path:
    """The directory holding ``conf/`` and ``schemas/``."""
    return Path(os.environ.get("GOVLAKE_PROJECT_DIR", PACKAGE_ROOT)).resolve()


@lru_cache(maxsize=4)
def _settings_digest(root: Path) -> int:
    digest = hashlib.sha256()
    for folder in ("conf", "schemas"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return int(digest.hexdigest()[:15], 16)


def settings_digest() -> int:
    """A number that changes whenever a file of ``conf/`` or ``schemas/`` does: what a build
    that reuses an earlier one's results records and compares (jobs/pipeline/themes/run.py)."""
    return _settings_digest(project_dir())


class Frozen(BaseModel):
    """The base of every settings model: immutable, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ExtractColumn(Frozen):
    """One delivered field: its header as delivered and the canonical bronze column."""

    header: str
    column: str
    parser: str = "text"
    required: bool = False
    sensitivity: Literal["L1", "L2", "L3", "L4"] = "L1"
    standard: str | None = None
    aliases: tuple[str, ...] = ()
    label: str | None = None


class ExtractSchema(Frozen):
    """What one source delivers (spec/extracts.md), read from schemas/extracts/<source_id>.yaml."""

    source_id: str
    format: Literal["csv", "text", "jsonl", "json", "xlsx"]
    encoding: str = "utf-8"
    delimiter: str = ","
    records_key: str = "records"
    count_key: str | None = None
    mode: Literal["full", "incremental"]
    entity_keys: tuple[str, ...] = ()
    columns: tuple[ExtractColumn, ...]

    @field_validator("source_id")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not v.isidentifier() or v.lower() != v:
            raise ValueError(f"source_id {v!r} must be a lower-case identifier")
        return v

    @model_validator(mode="after")
    def _unique(self) -> ExtractSchema:
        names = [c.column for c in self.columns]
        headers = [h for c in self.columns for h in (c.header, *c.aliases)]
        for what, seq in (("column", names), ("header", headers)):
            dup = {x for x in seq if seq.count(x) > 1}
            if dup:
                raise ValueError(f"{self.source_id}: duplicate {what}(s) {sorted(dup)}")
        reserved = [n for n in names if n.startswith("_")]
        if reserved:
            raise ValueError(f"{self.source_id}: column names may not start with '_': {reserved}")
        return self

    @property
    def column_names(self) -> list[str]:
        """The canonical bronze columns, in the schema's order."""
        return [c.column for c in self.columns]

    def header_map(self) -> dict[str, str]:
        """Every accepted header spelling (header and aliases) → canonical column."""
        out: dict[str, str] = {}
        for c in self.columns:
            for h in (c.header, *c.aliases):
                out[h] = c.column
        return out

    @property
    def extension(self) -> str:
        """The file extension of the source's format."""
        return {"csv": "csv", "text": "txt", "jsonl": "jsonl", "json": "json", "xlsx": "xlsx"}[
            self.format
        ]


class DeliverySla(Frozen):
    """Files of business date D are due by ``deadline`` (local time ``tz``) on D + days_after."""

    days_after: int = 1
    deadline: str = "06:00"
    tz: str = "+08:00"

    def due(self, business_date: dt.date) -> dt.datetime:
        """The moment the files of ``business_date`` are due (timezone-aware)."""
        hours, minutes = (int(x) for x in self.deadline.split(":"))
        sign = -1 if self.tz.startswith("-") else 1
        th, tm = (int(x) for x in self.tz.lstrip("+-").split(":"))
        tz = dt.timezone(sign * dt.timedelta(hours=th, minutes=tm))
        day = business_date + dt.timedelta(days=self.days_after)
        return dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=tz)


class CatalogEntry(Frozen):
    """One data resource of the 政务数据目录 (government data catalogue), from conf/catalog/."""

    source_id: str
    provider: str
    department_id: str
    department: str
    resource_code: str
    resource_name: str
    share_type: Literal["无条件共享", "有条件共享", "不予共享"]
    open_type: str
    classification: str
    system: str
    update_cycle: Literal["daily", "weekly", "monthly"] = "daily"
    delivery_sla: DeliverySla = Field(default_factory=DeliverySla)

    def expects(self, business_date: dt.date) -> bool:
        """Whether the source delivers for the business date: a daily source every date, a
        weekly one on Mondays (the business week's start), a monthly one on the 1st."""
        cycle = self.update_cycle
        return cycle == "daily" or (
            business_date.weekday() == 0 if cycle == "weekly" else business_date.day == 1
        )


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message names the file."""


def _load_yaml(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


@lru_cache(maxsize=8)
def _extract_schemas(root: Path) -> dict[str, ExtractSchema]:
    out: dict[str, ExtractSchema] = {}
    for path in sorted((root / "schemas" / "extracts").glob("*.yaml")):
        try:
            schema = ExtractSchema.model_validate(_load_yaml(path))
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from e
        if schema.source_id != path.stem:
            raise ConfigError(f"{path}: source_id {schema.source_id!r} differs from file name")
        out[schema.source_id] = schema
    return out


@lru_cache(maxsize=8)
def _catalog(root: Path) -> dict[str, CatalogEntry]:
    out: dict[str, CatalogEntry] = {}
    for path in sorted((root / "conf" / "catalog").glob("*.yaml")):
        try:
            entry = CatalogEntry.model_validate(_load_yaml(path))
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from e
        out[entry.source_id] = entry
    return out


class CuratedColumn(Frozen):
    """One declared column of a curated table: its name and Spark type (``string``, ``date``...)."""

    name: str
    type: str


class CuratedSchema(Frozen):
    """The declared columns of a curated table (schemas/curated/<layer.table>.yaml)."""

    table: str
    columns: tuple[CuratedColumn, ...]


@lru_cache(maxsize=8)
def _curated_schemas(root: Path) -> dict[str, CuratedSchema]:
    out: dict[str, CuratedSchema] = {}
    for path in sorted((root / "schemas" / "curated").glob("*.yaml")):
        try:
            schema = CuratedSchema.model_validate(_load_yaml(path))
        except ValueError as e:
            raise ConfigError(f"{path}: {e}") from e
        if schema.table != path.stem:
            raise ConfigError(f"{path}: table {schema.table!r} differs from file name")
        out[schema.table] = schema
    return out


def curated_schemas() -> dict[str, CuratedSchema]:
    """The declared curated tables' columns, by ``layer.table``."""
    return _curated_schemas(project_dir())


def extract_schemas() -> dict[str, ExtractSchema]:
    """All onboarded sources' extract schemas, by source_id."""
    schemas = _extract_schemas(project_dir())
    missing = sorted(set(schemas) - set(_catalog(project_dir())))
    if missing:
        raise ConfigError(f"sources without a catalogue entry in conf/catalog/: {missing}")
    return schemas


def extract_schema(source_id: str) -> ExtractSchema:
    """The extract schema of one source; a ConfigError names an unknown source."""
    try:
        return extract_schemas()[source_id]
    except KeyError:
        raise ConfigError(
            f"unknown source {source_id!r}: no schemas/extracts/{source_id}.yaml"
        ) from None


def catalog() -> dict[str, CatalogEntry]:
    """The catalogue entries of all sources, by source_id."""
    return _catalog(project_dir())


@lru_cache(maxsize=16)
def _conf_file(root: Path, name: str) -> dict:
    return _load_yaml(root / "conf" / name)


class IngestLimits(Frozen):
    """Bounds on what ingestion reads from the landing zone (conf/ingest.yaml): each has a
    reason code of its own (docs/decisions.md, docs/security.md)."""

    max_file_bytes: int = Field(4 << 30, gt=0)
    max_manifest_bytes: int = Field(64 << 10, gt=0)
    max_record_chars: int = Field(1 << 20, gt=0)
    max_field_chars: int = Field(64 << 10, gt=0)
    max_columns: int = Field(256, gt=0)
    max_json_depth: int = Field(16, gt=1)
    max_xlsx_uncompressed_bytes: int = Field(4 << 30, gt=0)
    max_xlsx_compression_ratio: int = Field(200, gt=1)
    max_xlsx_parts: int = Field(1000, gt=0)


class IngestParallel(Frozen):
    """How many processes read and stage a date's files (conf/ingest.yaml ``parallel``)."""

    workers: int = Field(0, ge=0)  # 0: one per core
    # a date whose delivered files add up to less is read in the run's own process (starting
    # the workers would cost more than it saves)
    min_bytes: int = Field(64 << 20, ge=0)


class IngestSettings(Frozen):
    """conf/ingest.yaml."""

    limits: IngestLimits = Field(default_factory=IngestLimits)
    parallel: IngestParallel = Field(default_factory=IngestParallel)


@lru_cache(maxsize=8)
def _ingest_settings(root: Path) -> IngestSettings:
    path = root / "conf" / "ingest.yaml"
    if not path.exists():
        return IngestSettings()
    try:
        return IngestSettings.model_validate(_load_yaml(path))
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from e


def ingest_limits() -> IngestLimits:
    """The parser bounds of conf/ingest.yaml, loaded once."""
    return _ingest_settings(project_dir()).limits


def ingest_parallel() -> IngestParallel:
    """The ``parallel`` section of conf/ingest.yaml, loaded once."""
    return _ingest_settings(project_dir()).parallel


def delivery_due(source_id: str, business_date: dt.date) -> dt.datetime:
    """When the source's delivery for the date is due (its catalogue entry's SLA)."""
    return catalog()[source_id].delivery_sla.due(business_date)


def conf_file(name: str) -> dict:
    """A settings file of conf/ (codes.yaml, references.yaml, authority.yaml...), loaded once."""
    return _conf_file(project_dir(), name)
