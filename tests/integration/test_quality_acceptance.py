"""Acceptance of the quality stage on generated cities with ground truth (slow).

* every cross-source rule: precision and recall of its findings ≥ 0.99 against the injected
  faults (tests/integration/quality_truth.py says what each rule must find), on each date;
* scores are strictly lower for a city generated with higher fault rates in a dimension.
"""

import datetime as dt

import pytest

from jobs.pipeline.quality.rules import enabled_rules
from jobs.pipeline.runner import run_pipeline
from jobs.platform.lake import Lake
from samplecity.main import GenerateOptions, generate
from tests.integration.quality_truth import precision_recall

pytestmark = pytest.mark.slow
START = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def big_city(cli_city):
    """The twenty-thousand city that test_end_to_end generates and runs with the command line."""
    landing, lake, run = cli_city
    assert run.returncode == 0, run.stderr
    return landing, lake


def test_every_rule_finds_the_injected_faults(big_city):
    """Each date's findings against that date's truth, rule by rule."""
    landing, lake = big_city
    injected = dict.fromkeys(enabled_rules(), 0)
    short = []
    for k in range(3):
        day = START + dt.timedelta(days=k)
        pr = precision_recall(landing, lake, day).set_index("rule_id")
        assert set(enabled_rules()) <= set(pr.index), day
        for rule_id, r in pr.iterrows():
            injected[rule_id] = injected.get(rule_id, 0) + r["truth"]
            if r["precision"] < 0.99 or r["recall"] < 0.99:
                short.append(
                    f"{day} {rule_id}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
                    f"({r['found']} found, {r['truth']} true; false positives "
                    f"{r['false_positives']}, missed {r['missed']})"
                )
    assert not short, "\n".join(short)
    assert all(injected.values()), f"nothing injected to find: {injected}"


def _platform_scores(tmp_path, spark, **rates) -> dict[str, float]:
    opts = GenerateOptions(persons=2000, days=1, seed=5, start=START, correction=False, **rates)
    generate(tmp_path / "landing", opts, log=lambda m: None)
    run_pipeline(tmp_path / "landing", tmp_path / "lake", echo=lambda m: None)
    s = Lake(tmp_path / "lake", spark).read("quality.scores").toPandas()
    s = s[s["scope"] == "platform"]
    return dict(zip(s["dimension"], s["score"], strict=True))


LOW = {
    "value_fault_rate": 0.002,
    "parse_fault_rate": 0.0,
    "file_fault_rate": 0.0,
    "conflict_rate": 0.002,
}


@pytest.fixture(scope="module")
def low_scores(tmp_path_factory, spark):
    return _platform_scores(tmp_path_factory.mktemp("low"), spark, **LOW)


@pytest.mark.parametrize(
    "rate, high, dimensions",
    [
        ("conflict_rate", 0.05, ["accuracy", "consistency", "overall"]),
        ("value_fault_rate", 0.05, ["conformity", "completeness", "overall"]),
        ("parse_fault_rate", 0.02, ["accessibility", "overall"]),
    ],
)
def test_more_faults_score_lower(tmp_path, spark, low_scores, rate, high, dimensions):
    low = low_scores
    worse = _platform_scores(tmp_path / "high", spark, **{**LOW, rate: high})
    for d in dimensions:
        assert worse[d] < low[d], f"{rate}={high}: {d} {worse[d]:.2f} not below {low[d]:.2f}"
