"""`govlake maintain` expires a table's Delta log before the oldest version it keeps: every kept
version, and every version after the oldest, must read as before (delta-rs, no engine)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobs.platform.delta import expire_log


def _table(path, commits: int, checkpoints: set[int]):
    """A table of ``commits`` appends with a checkpoint after each version in ``checkpoints``."""
    for v in range(commits):
        write_deltalake(str(path), pa.table({"v": [v]}), mode="append")
        if v in checkpoints:
            DeltaTable(str(path)).create_checkpoint()
    return path


def _log(path) -> set[str]:
    return {p.name for p in (path / "_delta_log").iterdir()}


def _rows(path, version: int) -> list[int]:
    return sorted(DeltaTable(str(path), version=version).to_pyarrow_table()["v"].to_pylist())


def test_the_log_starts_at_the_newest_checkpoint_at_or_below_the_oldest_kept_version(tmp_path):
    path = _table(tmp_path / "t", 30, {9, 19})
    (path / "_delta_log" / "00000000000000000003.00000000000000000005.compacted.json").write_text(
        ""
    )
    spanning = path / "_delta_log" / "00000000000000000017.00000000000000000020.compacted.json"
    spanning.write_text("")
    (path / "_delta_log" / "_commit_0000.json.tmp").write_text("")
    before = {v: _rows(path, v) for v in range(19, 30)}

    gone = expire_log(path, keep={22, 29})

    names = _log(path)
    # versions 0–18 go: their commits, the checkpoint at 9 and the compacted 3–5
    assert gone == 19 + 1 + 1
    assert "00000000000000000019.checkpoint.parquet" in names
    assert "00000000000000000019.json" in names
    assert "00000000000000000018.json" not in names
    assert "00000000000000000009.checkpoint.parquet" not in names
    assert spanning.name in names  # it reaches past the start
    assert {"_last_checkpoint", "_commit_0000.json.tmp"} <= names
    spanning.unlink()  # an empty stand-in, which a reader would trip on
    for v, rows in before.items():
        assert _rows(path, v) == rows, v
    with pytest.raises(Exception):  # noqa: B017 - delta-rs names the missing log its own way
        DeltaTable(str(path), version=10)
    # the table goes on: an append after the expiry, and the latest version
    write_deltalake(str(path), pa.table({"v": [30]}), mode="append")
    assert _rows(path, 30) == list(range(31))


@pytest.mark.parametrize(
    ("keep", "first_left"),
    [({15}, 9), ({9}, 9), ({8}, 0), ({29, 3}, 0), (set(), 0)],
)
def test_nothing_a_kept_version_needs_goes(tmp_path, keep, first_left):
    path = _table(tmp_path / "t", 30, {9, 19})
    expire_log(path, keep=keep)
    versions = {int(n[:20]) for n in _log(path) if n.endswith(".json") and n[:20].isdigit()}
    assert min(versions) == first_left
    for v in keep:
        assert _rows(path, v) == list(range(v + 1))


def test_only_a_whole_checkpoint_starts_the_log(tmp_path):
    # a multi-part checkpoint's parts could be incomplete: only a single-file one is trusted
    path = _table(tmp_path / "t", 12, set())
    (
        path / "_delta_log" / "00000000000000000008.checkpoint.0000000001.0000000002.parquet"
    ).write_bytes(b"")
    assert expire_log(path, keep={11}) == 0
    assert _rows(path, 11) == list(range(12))


def test_a_recent_commit_stays_for_a_writer_beside_the_maintenance(tmp_path):
    # an appender that read the table a few versions back reads the commits made since when its
    # commit conflicts: files younger than the retention stay, older ones go
    import os
    import time

    path = _table(tmp_path / "t", 30, {9, 19})
    assert expire_log(path, keep={29}, older_than=3600) == 0
    hours_ago = time.time() - 2 * 3600
    for name in _log(path):
        version = name[:20]
        if version.isdigit() and int(version) < 12:
            os.utime(path / "_delta_log" / name, (hours_ago, hours_ago))
    assert expire_log(path, keep={29}, older_than=3600) == 12 + 1  # commits 0–11, checkpoint 9
    versions = sorted(int(n[:20]) for n in _log(path) if n.endswith(".json") and n[:20].isdigit())
    assert versions == list(range(12, 30))
    assert _rows(path, 29) == list(range(30))


def test_a_checkpoint_that_does_not_read_starts_nothing(tmp_path):
    path = _table(tmp_path / "t", 25, {9, 19})
    (path / "_delta_log" / "00000000000000000019.checkpoint.parquet").write_bytes(b"PAR1 torn")
    before = _log(path)
    assert expire_log(path, keep={22}) == 0
    assert _log(path) == before
