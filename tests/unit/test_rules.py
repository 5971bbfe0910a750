"""Each cross-source rule on a handful of inline rows against its golden checks (tests/golden.py).

The cases sit beside each rule (jobs/pipeline/quality/rules/<rule_id>.cases.yaml), among them
the edges officers care about: a source with a right and a wrong record of the same person, a
person with no 户籍 record whose sources disagree, a newborn registered in the father's
household, a licence whose holder died yesterday versus 40 days ago.
"""

from __future__ import annotations

import pytest

from jobs.pipeline.quality import rules as R
from jobs.platform import settings
from jobs.platform.config import ConfigError
from tests import golden

CASES = [(rule_id, c) for rule_id in sorted(R.rules()) for c in golden.cases(rule_id)]


@pytest.mark.parametrize(
    ("rule_id", "case"), CASES, ids=[f"{r}: {c['name'][:60]}" for r, c in CASES]
)
def test_rule_gives_its_golden_checks(spark, rule_id, case):
    expected = golden.golden(rule_id).get(case["name"])
    assert expected is not None, f"no golden checks: run `python -m tests.golden --write {rule_id}`"
    got = golden.evaluate_case(spark, rule_id, case)
    assert got == expected, f"{rule_id}: {case['name']} (regenerate only if intended)"


def test_every_rule_is_a_module_with_its_doc_settings_and_cases():
    assert set(R.rules()) == set(settings.quality().rules)
    for rule_id, rule in R.rules().items():
        assert rule.doc and rule_id in rule.doc, rule_id
        assert golden.cases(rule_id), rule_id
        names = [c["name"] for c in golden.cases(rule_id)]
        assert len(set(names)) == len(names), f"{rule_id}: case names repeat"
        assert set(golden.golden(rule_id)) == set(names), f"{rule_id}: golden file out of step"
        assert R.rule_settings(rule_id).dimension


def test_the_named_edges_have_cases_that_fail_and_pass():
    """The edges of the issue are not only present: each shows a finding and a pass."""
    edges = {
        "person_name_mismatch": "right and a wrong record",
        "person_sex_mismatch": "right and a wrong record",
        "birth_not_registered": "father's household",
        "licence_status_conflict": "died yesterday versus 40 days ago",
    }
    for rule_id, words in edges.items():
        got = golden.golden(rule_id)
        name = next(n for n in got if words in n)
        outcomes = {r["failed"] for r in got[name]}
        assert outcomes == ({True, False} if rule_id != "birth_not_registered" else {False})


def test_rule_settings_errors_name_the_file_and_the_key(monkeypatch):
    section = dict(settings.quality().rules["death_not_deregistered"], grace_days="a month")
    with pytest.raises(ConfigError) as e:
        settings.validated(
            R.rules()["death_not_deregistered"].settings,
            section,
            where="conf/quality.yaml: rules.death_not_deregistered",
        )
    assert "conf/quality.yaml: rules.death_not_deregistered: grace_days:" in str(e.value)
    section = dict(settings.quality().rules["employer_unknown"], grace_days=30)
    with pytest.raises(ConfigError, match="grace_days: Extra inputs are not permitted"):
        settings.validated(R.rules()["employer_unknown"].settings, section, where="x")
