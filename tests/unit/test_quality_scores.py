import datetime as dt

import pandas as pd
import pytest

from jobs.pipeline.quality.scores import compute_scores
from jobs.platform.config import delivery_due as deadline
from jobs.platform.policy import grant, pseudonym
from jobs.serving.workbench.present import shown_entity, shown_value


def _results(rows):
    return pd.DataFrame(
        rows, columns=["rule_id", "dimension", "table", "source_id", "evaluated", "failed"]
    )


def _score(scores, scope, scope_id, dimension):
    hit = scores[
        (scores["scope"] == scope)
        & (scores["scope_id"] == scope_id)
        & (scores["dimension"] == dimension)
    ]
    assert len(hit) == 1, (scope, scope_id, dimension)
    return hit.iloc[0]


def test_dimension_score_is_the_mean_of_each_rules_x_equals_a_over_b():
    scores = compute_scores(
        _results(
            [
                ("r1", "accuracy", "silver.person", "gaj_hjrk", 100, 10),  # X = 0.9
                ("r2", "accuracy", "silver.person", "gaj_hjrk", 10, 0),  # X = 1.0
                ("r3", "completeness", "bronze.gaj_hjrk", "gaj_hjrk", 50, 25),  # X = 0.5
            ]
        )
    )
    acc = _score(scores, "source", "gaj_hjrk", "accuracy")
    assert acc["score"] == pytest.approx(95.0)
    assert (acc["evaluated"], acc["failed"]) == (110, 10)
    comp = _score(scores, "source", "gaj_hjrk", "completeness")
    assert comp["score"] == pytest.approx(50.0)
    # overall: weights accuracy 0.25, completeness 0.20 (conf/quality.yaml)
    overall = _score(scores, "source", "gaj_hjrk", "overall")
    assert overall["score"] == pytest.approx((0.25 * 95 + 0.20 * 50) / 0.45)
    # the department of gaj_hjrk and the platform see the same rules here
    assert _score(scores, "department", "公安", "accuracy")["score"] == pytest.approx(95.0)
    assert _score(scores, "platform", "platform", "accuracy")["score"] == pytest.approx(95.0)
    assert _score(scores, "table", "silver.person", "accuracy")["score"] == pytest.approx(95.0)


def test_uniqueness_is_reported_alone_and_inside_accuracy():
    scores = compute_scores(
        _results(
            [
                ("u", "uniqueness", "bronze.gaj_hjrk", "gaj_hjrk", 100, 20),  # X = 0.8
                ("a", "accuracy", "silver.person", "gaj_hjrk", 100, 0),  # X = 1.0
            ]
        )
    )
    assert _score(scores, "source", "gaj_hjrk", "uniqueness")["score"] == pytest.approx(80.0)
    assert _score(scores, "source", "gaj_hjrk", "accuracy")["score"] == pytest.approx(90.0)
    # uniqueness has no weight of its own: overall is accuracy alone here
    assert _score(scores, "source", "gaj_hjrk", "overall")["score"] == pytest.approx(90.0)


def test_rules_that_evaluated_nothing_do_not_score():
    scores = compute_scores(_results([("r", "accuracy", "silver.person", "gaj_hjrk", 0, 0)]))
    assert scores.empty


def test_delivery_deadline_follows_the_catalogue_sla():
    # gaj_hjrk: the day after the business date, 06:00 +08:00
    d = deadline("gaj_hjrk", dt.date(2026, 11, 2))
    assert d == dt.datetime(2026, 11, 3, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_masking_of_examples():
    analyst, officer = grant("city_analyst"), grant("quality_officer")
    pid = "13090219900101123X"
    assert shown_value("id_number", pid, reader=analyst) == pseudonym(pid)
    assert shown_value("id_number", pid, reader=officer) == pid
    assert shown_value("name", "张三丰", reader=analyst) == "张**"
    assert shown_value("birth_date", "1990-07-21", reader=analyst) == "1990-07-01"
    assert shown_value("birth_date", "1990-07-21", reader=officer) == "1990-07-21"
    assert shown_value("tax_status", "normal", reader=analyst) == "normal"
    assert shown_entity("person", "person_name_mismatch", value=pid, reader=analyst) == pseudonym(
        pid
    )
    assert shown_entity("person", "person_name_mismatch", value=pid, reader=officer) == pid
    assert shown_entity(
        "legal_person", "legal_rep_mismatch", value="91130902MA0000000X", reader=analyst
    ) == ("91130902MA0000000X")
