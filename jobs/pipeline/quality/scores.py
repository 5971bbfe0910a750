"""quality.scores: per source, department, table and platform, per business date and dimension.

Method (docs/quality.md, for officers): every rule and every expectation evaluated in a scope
gives the standard's X = A / B, B the items it evaluated and A those that passed. A dimension's
score is the mean of the X of its rules in that scope, each rule weighted by its ``weight`` in
conf/quality.yaml (1 unless set), times 100. Uniqueness is also counted inside accuracy.
``overall`` is the mean of the dimension scores weighted by conf/quality.yaml ``weights``, over
the dimensions evaluated in the scope. ``evaluated`` and ``failed`` are the sums of the rules'.

A finding whose dispute an officer upheld (quality.finding_actions) is not a failure from the
business date the decision took effect: :func:`discount_dismissed` takes it out of its rule's
``failed`` before the scores are computed, in the scores stage and in the workbench alike.
"""

from __future__ import annotations

import pandas as pd

from jobs.pipeline.quality.rules import weight
from jobs.platform import settings
from jobs.platform.config import catalog

SCORE_COLUMNS = ["scope", "scope_id", "dimension", "score", "evaluated", "failed"]


def discount_dismissed(
    results: pd.DataFrame, dismissed: dict[tuple[str, str], int]
) -> pd.DataFrame:
    """``results`` with each (rule_id, source_id)'s dismissed findings taken out of ``failed``
    (never below zero). A finding is one failed item of its rule and source."""
    if not dismissed or results.empty:
        return results
    out = results.copy()
    less = [dismissed.get((r, s), 0) for r, s in zip(out["rule_id"], out["source_id"], strict=True)]
    out["failed"] = (out["failed"] - pd.Series(less, index=out.index)).clip(lower=0)
    return out


def compute_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Scores from one date's quality.results rows (pandas: a few hundred rows)."""
    conf = settings.quality()
    r = results[results["evaluated"] > 0].copy()
    if r.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    r["x"] = 1.0 - r["failed"] / r["evaluated"]
    r["w"] = [weight(x) for x in r["rule_id"]]
    also = conf.uniqueness_in
    if also:  # uniqueness reported on its own and pooled into accuracy as well
        extra = r[r["dimension"] == "uniqueness"].copy()
        extra["dimension"] = also
        r = pd.concat([r, extra], ignore_index=True)
    departments = {s: e.department for s, e in catalog().items()}
    r["department"] = r["source_id"].map(departments).fillna("平台")
    r["platform"] = "platform"
    frames = []
    for scope, column in (
        ("source", "source_id"),
        ("department", "department"),
        ("table", "table"),
        ("platform", "platform"),
    ):
        sub = r[r[column].notna()]
        if sub.empty:
            continue
        sub = sub.assign(wx=sub["w"] * sub["x"])
        g = sub.groupby([column, "dimension"]).agg(
            wx=("wx", "sum"),
            w=("w", "sum"),
            evaluated=("evaluated", "sum"),
            failed=("failed", "sum"),
        )
        g = g.reset_index().rename(columns={column: "scope_id"})
        g["score"] = 100.0 * g["wx"] / g["w"]
        g["scope"] = scope
        frames.append(g[SCORE_COLUMNS])
        overall = []
        for scope_id, dims in g.groupby("scope_id"):
            weights = {d: float(conf.weights.get(d, 0.0)) for d in dims["dimension"]}
            total = sum(weights.values())
            if total <= 0:
                continue
            score = (
                sum(weights[d] * s for d, s in zip(dims["dimension"], dims["score"], strict=True))
                / total
            )
            plain = dims[dims["dimension"] != "uniqueness"]  # uniqueness is inside accuracy
            overall.append(
                {
                    "scope": scope,
                    "scope_id": scope_id,
                    "dimension": "overall",
                    "score": score,
                    "evaluated": int(plain["evaluated"].sum()),
                    "failed": int(plain["failed"].sum()),
                }
            )
        if overall:
            frames.append(pd.DataFrame(overall))
    out = pd.concat(frames, ignore_index=True)
    out["score"] = out["score"].round(3)
    out["evaluated"] = out["evaluated"].astype("int64")
    out["failed"] = out["failed"].astype("int64")
    return out[SCORE_COLUMNS]
