"""The report's Data Docs show the report date's validations only (jobs/serving/report/datadocs.py):
the store keeps every date's, and rendering them all grows with the lake's age."""

from __future__ import annotations

from jobs.serving.report.datadocs import _validations_of


def test_the_latest_validation_of_each_suite_on_the_date_is_chosen(tmp_path):
    store = tmp_path / "validations"
    files = {
        ("bronze", "gaj_hjrk", "2026-11-03", "20261203T010000Z", "b.json"),
        ("bronze", "gaj_hjrk", "2026-11-04", "20261204T010000Z", "b.json"),
        ("bronze", "gaj_hjrk", "2026-11-04", "20261205T090000Z", "b.json"),  # a rerun
        ("silver", "person", "2026-11-04", "20261204T010000Z", "s.json"),
        ("silver", "person", "2026-11-05", "20261205T010000Z", "s.json"),
        ("gold", "person_profile", "2026-11-03", "20261203T010000Z", "g.json"),
    }
    for parts in files:
        path = store.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (store / ".ge_store_backend_id").write_text("store_backend_id = x\n")
    chosen = {p.relative_to(store).parts for p in _validations_of(store, "2026-11-04")}
    assert chosen == {
        ("bronze", "gaj_hjrk", "2026-11-04", "20261205T090000Z", "b.json"),
        ("silver", "person", "2026-11-04", "20261204T010000Z", "s.json"),
        (".ge_store_backend_id",),
    }
    assert _validations_of(store, "2026-10-01") == [store / ".ge_store_backend_id"]
