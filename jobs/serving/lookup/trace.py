"""`govlake trace`: where the current value of one attribute came from (一数一源, 谁提供谁负责).

For a person, a legal person or a licence it names the authoritative source, the delivered
file, row number, business date and batch of the record the value was taken from, and the
values every other source delivered for the same attribute. It reads the lake with delta-rs
(no Spark): the base library row, its link table (which records of which files refer to the
entity) and the bronze records themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from jobs.pipeline.catalog.build import authorities, items_collected
from jobs.platform import publication, settings
from jobs.platform.config import catalog
from jobs.platform.delta import query, read_table
from jobs.platform.policy import Grant, mask_value
from jobs.platform.settings import sources_of
from jobs.serving.sql.views import literal

KINDS = {
    "person": ("silver.person", "person_id", "silver.person_link", "person_id"),
    "legal-person": ("silver.legal_person", "uscc", "silver.legal_person_link", "uscc"),
    "licence": ("silver.licence", "licence_uid", None, None),
}
_INTERNAL = {"_row_hash", "_changed_on"}


@dataclass
class Delivered:
    """One delivered record's value for the attribute."""

    source_id: str
    column: str
    value: object
    file: str
    row_number: int
    business_date: dt.date
    batch_id: str | None
    role: str | None = None


@dataclass
class Trace:
    table: str
    key: str
    attribute: str
    value: object
    version: int
    chosen_source: str | None  # <attribute>_source where the library records it
    authority: list[str]  # the sources in authority order (conf/authority.yaml)
    records: list[Delivered] = field(default_factory=list)


class TraceError(LookupError):
    """Nothing to trace (unknown entity or attribute); the message says which."""


def trace(
    root: Path, kind: str, *, key: str, attribute: str, as_of: dt.date | None = None
) -> Trace:
    """Trace ``attribute`` of the entity ``key`` of ``kind`` (person, legal-person, licence)."""
    table, key_col, link_table, link_key = KINDS[kind]
    key = key.strip().upper()
    pub = publication.current(root, as_of)  # readers see what is published (for as_of)
    version = _pinned(pub, table)
    rows = query(
        root, {"t": (table, version)}, sql=f"SELECT * FROM t WHERE {key_col} = {literal(key)}"
    )
    if not rows:
        raise TraceError(f"no {kind} {key} in {table}" + (f" as of {as_of}" if as_of else ""))
    row = rows[0]
    if attribute not in row or attribute in _INTERNAL or attribute.endswith("_source"):
        names = [c for c in row if c not in _INTERNAL and not c.endswith("_source")]
        raise TraceError(f"{table} has no attribute {attribute!r}; one of: {', '.join(names)}")
    entity = "legal_person" if kind == "legal-person" else kind
    result = Trace(
        table, key, attribute, row[attribute], version,
        row.get(f"{attribute}_source") or row.get("licence_source"),
        _authority_order(entity, attribute),
    )  # fmt: skip
    if link_table is None:
        result.records = _licence_records(root, pub, key, attribute)
    else:
        result.records = _linked_records(root, pub, entity, attribute, link_table, link_key, key)
    return result


def _pinned(pub: publication.Publication, table: str) -> int:
    version = pub.version(table)
    if version is None:
        raise TraceError(f"{table} is not published for {pub.business_date}")
    return version


def _authority_order(entity: str, attribute: str) -> list[str]:
    spec = settings.authority().spec(entity, attribute)
    if spec is None:
        auth = authorities().get(f"{entity}.{attribute}")
        return [auth] if auth else []
    return list(sources_of(spec))


def _column_for(entity: str, attribute: str, source: str, role: str) -> str | None:
    """The delivered field of ``source`` carrying ``attribute`` for the entity in ``role``."""
    item = f"{entity}.{attribute}"
    carried = [c for (s, c), items in items_collected().items() if s == source and item in items]
    if not carried or entity != "person":
        return carried[0] if carried else None  # a registry's columns describe its entity
    refs = settings.references().persons.get(source, ())
    ref = next((r for r in refs if r.role == role), None)
    if ref is not None:
        mine = {
            ref.id,
            ref.name,
            ref.sex.column if ref.sex else None,
            ref.birth.column if ref.birth else None,
        }
        for column in carried:
            if column in mine:
                return column
    # other columns of a record describe the person it is about (its `subject`)
    return carried[0] if role == "subject" else None


def _linked_records(root, pub, entity, attribute, link_table, link_key, key):
    links = query(
        root,
        {"l": (link_table, _pinned(pub, link_table))},
        sql=f"SELECT * FROM l WHERE {link_key} = {literal(key)} ORDER BY source_id, _business_date",
    )
    records = []
    for link in links:
        source = link["source_id"]
        column = _column_for(entity, attribute, source, link["role"])
        if column is None:
            continue
        bronze = query(
            root,
            {"b": (f"bronze.{source}", _pinned(pub, f"bronze.{source}"))},
            sql=f'SELECT "{column}" AS v, _batch_id FROM b WHERE _business_date = '
            f"DATE {literal(link['_business_date'])} AND _file = {literal(link['_file'])} "
            f"AND _row_number = {int(link['_row_number'])}",
        )
        for b in bronze:
            records.append(
                Delivered(
                    source, column, b["v"], link["_file"], link["_row_number"],
                    link["_business_date"], b["_batch_id"], link["role"],
                )
            )  # fmt: skip
    return records


def _licence_records(
    root: Path, pub: publication.Publication, licence_uid: str, attribute: str
) -> list[Delivered]:
    """The platform's records of the licence, with the fields the attribute is derived from
    (found in lineage.column_edges)."""
    edges = read_table(root / "lineage" / "column_edges", pub.version("lineage.column_edges"))
    edges = edges.to_pylist()
    columns = sorted(
        {
            e["source_column"]
            for e in edges
            if e["target_table"] == "silver.licence"
            and e["target_column"] == attribute
            and e["source_table"] == "bronze.zwfw_dzzz"
        }
    ) or ["licence_uid"]
    rows = query(
        root,
        {"b": ("bronze.zwfw_dzzz", _pinned(pub, "bronze.zwfw_dzzz"))},
        sql=f"SELECT * FROM b WHERE upper(trim(licence_uid)) = {literal(licence_uid)} "
        "ORDER BY _business_date",
    )
    return [
        Delivered(
            "zwfw_dzzz", column, r[column], r["_file"], r["_row_number"], r["_business_date"],
            r["_batch_id"],
        )
        for r in rows
        for column in columns
    ]  # fmt: skip


def trace_masks(t: Trace, reader: Grant):
    """(key mask, value mask): the entity's key and the attribute's values (the library's and
    every delivered one) as ``reader`` may see them, by the one policy (jobs/platform/policy.py)."""

    def masker(column: str):
        def shown(value):
            if value is None:
                return value
            masked = mask_value(t.table, column, value=value, reader=reader)
            return "(hidden)" if masked is None else masked

        return shown

    return masker(KINDS[_kind_of(t.table)][1]), masker(t.attribute)


def _kind_of(table: str) -> str:
    return next(k for k, v in KINDS.items() if v[0] == table)


def render(t: Trace, *, mask=None, key_mask=None) -> str:
    """The trace as text; ``mask`` and ``key_mask`` (value → shown) hide what must not show."""
    show = mask or (lambda v: v)
    show_key = key_mask or (lambda v: v)
    names = {s: f"{e.resource_name} ({e.provider})" for s, e in catalog().items()}
    lines = [
        f"{t.table} {show_key(t.key)}  {t.attribute} = {show(t.value)}   "
        f"(Delta version {t.version})",
        "authority (一数一源): "
        + (" > ".join(t.authority) if t.authority else "(none: derived)")
        + "   conf/authority.yaml",
    ]
    if t.chosen_source:
        lines.append(f"value taken from: {t.chosen_source} {names.get(t.chosen_source, '')}")
    taken = [r for r in t.records if r.source_id == t.chosen_source] or [
        r for r in t.records if t.authority and r.source_id == t.authority[0]
    ]
    others = [r for r in t.records if r not in taken]
    for title, group in (("delivered by it:", taken), ("other sources:", others)):
        if not group:
            continue
        lines.append(title)
        for r in sorted(group, key=lambda r: (r.source_id, r.business_date, r.file, r.row_number)):
            role = f" ({r.role})" if r.role and r.role != "subject" else ""
            lines.append(
                f"  {r.source_id}{role}.{r.column} = {show(r.value)}   file {r.file} row "
                f"{r.row_number}, business date {r.business_date}, batch {r.batch_id}"
            )
    if not t.records:
        lines.append("no delivered record of this entity carries the attribute (a derived value)")
    return "\n".join(lines) + "\n"
