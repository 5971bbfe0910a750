"""The user's path, as slow tests: `python -m samplecity` then `govlake run` on a mid-sized city."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.slow


def test_generate_and_run_a_city_of_twenty_thousand(cli_city):
    landing, lake, run = cli_city
    assert run.returncode == 0, run.stderr
    for date in ("2026-11-02", "2026-11-03", "2026-11-04"):
        assert f"== {date} bronze" in run.stdout

    truth = pd.read_csv(landing / "_truth" / "files.csv", keep_default_na=False)
    audit = DeltaTable(str(lake / "audit" / "deliveries")).to_pandas().set_index("file")
    assert set(audit.index) == set(truth["file"])
    for f in truth.itertuples():
        a = audit.loc[f.file]
        assert (a.status, a.reason_code or "") == (f.expected_status, f.expected_reason), f.file
        if f.expected_status == "accepted":
            assert (
                a.rows_accepted == f.expected_bronze_rows
                and a.rows_quarantined == f.expected_quarantined_rows
            )

    # the first date's population snapshot arrived whole and reconciles
    hjrk = DeltaTable(str(lake / "bronze" / "gaj_hjrk")).to_pandas()
    first = truth[(truth.source_id == "gaj_hjrk") & (truth.business_date == "2026-11-02")]
    assert (
        (hjrk["_business_date"].astype(str) == "2026-11-02").sum()
        == first.expected_bronze_rows.sum()
        > 18_000
    )
