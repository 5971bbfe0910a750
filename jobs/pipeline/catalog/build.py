"""The data catalogue (政务数据目录, 目录—数据—系统) built from conf/ and schemas/, never by hand.

* ``catalog.resources``: every source (conf/catalog/) and every curated table (conf/curated.yaml)
  with provider, share and open type, update cycle, classification and source system.
* ``catalog.fields``: every delivered field (schemas/extracts/) and every curated column
  (the lake's own schema, nested fields as paths) with its type, sensitivity, standard and
  whether the resource is the authority of the data item it carries (一数一源).
* ``catalog.collections``: each data item with its authority and every source that collects it;
  an item collected by more than one source is 重复采集.

Which data item a delivered field carries is derived from the settings the base libraries are
built with: conf/references.yaml (the number, name, sex and birth of each person reference),
conf/authority.yaml (each attribute's sources, by column name) and each schema's entity keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deltalake import DeltaTable

from jobs.platform import settings
from jobs.platform.config import catalog, extract_schemas
from jobs.platform.delta import leaf_fields
from jobs.platform.policy import LEVELS, access_conf, column_rules
from jobs.platform.settings import sources_of

# Pseudo-sources of conf/authority.yaml that are not departments' deliveries.
_DERIVED = {"id_number"}


def items_collected() -> dict[tuple[str, str], list[str]]:
    """{(source_id, column): data items it carries}, e.g. ("rsj_sbcb", "name") → ["person.name"]."""
    schemas = extract_schemas()
    carried: dict[tuple[str, str], list[str]] = {}

    def add(source: str, column: str, item: str) -> None:
        if source in schemas and column in schemas[source].column_names:
            items = carried.setdefault((source, column), [])
            if item not in items:
                items.append(item)

    for source, refs in settings.references().persons.items():
        for ref in refs:
            add(source, ref.id, "person.id_number")
            if ref.name:
                add(source, ref.name, "person.name")
            if ref.sex is not None and ref.sex.column:
                add(source, ref.sex.column, "person.sex")
            if ref.birth:
                add(source, ref.birth.column, "person.birth_date")
    # A source's own columns describe the entity its rows are about: a person (a `subject`
    # reference) or a legal person (a credit code as entity key). Other sources name persons
    # only through their references above (a registry's `name` is the enterprise's).
    entity_of = {
        source: "person"
        for source, refs in settings.references().persons.items()
        if any(r.role == "subject" for r in refs)
    }
    for source, schema in schemas.items():
        for key in schema.entity_keys:
            if next(c.parser for c in schema.columns if c.column == key) == "uscc":
                entity_of[source] = "legal_person"
                add(source, key, "legal_person.uscc")
    for kind, attributes in _authority().items():
        for attribute, spec in attributes.items():
            for source in sources_of(spec):
                if entity_of.get(source) == kind:
                    add(source, attribute, f"{kind}.{attribute}")
    return carried


def _authority() -> dict[str, dict]:
    """The person and legal-person entries of conf/authority.yaml, as written."""
    conf = settings.authority()
    return {"person": conf.person, "legal_person": conf.legal_person}


def authorities() -> dict[str, str]:
    """{data item: its authoritative source}: the first delivering source of its list.

    An entity's key (person.id_number, legal_person.uscc) has the authority of its name.
    """
    out = {}
    for kind, attributes in _authority().items():
        for attribute, spec in attributes.items():
            sources = [s for s in sources_of(spec) if s not in _DERIVED]
            if sources:
                out[f"{kind}.{attribute}"] = sources[0]
    out["person.id_number"] = out["person.name"]
    out["legal_person.uscc"] = out["legal_person.name"]
    return out


@dataclass(frozen=True)
class Catalogue:
    """The catalogue's rows: resources, fields and data items collected by several sources."""

    resources: list[dict]
    fields: list[dict]
    collections: list[dict]


def build_catalogue(
    lake_root: str | Path, declared: dict[str, list[tuple[str, str]]] | None = None
) -> Catalogue:
    """The three catalogue tables as rows, for the sources onboarded and the lake's tables.

    ``declared`` gives the (column, type) of tables being written with the catalogue itself,
    which the lake may not hold yet.
    """
    resources, fields = _source_entries()
    curated_resources, curated_fields = _curated_entries(Path(lake_root), declared or {})
    return Catalogue(resources + curated_resources, fields + curated_fields, _collections())


def _source_entries() -> tuple[list[dict], list[dict]]:
    schemas, entries = extract_schemas(), catalog()
    carried, authority = items_collected(), authorities()
    resources, fields = [], []
    for source_id, entry in sorted(entries.items()):
        resources.append(
            {
                "resource_code": entry.resource_code,
                "name": entry.resource_name,
                "provider": entry.provider,
                "department": entry.department,
                "source_id": source_id,
                "table_name": f"bronze.{source_id}",
                "kind": "source",
                "share_type": entry.share_type,
                "open_type": entry.open_type,
                "update_cycle": entry.update_cycle,
                "classification": entry.classification,
                "system": entry.system,
            }
        )
        for col in schemas[source_id].columns:
            items = carried.get((source_id, col.column), [])
            fields.append(
                {
                    "resource_code": entry.resource_code,
                    "field": col.header,
                    "column_name": col.column,
                    "label": col.label or col.header,
                    "type": col.parser,
                    "sensitivity": col.sensitivity,
                    "standard": col.standard,
                    "data_items": items,
                    "authoritative": any(authority.get(i) == source_id for i in items),
                }
            )
    return resources, fields


def _table_leaves(root: Path, table: str, declared) -> list[tuple[str, str]] | None:
    if table in declared:
        return declared[table]
    path = root / table.replace(".", "/")
    if not DeltaTable.is_deltatable(str(path)):
        return None  # not built yet
    return leaf_fields(DeltaTable(str(path)).schema())


def _curated_entries(root: Path, declared) -> tuple[list[dict], list[dict]]:
    conf = settings.curated()
    schemas = extract_schemas()
    standards = {f"{s}.{c.column}": c.standard for s, sc in schemas.items() for c in sc.columns}
    items = access_conf().items
    resources, fields = [], []
    for table, res in sorted(conf.resources.items()):
        leaves = _table_leaves(root, table, declared)
        if leaves is None:
            continue
        rules = column_rules(table)
        by_path = access_conf().columns.get(table, {})
        levels = ["L1"]
        for leaf, kind in leaves:
            rule = rules.get(leaf)
            level = rule.level if rule else "L1"
            levels.append(level)
            item = items.get(by_path.get(leaf, ""))
            fields.append(
                {
                    "resource_code": res.resource_code,
                    "field": leaf,
                    "column_name": leaf,
                    "label": leaf,
                    "type": kind,
                    "sensitivity": level,
                    "standard": standards.get(item.field) if item and item.field else None,
                    "data_items": [],
                    "authoritative": False,
                }
            )
        resources.append(
            {
                "resource_code": res.resource_code,
                "name": res.name,
                "provider": conf.provider,
                "department": conf.department,
                "source_id": None,
                "table_name": table,
                "kind": "curated",
                "share_type": res.share_type,
                "open_type": res.open_type,
                "update_cycle": conf.update_cycle,
                "classification": max(levels, key=LEVELS.index),
                "system": conf.system,
            }
        )
    return resources, fields


def _collections() -> list[dict]:
    """Each data item: its authority and every source field collecting it (重复采集 if > 1)."""
    by_item: dict[str, list[str]] = {}
    for (source, column), items in sorted(items_collected().items()):
        for item in items:
            by_item.setdefault(item, []).append(f"{source}.{column}")
    authority = authorities()
    rows = []
    for item, collected in sorted(by_item.items()):
        auth = authority.get(item)
        auth_fields = [c for c in collected if c.split(".")[0] == auth]
        rows.append(
            {
                "data_item": item,
                "authoritative_source": auth,
                "authoritative_fields": auth_fields,
                "other_fields": [c for c in collected if c not in auth_fields],
                "sources": len({c.split(".")[0] for c in collected}),
                "duplicated": len({c.split(".")[0] for c in collected}) > 1,
            }
        )
    return rows
