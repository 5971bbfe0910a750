"""Lineage and provenance on the sample city: table and column graphs, traces against the
delivered files themselves."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import unicodedata

import pytest

from jobs.platform.config import extract_schema
from jobs.platform.delta import leaf_fields, read_rows
from jobs.serving.lookup.graph import as_dot, graph
from jobs.serving.lookup.trace import trace


def _leaves(lake, table: str) -> list[str]:
    from deltalake import DeltaTable

    return [path for path, _ in leaf_fields(DeltaTable(lake.path(table)).schema())]


def test_every_silver_and_gold_table_comes_from_bronze(city_lake):
    lake = city_lake
    for table in lake.tables():
        if table.split(".")[0] not in ("silver", "gold"):
            continue
        edges, _ = graph(lake.root, table, direction="upstream")
        assert any(e.source.startswith("bronze.") for e in edges), table
        assert any(e.source.startswith("landing.") for e in edges), table


def test_runs_record_versions_and_code(city_lake):
    lake = city_lake
    runs = read_rows(lake.root / "lineage" / "runs")
    jobs = {r["job"] for r in runs}
    assert {"base.person", "quality.rules", "gold.person_profile", "catalog"} <= jobs
    assert any(j.startswith("ingest.") for j in jobs)
    for r in runs:
        assert r["code_version"] and r["status"] == "success"
        assert all("@" in item for item in r["outputs"].split(",") if item)


def test_every_curated_column_leads_back_to_a_delivered_field_or_a_constant(city_lake):
    lake = city_lake
    edges = {
        (e["target_table"], e["target_column"])
        for e in read_rows(lake.root / "lineage" / "column_edges")
    }
    missing, dangling = [], []
    for table in lake.tables():
        if table.split(".")[0] not in ("silver", "gold"):
            continue
        for column in _leaves(lake, table):
            if (table, column) not in edges:
                missing.append(f"{table}.{column}")
                continue
            up, _ = graph(lake.root, f"{table}.{column}", direction="upstream")
            if not any(e.source.startswith("landing.") or e.source == "(constant)" for e in up):
                dangling.append(f"{table}.{column}")
    assert not missing, f"columns without lineage: {missing}"
    assert not dangling, f"columns not traced to a delivered field: {dangling}"


def test_column_lineage_follows_values_through_the_layers(city_lake):
    lake = city_lake
    up, _ = graph(lake.root, "gold.person_profile.identity.name", direction="upstream")
    sources = {e.source for e in up}
    assert {"silver.person.name", "landing.gaj_hjrk.姓名", "landing.rsj_sbcb.姓名"} <= sources
    assert "landing.gaj_hjrk.户籍地址" not in sources  # the address is not a name's source
    down, _ = graph(lake.root, "bronze.gaj_hjrk.address", direction="downstream")
    assert {"silver.person.address", "gold.person_profile.identity.address"} <= {
        e.target for e in down
    }


def _delivered_row(landing, source_id: str, file: str, row_number: int) -> dict:
    schema = extract_schema(source_id)
    (path,) = landing.glob(f"{source_id}/*/{file}")
    # a row with a broken byte (quarantined) must not stop reading the others
    with path.open(encoding=schema.encoding, errors="replace", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=schema.delimiter))
    return rows[row_number - 1]


def _names_person(delivered: str, person_id: str) -> bool:
    """A delivered ID number that the linker reads as ``person_id`` (silver.person_link):
    the same once standardised, a legacy 15-digit number upgraded, or a number with one
    substituted digit or one adjacent transposition."""
    n = re.sub(r"\s", "", unicodedata.normalize("NFKC", delivered or "")).upper()
    if len(n) == 15:
        return n[:6] + "19" + n[6:] == person_id[:17]
    return len(n) == 18 and sum(a != b for a, b in zip(n, person_id, strict=True)) <= 2


def test_traces_point_at_the_delivered_rows(city_lake, city):
    """The file and row a trace names hold the person and the value (read with csv, not with
    the ingestion code)."""
    lake = city_lake
    persons = [
        p
        for p in read_rows(lake.root / "silver" / "person")
        if p["name_source"] == "gaj_hjrk" and p["address"]
    ][:25]
    assert len(persons) == 25
    header = {c.column: c.header for c in extract_schema("gaj_hjrk").columns}
    for p in persons:
        for attribute in ("name", "address", "birth_date"):
            t = trace(lake.root, "person", key=p["person_id"], attribute=attribute)
            taken = [r for r in t.records if r.source_id == "gaj_hjrk"]
            assert taken, (p["person_id"], attribute)
            latest = max(r.business_date for r in taken)
            rows = [
                (r, _delivered_row(city, "gaj_hjrk", r.file, r.row_number))
                for r in taken
                if r.business_date == latest
            ]
            # every row names the person: exactly once standardised (full-width digits, spaces,
            # a small x), or as the record the linker repaired to them; and holds the value
            for record, row in rows:
                assert _names_person(row[header["id_number"]], p["person_id"]), record
                assert row[header[record.column]].strip() == str(record.value).strip()
        assert t.authority[0] == "gaj_hjrk"


def test_trace_names_competing_sources(city_lake):
    lake = city_lake
    links = read_rows(lake.root / "silver" / "person_link")
    by_person: dict[str, set[str]] = {}
    for link in links:
        if link["person_id"]:
            by_person.setdefault(link["person_id"], set()).add(link["source_id"])
    person = next(p for p, s in by_person.items() if {"gaj_hjrk", "rsj_sbcb"} <= s)
    t = trace(lake.root, "person", key=person, attribute="name")
    assert {"gaj_hjrk", "rsj_sbcb"} <= {r.source_id for r in t.records}
    assert all(r.file and r.row_number and r.batch_id for r in t.records)


@pytest.mark.slow  # slow: CI runs it; test_surfaces.py covers the same commands in process
def test_lineage_and_trace_commands(city_lake):
    lake = city_lake
    cli = [sys.executable, "-m", "jobs.serving.cli"]
    text = subprocess.run(
        [*cli, "lineage", "silver.person.address", "--lake", str(lake.root)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "← bronze.gaj_hjrk.address" in text.stdout and "landing.gaj_hjrk.户籍地址" in text.stdout
    edges, node = graph(lake.root, "bronze.gaj_hjrk", direction="downstream")
    dot = as_dot(edges, node)
    assert dot.startswith("digraph lineage {")
    assert '"bronze.gaj_hjrk" -> "silver.person"' in dot
    person = read_rows(lake.root / "silver" / "person")[0]["person_id"]
    from jobs.platform.policy import pseudonym

    masked = subprocess.run(
        [*cli, "trace", "person", pseudonym(person), "name", "--lake", str(lake.root),
         "--role", "city_analyst"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert masked.returncode == 0, masked.stderr
    assert person not in masked.stdout and pseudonym(person) in masked.stdout
    with pytest.raises(LookupError, match="no attribute"):
        trace(lake.root, "person", key=person, attribute="nosuch")


def _rebuild(event: dict):
    """The event as openlineage-python's classes, whose validators check ids, times, URIs."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent

    return RunEvent(
        eventType=event["eventType"],
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"]),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=event["producer"],
        inputs=[InputDataset(d["namespace"], d["name"]) for d in event.get("inputs", [])],
        outputs=[OutputDataset(d["namespace"], d["name"]) for d in event.get("outputs", [])],
    )


def test_openlineage_events_match_the_lake_lineage(city_lake):
    import json
    import uuid

    from lineage.openlineage import events_file

    lake = city_lake
    events = [json.loads(line) for line in events_file(lake.root).read_text().splitlines()]
    for event in events:
        _rebuild(event)
    by_run: dict[str, list[str]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event["eventType"])
    for run in read_rows(lake.root / "lineage" / "runs"):
        assert by_run[str(uuid.UUID(run["run_id"]))] == ["START", "COMPLETE"], run["job"]
    # the latest COMPLETE event writing each table carries its column_edges as a facet
    latest: dict[str, dict] = {}
    for event in events:
        for out in event.get("outputs", []):
            latest[out["name"]] = out
    edges: dict[str, set] = {}
    for e in read_rows(lake.root / "lineage" / "column_edges"):
        if e["source_table"] != "(constant)":
            edges.setdefault(e["target_table"], set()).add(
                (e["target_column"], e["source_table"], e["source_column"])
            )
    assert {"silver.person", "gold.person_profile", "bronze.gaj_hjrk"} <= set(edges)
    for table, expected in edges.items():
        facet = latest[table]["facets"]["columnLineage"]["fields"]
        got = {
            (column, f["name"], f["field"])
            for column, spec in facet.items()
            for f in spec["inputFields"]
        }
        assert got == expected, table
        assert latest[table]["facets"]["schema"]["fields"], table


def test_the_incremental_profiles_compare_every_field_a_profile_quotes(city_lake):
    """A delivered field whose value reaches gold.person_profile must be among those the
    incremental build compares between two dates (jobs/pipeline/themes/scope.py QUOTED):
    else a change of it alone would leave the profile stale."""
    from jobs.pipeline.themes.scope import QUOTED

    quoted = {(f"bronze.{s}", c) for s, columns in QUOTED.items() for c in columns}
    flows = {
        (e["source_table"], e["source_column"])
        for e in read_rows(city_lake.root / "lineage" / "column_edges")
        if e["target_table"] == "gold.person_profile" and e["source_table"].startswith("bronze.")
    }
    assert flows and flows <= quoted, flows - quoted
