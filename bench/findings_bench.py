"""Findings benchmark: what deriving ``quality.findings`` costs a date as the lake ages, from the
whole ``quality.finding_history`` against carrying the previous date's findings forward with the
date's slice (jobs/pipeline/quality/findings.py). Prints figures; it is not a test.

    python bench/findings_bench.py --per-date 45000 --days 30 120 365

A synthetic history (each finding seen on ``--lifetime`` consecutive dates, so about
``--per-date`` findings a date, the share of a 1M-person city) is written to a scratch lake;
the findings are derived up to the day before the last, the last date's slice is written as the
quality stage writes it, and the last date's findings are then derived both ways, each on its
own copy of the lake, and compared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = dt.date(2026, 1, 1)


def synthetic(spark, *, per_date: int, days: int, lifetime: int):
    """The history of ``days`` dates: finding j first seen on date j * lifetime // per_date."""
    from pyspark.sql import functions as F

    from jobs.pipeline.quality.findings import HISTORY_COLUMNS

    born = per_date // lifetime  # new findings a date
    ids = spark.range(born * days)
    start = (F.col("id") / F.lit(born)).cast("int")
    offset = F.explode(F.sequence(F.lit(0), F.lit(lifetime - 1)))
    rows = (
        ids.withColumn("_start", start)
        .withColumn("_offset", offset)
        .withColumn("_day", F.col("_start") + F.col("_offset"))
        .filter(F.col("_day") < days)
        .select(
            F.sha2(F.col("id").cast("string"), 256).substr(1, 20).alias("finding_id"),
            F.concat(F.lit("rule_"), (F.col("id") % 12).cast("string")).alias("rule_id"),
            F.lit("person").alias("entity_kind"),
            F.concat(F.lit("P"), F.col("id").cast("string")).alias("entity_id"),
            F.lit("name").alias("attribute"),
            F.concat(F.lit("src_"), (F.col("id") % 7).cast("string")).alias("source_id"),
            F.lit("consistency").alias("dimension"),
            F.concat(F.lit("observed "), F.col("_day").cast("string")).alias("observed"),
            F.lit("expected").alias("expected"),
            F.lit("gaj_hjrk").alias("authoritative_source"),
            F.concat(F.lit("batch-"), F.col("_day").cast("string")).alias("_batch_id"),
            F.date_add(F.lit(FIRST), F.col("_day")).alias("_business_date"),
        )
    )
    return rows.select(*HISTORY_COLUMNS)


def rule_latest(spark, day: dt.date):
    return spark.createDataFrame(
        [(f"rule_{i}", day) for i in range(12)], "rule_id string, _rule_latest date"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--per-date", type=int, default=45_000)
    p.add_argument("--days", type=int, nargs="+", default=[30, 120, 365])
    p.add_argument("--lifetime", type=int, default=20)
    args = p.parse_args()

    from pyspark.sql import functions as F

    from jobs.pipeline.quality.findings import (
        FINDINGS,
        HISTORY,
        carried_from,
        write_findings,
    )
    from jobs.platform.engine import get_spark
    from jobs.platform.lake import Lake

    spark = get_spark()
    print(
        f"{'dates':>6} {'history rows':>13} {'findings':>9} {'whole history s':>16} "
        f"{'carried s':>10} {'ratio':>6}  same"
    )
    for days in args.days:
        scratch = Path(tempfile.mkdtemp(prefix="findings-bench-"))
        try:
            lake = Lake(scratch / "base", spark)
            last = FIRST + dt.timedelta(days=days - 1)
            before = last - dt.timedelta(days=1)
            history = synthetic(spark, per_date=args.per_date, days=days, lifetime=args.lifetime)
            date = F.col("_business_date")
            with lake.run("quality.rules", business_date=before):
                lake.overwrite(history.filter(date < F.lit(last)), HISTORY)
            with lake.run(FINDINGS, business_date=before):
                write_findings(
                    lake,
                    before,
                    evaluated=rule_latest(spark, before),
                    history_before=None,
                    full=True,
                )
            history_before = lake.version(HISTORY)
            with lake.run("quality.rules", business_date=last):
                lake.replace_slice(
                    history.filter(date == F.lit(last)), HISTORY, where={"_business_date": last}
                )
            rows = lake.read(HISTORY).count()
            since, why = carried_from(lake, last, history_before=history_before)
            if since != before:
                raise SystemExit(f"the findings would not be carried: {why}")
            seconds, tables = {}, {}
            for how in ("whole", "carried"):
                root = scratch / how
                shutil.copytree(scratch / "base", root, ignore=shutil.ignore_patterns("writer.*"))
                copy = Lake(root, spark)
                latest = rule_latest(spark, last)
                t0 = time.perf_counter()
                with copy.run(FINDINGS, business_date=last):
                    _, done = write_findings(
                        copy,
                        last,
                        evaluated=latest,
                        history_before=history_before,
                        full=how == "whole",
                    )
                if how == "carried" and not done.startswith("carried"):
                    raise SystemExit(f"the findings were not carried: {done}")
                seconds[how] = time.perf_counter() - t0
                tables[how] = copy.read(FINDINGS)
            same = tables["whole"].exceptAll(tables["carried"]).count() == 0 and (
                tables["carried"].exceptAll(tables["whole"]).count() == 0
            )
            n = tables["carried"].count()
            print(
                f"{days:>6} {rows:>13,} {n:>9,} {seconds['whole']:>16.1f} "
                f"{seconds['carried']:>10.1f} {seconds['whole'] / seconds['carried']:>5.1f}×  "
                f"{'yes' if same else 'NO'}",
                flush=True,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
