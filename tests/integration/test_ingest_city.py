"""A generated city ingested by `govlake run`, checked against the generator's ground truth.

One test per kind of fault in spec/extracts.md "What can go wrong" (parametrised), plus
conservation, corrections, idempotence and lineage.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.pipeline.ingest.bronze import ConservationError, check_conservation, ingest_source
from samplecity.deliver import FILE_FAULTS, PARSE_FAULTS, ROW_VALUE_FAULTS


@pytest.fixture(scope="module")
def truth(city):
    files = pd.read_csv(city / "_truth" / "files.csv", dtype=str, keep_default_na=False)
    faults = pd.read_csv(city / "_truth" / "row_faults.csv", dtype=str, keep_default_na=False)
    return files, faults


@pytest.fixture(scope="module")
def audit(city_lake):
    lake = city_lake
    return lake.read("audit.deliveries").toPandas()


@pytest.fixture(scope="module")
def quarantine_rows(city_lake):
    lake = city_lake
    return {(r["_file"], r["_row_number"]): r for r in lake.read("quarantine.rows").collect()}


def test_every_delivered_file_is_accounted_for_as_the_truth_says(truth, audit):
    files, _ = truth
    got = audit.set_index("file")
    assert set(got.index) == set(files["file"])
    for f in files.itertuples():
        a = got.loc[f.file]
        assert (a.status, a.reason_code or "") == (f.expected_status, f.expected_reason), f.file
        if f.expected_status == "accepted":
            assert (a.rows_accepted, a.rows_quarantined) == (
                int(f.expected_bronze_rows),
                int(f.expected_quarantined_rows),
            ), f.file


def test_conservation_manifest_rows_equal_bronze_plus_quarantine(city_lake, audit):
    lake = city_lake
    counts: dict = {}
    for table in [f"bronze.{s}" for s in audit["source_id"].unique()] + ["quarantine.rows"]:
        if lake.exists(table):
            for r in lake.read(table).groupBy("_file").count().collect():
                counts[r["_file"]] = counts.get(r["_file"], 0) + r["count"]
    accepted = audit[audit["status"] == "accepted"]
    assert len(accepted) > 20
    for a in accepted.itertuples():
        assert counts.get(a.file, 0) == a.manifest_rows, a.file
    assert not set(counts) - set(accepted["file"])  # nothing from a rejected or superseded file


@pytest.mark.parametrize("fault", FILE_FAULTS)
def test_file_fault(fault, truth, audit, city_lake):
    """Each file-level fault of the spec: rejected with its reason, or accepted and reported."""
    files, _ = truth
    lake = city_lake
    hit = files[files["file_fault"] == fault]
    assert len(hit), f"the sample city has no {fault}"
    got = audit.set_index("file")
    qfiles = {(r["file"], r["reason_code"]) for r in lake.read("quarantine.files").collect()}
    for f in hit.itertuples():
        assert got.loc[f.file, "status"] == f.expected_status
        if f.expected_status == "rejected":
            assert (f.file, f.expected_reason) in qfiles
    if fault == "header_extra_column":
        f = hit[hit["expected_status"] == "accepted"].iloc[0]
        assert got.loc[f.file, "extra_columns"] in ("备注", "BZ")
        if int(f.manifest_rows) > int(f.expected_quarantined_rows):
            src = f.source_id
            extra = (
                lake.read(f"bronze.{src}")
                .filter(F.col("_file") == f.file)
                .select("_extra")
                .first()[0]
            )
            assert "核查" in extra  # the extra column's values are kept, not lost
    if fault in ("header_reordered", "header_renamed"):
        assert set(got.loc[hit["file"], "status"]) <= {"accepted", "superseded"}


@pytest.mark.parametrize("fault", [f for f in PARSE_FAULTS] + ["truncated_last_line"])
def test_unparsable_rows_go_to_quarantine_with_reason_and_raw(fault, truth, audit, quarantine_rows):
    _, faults = truth
    accepted = set(audit.loc[audit["status"] == "accepted", "file"])
    hit = faults[(faults["fault"] == fault) & faults["file"].isin(accepted)]
    assert len(hit), f"the sample city has no {fault} in an accepted file"
    for f in hit.itertuples():
        q = quarantine_rows[(f.file, int(f.row_number))]
        assert q["reason_code"] in ("field_count_mismatch", "encoding_error", "malformed_record")
        assert q["raw"] and q["reason"]


@pytest.mark.parametrize("fault", ROW_VALUE_FAULTS)
def test_value_faults_are_kept_in_bronze_as_delivered(fault, truth, audit, city_lake):
    """Value-level problems are not ingestion rejections: the row is in bronze as delivered."""
    _, faults = truth
    lake = city_lake
    accepted = set(audit.loc[audit["status"] == "accepted", "file"])
    hit = faults[(faults["fault"] == fault) & faults["file"].isin(accepted)].head(20)
    assert len(hit), f"the sample city has no {fault}"
    for src, group in hit.groupby("source_id"):
        bronze = lake.read(f"bronze.{src}").filter(F.col("_file").isin(list(group["file"])))
        rows = {(r["_file"], r["_row_number"]): r.asDict() for r in bronze.collect()}
        for f in group.itertuples():
            row = rows[(f.file, int(f.row_number))]
            if f.column:
                assert row[f.column] == (f.delivered_value or None), (
                    f.file,
                    f.row_number,
                    f.column,
                )
    if fault == "duplicate_row":
        f = hit.iloc[0]
        twin = lake.read(f"bronze.{f.source_id}").filter(F.col("_file") == f.file)
        hashes = twin.groupBy("_row_hash").count().filter("count > 1").count()
        assert hashes >= 1  # both copies are there, recognisable by their row hash


def test_a_correction_replaces_the_earlier_delivery(truth, city_lake):
    files, _ = truth
    lake = city_lake
    superseded = files[files["expected_status"] == "superseded"]
    assert len(superseded)
    for src, group in superseded.groupby("source_id"):
        date = group["business_date"].iloc[0]
        batches = {
            r["_batch_id"]
            for r in lake.read(f"bronze.{src}")
            .filter(F.col("_business_date") == dt.date.fromisoformat(date))
            .select("_batch_id")
            .distinct()
            .collect()
        }
        latest = files[
            (files["source_id"] == src)
            & (files["business_date"] == date)
            & (files["expected_status"] != "superseded")
        ]["delivery"].unique()
        assert all(b.endswith(tuple(latest)) for b in batches)
        assert (
            not lake.read(f"bronze.{src}").filter(F.col("_file").isin(list(group["file"]))).count()
        )


def test_rerunning_a_date_gives_identical_tables(city, city_lake):
    lake = city_lake
    date = dt.date(2026, 11, 3)

    def snapshot():
        b = lake.read("bronze.gaj_hjrk").filter(F.col("_business_date") == date)
        q = lake.read("quarantine.rows").filter(
            (F.col("_business_date") == date) & (F.col("_source_id") == "gaj_hjrk")
        )
        return (
            sorted(
                (r["_file"], r["_row_number"], r["_row_hash"], r["_batch_id"]) for r in b.collect()
            ),
            sorted((r["_file"], r["_row_number"], r["raw"]) for r in q.collect()),
        )

    before = snapshot()
    version = lake.version("bronze.gaj_hjrk")
    ingest_source(lake, city, source_id="gaj_hjrk", business_date=date)
    assert lake.version("bronze.gaj_hjrk") == version + 1
    assert snapshot() == before


def test_conservation_failure_names_the_file(city, city_lake, spark):
    lake = city_lake
    date = dt.date(2026, 11, 4)
    result = ingest_source(lake, city, source_id="wjw_swzm", business_date=date)
    accepted = [f.file for f in result.files if f.status == "accepted"]
    stray = lake.read("bronze.wjw_swzm").filter(F.col("_business_date") == date).limit(1)
    if stray.count() == 0:
        pytest.skip("no death reported that day")
    lake.append(stray, "bronze.wjw_swzm")  # a row the manifest does not know about
    with pytest.raises(ConservationError, match=accepted[0]):
        check_conservation(lake, result)
    ingest_source(
        lake, city, source_id="wjw_swzm", business_date=date
    )  # the date's slice is rebuilt and reconciles


def test_ingestion_is_recorded_in_lineage(city_lake):
    lake = city_lake
    runs = lake.read("lineage.runs").filter(F.col("job") == "ingest.gaj_hjrk").collect()
    assert len(runs) >= 3 and all(r["status"] == "success" for r in runs)
    edges = (
        lake.read("lineage.table_edges")
        .filter(F.col("target_table") == "bronze.gaj_hjrk")
        .collect()
    )
    assert {e["source_table"] for e in edges} == {"landing.gaj_hjrk"}
    assert all(e["target_version"] is not None for e in edges)


def test_bronze_has_the_contract_columns(city_lake):
    lake = city_lake
    cols = set(lake.read("bronze.mzj_hydj").columns)
    assert {
        "_source_id",
        "_business_date",
        "_batch_id",
        "_file",
        "_row_number",
        "_row_hash",
        "_ingested_at",
        "reg_type",
        "male_id_number",
    } <= cols
    q = set(lake.read("quarantine.rows").columns)
    assert q == {
        "_source_id",
        "_business_date",
        "_batch_id",
        "_file",
        "_row_number",
        "raw",
        "reason_code",
        "reason",
    }
    assert {"source_id", "business_date", "file", "reason_code", "reason", "detected_at"} <= set(
        lake.read("quarantine.files").columns
    )
