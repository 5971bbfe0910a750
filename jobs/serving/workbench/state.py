"""The workbench's view of the lake: findings with their current status, due dates, the
departments' performance and the scores with upheld disputes taken out.

One DuckDB database per process, read-only over the lake:

* ``findings``: quality.findings at the published version, held in memory (reloaded when a
  new date is published) with what every page filters on: the department's id, the rule's
  severity, the due date, the date a resolved finding was resolved, and its pseudonym;
* ``actions``: quality.finding_actions, re-read whenever the table has a new version;
* ``history`` / ``results``: quality.finding_history and quality.results, scanned in place.

The status of a finding (:data:`STATE_SQL`) is derived here and only here, from what the
deliveries show and what people did (jobs/pipeline/quality/actions.py):

* ``dismissed``   an officer upheld a dispute (for good);
* ``resolved``    no delivery shows it any more;
* ``disputed``    the department disputed it and no officer has decided yet;
* ``rectification_failed``  the department said it was rectified, and a delivery after both
  that and the due date still shows it;
* ``rectification_submitted`` the department said it was rectified;
* ``open``        otherwise (a rejected dispute returns here).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from jobs.pipeline.quality import actions as finding_actions
from jobs.pipeline.quality.rules import description, enabled_rules, rule_settings, rules
from jobs.pipeline.quality.scores import compute_scores, discount_dismissed
from jobs.platform import publication, settings
from jobs.platform.config import catalog
from jobs.platform.policy import pseudonym_key
from jobs.serving.sql.views import macro_sql

# what each page may filter findings on (the list's query parameters)
FILTERS = ("rule", "source", "department", "status", "date_from", "date_to", "entity")
PAGE_SIZE = 50

# a finding's current status: the one place it is derived (module docstring)
STATE_SQL = """
CASE
  WHEN a.human_status = 'dismissed' THEN 'dismissed'
  WHEN f.status = 'resolved' THEN 'resolved'
  WHEN a.human_status = 'disputed' THEN 'disputed'
  WHEN a.human_status = 'rectification_submitted'
       AND f.last_seen_on > greatest(f.due_on, a.submitted_on) THEN 'rectification_failed'
  WHEN a.human_status = 'rectification_submitted' THEN 'rectification_submitted'
  ELSE 'open'
END
"""
# statuses a department still owes an answer or a fix for
OWED = ("open", "rectification_failed")


class NotReady(LookupError):
    """No date is published yet, or the quality stage has not run."""


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int
    next_cursor: str | None


def _delta_dataset(path: Path, version: int | None):
    dtab = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
    return dtab.to_pyarrow_dataset()


class WorkbenchData:
    """The lake as the workbench reads it. Thread-safe: each call takes its own cursor."""

    def __init__(self, lake_root: str | Path):
        self.root = Path(lake_root)
        self._lock = threading.RLock()
        self._con = duckdb.connect(config={"threads": 2})
        self._pub_key: tuple | None = None
        self._history = None
        self._actions_version: int | None = -2
        self.publication: publication.Publication | None = None
        for stmt in macro_sql(pseudonym_key(self.root)):
            self._con.execute(stmt)
        self._rules_frame()

    # ------------------------------------------------------------------ loading
    def _rules_frame(self) -> None:
        conf = settings.quality()
        known = rules()
        rows = []
        for rule_id in known:
            s = rule_settings(rule_id)
            rows.append(
                {
                    "rule_id": rule_id,
                    "severity": s.severity,
                    "due_days": int(conf.due_days[s.severity]),
                    "dimension": s.dimension,
                    "description": description(rule_id),
                    "enabled": rule_id in enabled_rules(),
                }
            )
        self._con.register("_rules", pd.DataFrame(rows))
        self._con.execute("CREATE OR REPLACE TABLE rules AS SELECT * FROM _rules")
        self._con.unregister("_rules")
        sources = [
            {"source_id": s, "department_id": e.department_id, "department": e.department}
            for s, e in catalog().items()
        ]
        self._con.register("_sources", pd.DataFrame(sources))
        self._con.execute("CREATE OR REPLACE TABLE sources AS SELECT * FROM _sources")
        self._con.unregister("_sources")

    def refresh(self) -> None:
        """Load what changed since the last call: a new publication, new actions."""
        with self._lock:
            try:
                pub = publication.current(self.root)
            except publication.NotPublished:
                raise NotReady("nothing is published in this lake yet: run `govlake run`") from None
            key = (pub.business_date, pub.published_at)
            if key != self._pub_key:
                self._load_published(pub)
                self._pub_key = key
                self.publication = pub
                self._actions_version = -2  # every finding's status again
            self._load_actions()

    def _table(self, table: str, version: int | None):
        path = self.root / table.replace(".", "/")
        if not DeltaTable.is_deltatable(str(path)):
            raise NotReady(f"{table} is not built yet: run the quality stage")
        return _delta_dataset(path, version)

    def _load_published(self, pub: publication.Publication) -> None:
        con = self._con
        if pub.version("quality.findings") is None:
            raise NotReady("quality.findings is not published yet: run the quality stage")
        findings = self._table("quality.findings", pub.version("quality.findings"))
        history = self._table("quality.finding_history", pub.version("quality.finding_history"))
        results = self._table("quality.results", pub.version("quality.results"))
        con.register("_findings_ds", findings)
        self._history = history
        con.register("_results_ds", results)
        con.execute(
            'CREATE OR REPLACE TABLE results AS SELECT rule_id, dimension, "table", source_id, '
            "evaluated, failed, _business_date FROM _results_ds"
        )
        con.execute(
            "CREATE OR REPLACE TABLE rule_dates AS "
            "SELECT DISTINCT rule_id, _business_date AS d FROM results"
        )
        con.execute(
            """
            CREATE OR REPLACE TABLE findings AS
            SELECT f.finding_id, f.rule_id, f.dimension, f.entity_kind, f.entity_id,
                   f.attribute, f.source_id, s.department_id, f.department, f.observed,
                   f.expected, f.authoritative_source, f.first_seen_batch, f.last_seen_batch,
                   f.first_seen_on, f.last_seen_on, f.status,
                   coalesce(r.severity, 'medium') AS severity,
                   CAST(f.first_seen_on + CAST(coalesce(r.due_days, 30) AS INTEGER) AS DATE) AS due_on,
                   CASE WHEN f.status = 'resolved' THEN (
                       SELECT min(d.d) FROM rule_dates d
                       WHERE d.rule_id = f.rule_id AND d.d > f.last_seen_on) END AS resolved_on,
                   CAST(NULL AS VARCHAR) AS entity_pseudonym
            FROM _findings_ds f
            LEFT JOIN sources s USING (source_id)
            LEFT JOIN rules r USING (rule_id)
            """
        )
        # persons' ID numbers as readers below their level name them: the policy's own
        # pseudonym macro (jobs/platform/policy.py MASKS), the key only in session variables
        con.execute(
            "UPDATE findings SET entity_pseudonym = gl_mask_pseudonym(entity_id) "
            "WHERE entity_kind = 'person' AND rule_id <> 'birth_not_registered'"
        )
        con.unregister("_findings_ds")
        con.unregister("_results_ds")

    def _load_actions(self) -> None:
        """Re-read the actions when the table has a new version, and derive the status of
        the findings they are about (of every finding after a new publication)."""
        path = finding_actions.table_path(self.root)
        version = DeltaTable(path).version() if DeltaTable.is_deltatable(path) else -1
        if version == self._actions_version:
            return
        full = self._actions_version == -2
        acts = finding_actions.read_arrow(self.root)
        con = self._con
        con.register("_acts", acts)
        if not full:  # the findings whose actions are new since the last read
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT finding_id FROM _acts "
                "WHERE action_id NOT IN (SELECT action_id FROM actions)"
            )
        con.execute("CREATE OR REPLACE TABLE actions AS SELECT * FROM _acts")
        con.unregister("_acts")
        con.execute(
            """
            CREATE OR REPLACE TABLE action_state AS
            SELECT finding_id,
                   arg_max(to_status, "at") AS human_status,
                   max(effective_date) FILTER (WHERE action = 'submit_rectification')
                       AS submitted_on,
                   bool_or(actor_role = 'department_liaison') AS answered,
                   count(*) FILTER (WHERE action = 'dispute') AS disputes,
                   count(*) FILTER (WHERE action = 'uphold') AS upheld,
                   count(*) FILTER (WHERE action = 'reject') AS rejected,
                   max("at") AS last_action_at
            FROM actions GROUP BY finding_id
            """
        )
        derived = f"""
            SELECT f.*, {STATE_SQL} AS state,
                   coalesce(a.answered, false) OR f.status = 'resolved' AS answered,
                   coalesce(a.disputes, 0) AS disputes, coalesce(a.upheld, 0) AS upheld,
                   coalesce(a.rejected, 0) AS rejected, a.last_action_at
            FROM findings f LEFT JOIN action_state a USING (finding_id)
        """
        if full:  # held in the order the list pages read it
            con.execute(
                f"CREATE OR REPLACE TABLE finding_state AS {derived} "
                "ORDER BY f.last_seen_on DESC, f.finding_id"
            )
        else:  # one transaction: a page read meanwhile sees the findings before or after
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "DELETE FROM finding_state WHERE finding_id IN (SELECT * FROM _touched)"
                )
                con.execute(
                    f"INSERT INTO finding_state {derived} "
                    "WHERE f.finding_id IN (SELECT * FROM _touched)"
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        self._actions_version = version

    def close(self) -> None:
        with self._lock:
            self._history = None
            self._con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._con.cursor()

    # ------------------------------------------------------------------ reads
    @property
    def as_of(self) -> dt.date:
        assert self.publication is not None
        return self.publication.business_date

    def status_of(self, finding_id: str) -> dict | None:
        """One finding with its current status (None when unknown)."""
        rows = _dicts(
            self.cursor().execute("SELECT * FROM finding_state WHERE finding_id = ?", [finding_id])
        )
        return rows[0] if rows else None

    def findings_page(
        self,
        *,
        filters: dict[str, str],
        department: str | None,
        entity_in_clear: bool,
        cursor: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Page:
        """A page of findings, newest seen first, after ``cursor`` (keyset pagination: as fast
        on the thousandth page as on the first). ``department`` limits to one department."""
        where, params = self._where(filters, department=department, in_clear=entity_in_clear)
        total = (
            self.cursor()
            .execute(f"SELECT count(*) FROM finding_state WHERE {where}", params)
            .fetchone()[0]
        )
        keyset, kparams = "", []
        if cursor:
            try:
                day, fid = cursor.split("~", 1)
                kparams = [dt.date.fromisoformat(day), fid]
            except ValueError:
                raise ValueError("not a page cursor") from None
            keyset = " AND (last_seen_on < ? OR (last_seen_on = ? AND finding_id > ?))"
            kparams = [kparams[0], kparams[0], kparams[1]]
        rows = _dicts(
            self.cursor().execute(
                f"SELECT * FROM finding_state WHERE {where}{keyset} "
                "ORDER BY last_seen_on DESC, finding_id LIMIT ?",
                [*params, *kparams, page_size + 1],
            )
        )
        nxt = None
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            nxt = f"{last['last_seen_on'].isoformat()}~{last['finding_id']}"
        return Page(rows, int(total), nxt)

    def _where(self, filters: dict[str, str], *, department: str | None, in_clear: bool):
        clauses, params = ["true"], []
        if department is not None:
            clauses.append("department_id = ?")
            params.append(department)
        f = {k: v.strip() for k, v in filters.items() if k in FILTERS and v and v.strip()}
        for key, column in (
            ("rule", "rule_id"),
            ("source", "source_id"),
            ("department", "department_id"),
            ("status", "state"),
        ):
            if key in f:
                clauses.append(f"{column} = ?")
                params.append(f[key])
        for key, op in (("date_from", ">="), ("date_to", "<=")):
            if key in f:
                try:
                    day = dt.date.fromisoformat(f[key])
                except ValueError:
                    raise ValueError(f"{key}: not a date (YYYY-MM-DD): {f[key]!r}") from None
                # a finding seen on any day of the range: first seen by its end, last after start
                if op == ">=":
                    clauses.append("last_seen_on >= ?")
                else:
                    clauses.append("first_seen_on <= ?")
                params.append(day)
        if "entity" in f:
            if in_clear:
                clauses.append("entity_id = ?")
            else:  # readers below the identifiers' level name persons by pseudonym
                clauses.append("coalesce(entity_pseudonym, entity_id) = ?")
            params.append(f["entity"])
        return " AND ".join(clauses), params

    def history_of(self, finding_id: str) -> list[dict]:
        """The dates the deliveries showed the finding, with what they showed."""
        t = self._history.to_table(
            columns=["_business_date", "_batch_id", "observed", "expected"],
            filter=pc.field("finding_id") == finding_id,
        )
        rows = [
            {
                "business_date": r["_business_date"],
                "batch_id": r["_batch_id"],
                "observed": r["observed"],
                "expected": r["expected"],
            }
            for r in t.to_pylist()
        ]
        return sorted(rows, key=lambda r: r["business_date"])

    def actions_of(self, finding_id: str) -> list[dict]:
        return _dicts(
            self.cursor().execute(
                'SELECT * FROM actions WHERE finding_id = ? ORDER BY "at", action_id', [finding_id]
            )
        )

    def counts_by_department(self) -> list[dict]:
        """Per department: findings by status, overdue, and the two performance rates."""
        rows = _dicts(
            self.cursor().execute(
                f"""
                WITH s AS (SELECT *, (state IN {OWED} AND ? > due_on) AS overdue
                           FROM finding_state)
                SELECT department_id, any_value(department) AS department,
                  count(*) FILTER (WHERE state = 'open') AS open,
                  count(*) FILTER (WHERE state = 'disputed') AS disputed,
                  count(*) FILTER (WHERE state = 'rectification_submitted') AS submitted,
                  count(*) FILTER (WHERE state = 'rectification_failed') AS failed,
                  count(*) FILTER (WHERE state = 'dismissed') AS dismissed,
                  count(*) FILTER (WHERE state = 'resolved') AS resolved,
                  count(*) FILTER (WHERE overdue) AS overdue,
                  count(*) FILTER (WHERE answered) AS answered,
                  count(*) FILTER (WHERE NOT answered AND ? > due_on) AS unanswered_due,
                  count(*) FILTER (WHERE state = 'resolved' AND resolved_on <= due_on)
                      AS on_time,
                  count(*) FILTER (WHERE state = 'resolved' OR overdue) AS rectification_due
                FROM s GROUP BY department_id ORDER BY department_id
                """,
                [self.as_of, self.as_of],
            )
        )
        return [_rates(r) for r in rows]

    def rule_disputes(self) -> list[dict]:
        """Per rule: findings, disputes and how officers decided them (a rule whose disputes
        are often upheld finds what is not wrong: a measure of its precision)."""
        rows = _dicts(
            self.cursor().execute(
                """
                SELECT rule_id, count(*) AS findings,
                  count(*) FILTER (WHERE disputes > 0) AS disputed,
                  count(*) FILTER (WHERE upheld > 0) AS upheld,
                  count(*) FILTER (WHERE rejected > 0 AND upheld = 0) AS rejected,
                  count(*) FILTER (WHERE state = 'disputed') AS pending
                FROM finding_state GROUP BY rule_id ORDER BY rule_id
                """
            )
        )
        for r in rows:
            decided = r["upheld"] + r["rejected"]
            r["upheld_share"] = r["upheld"] / decided if decided else None
        return rows

    # ------------------------------------------------------------------ scores
    def dismissed_counts(self, business_date: dt.date) -> dict[tuple[str, str], int]:
        """What jobs/pipeline/quality/actions.py dismissed_counts gives the scores stage."""
        upheld = [
            f
            for (f,) in self.cursor()
            .execute(
                "SELECT DISTINCT finding_id FROM actions "
                "WHERE action = 'uphold' AND effective_date <= ?",
                [business_date],
            )
            .fetchall()
        ]
        if not upheld:
            return {}
        seen = self._history.to_table(
            columns=["finding_id", "rule_id", "source_id"],
            filter=(pc.field("_business_date") == pa.scalar(business_date, pa.date32()))
            & pc.field("finding_id").isin(upheld),
        )
        out: dict[tuple[str, str], int] = {}
        for r in {tuple(x.values()) for x in seen.to_pylist()}:
            out[(r[1], r[2])] = out.get((r[1], r[2]), 0) + 1
        return out

    def scores(self, business_date: dt.date | None = None) -> pd.DataFrame:
        """The date's scores (default: the published date) as the scores stage computes them,
        with every dispute upheld so far that takes effect by then."""
        day = business_date or self.as_of
        res = (
            self.cursor()
            .execute(
                'SELECT rule_id, dimension, "table", source_id, evaluated, failed FROM results '
                "WHERE _business_date = ?",
                [day],
            )
            .df()
        )
        return compute_scores(discount_dismissed(res, self.dismissed_counts(day)))

    def score_dates(self) -> list[dt.date]:
        return [
            d
            for (d,) in self.cursor()
            .execute(
                "SELECT DISTINCT _business_date FROM results WHERE _business_date <= ? ORDER BY 1",
                [self.as_of],
            )
            .fetchall()
        ]

    def worst_rules(self, n: int = 8) -> list[dict]:
        """The rules that fail most on the published date (after upheld disputes)."""
        res = (
            self.cursor()
            .execute(
                'SELECT rule_id, dimension, "table", source_id, evaluated, failed FROM results '
                "WHERE _business_date = ? AND evaluated > 0",
                [self.as_of],
            )
            .df()
        )
        res = discount_dismissed(res, self.dismissed_counts(self.as_of))
        if res.empty:
            return []
        g = res.groupby("rule_id", as_index=False).agg(
            evaluated=("evaluated", "sum"), failed=("failed", "sum")
        )
        g["pass_rate"] = 1.0 - g["failed"] / g["evaluated"]
        g = g[g["failed"] > 0].sort_values(["pass_rate", "rule_id"]).head(n)
        return g.to_dict("records")


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _rates(r: dict) -> dict:
    asked = r["answered"] + r["unanswered_due"]
    r["response_rate"] = r["answered"] / asked if asked else None
    r["on_time_rate"] = r["on_time"] / r["rectification_due"] if r["rectification_due"] else None
    return r
