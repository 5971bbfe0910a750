"""Audit rows from many threads at once: every row lands, in fewer commits than rows, and a
caller returns only after its own row is committed."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from deltalake import DeltaTable

from jobs.serving.sql import audit


def _row(user: str) -> audit.AuditRow:
    return audit.AuditRow(
        query_id=uuid.uuid4().hex, user_name=user, role="city_analyst", division=None,
        client="test", submitted_at=dt.datetime.now(dt.UTC), dialect="duckdb", as_of=None,
        submitted_sql="SELECT 1",
    )  # fmt: skip


def test_concurrent_audit_rows_all_land_in_group_commits(tmp_path):
    audit.ensure_table(tmp_path)
    seen_after_return: list[bool] = []
    together = threading.Barrier(6)

    def work(t: int) -> None:
        together.wait()  # all threads append at once
        for i in range(6):
            row = _row(f"u{t}-{i}")
            audit.record(tmp_path, row)
            ids = DeltaTable(audit.table_path(tmp_path)).to_pyarrow_table(columns=["query_id"])
            seen_after_return.append(row.query_id in ids["query_id"].to_pylist())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = DeltaTable(audit.table_path(tmp_path))
    users = table.to_pyarrow_table(columns=["user_name"])["user_name"].to_pylist()
    assert sorted(users) == sorted(f"u{t}-{i}" for t in range(6) for i in range(6))
    assert all(seen_after_return)
    assert table.version() < 6 * 6  # rows were grouped into fewer commits


def test_a_failed_commit_reaches_every_caller(tmp_path):
    (tmp_path / "audit").write_text("not a folder")  # the table cannot be written
    errors: list[BaseException] = []

    def work() -> None:
        try:
            audit.record(tmp_path, _row("x"))
        except Exception as e:  # noqa: BLE001 - any write error will do
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 4  # no caller returns as if its row were written
