"""SQLite write-ahead log checkpoints: in a serving process, a background thread does them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from tidings.store.database import Database
from tidings.store.wal import DEFAULT_PAGES, SAFETY_PAGES, WalCheckpointer


def _fill(db: Database, rows: int) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)"))
    for start in range(0, rows, 100):
        with db.write() as conn:
            for _ in range(min(100, rows - start)):
                conn.exec_driver_sql("INSERT INTO t (v) VALUES (randomblob(1000))")


def _autocheckpoint(db: Database) -> int:
    with db.read() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _wal_pages(path: Path) -> int:
    """Pages written to the log since it last restarted (it restarts only once a checkpoint
    has copied all of it back, so it grows past SQLite's limit only if no commit
    checkpoints)."""
    return (path.parent / f"{path.name}-wal").stat().st_size // 4_096


def test_connections_checkpoint_themselves_until_a_checkpointer_takes_over(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    try:
        assert _autocheckpoint(db) == DEFAULT_PAGES
        db.checkpoint_in_background(interval=3600)
        assert _autocheckpoint(db) == SAFETY_PAGES
    finally:
        db.dispose()


def test_the_checkpointer_copies_the_log_that_commits_no_longer_copy(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    db.checkpoint_in_background(interval=3600)  # the thread waits: the test turns it
    try:
        _fill(db, 5_000)  # about 1,300 pages: past SQLite's default limit, under ours
        grown = _wal_pages(path)
        assert grown > DEFAULT_PAGES  # no commit checkpointed
        checkpointer = WalCheckpointer(str(path))
        conn = sqlite3.connect(path)
        try:
            checkpointer.checkpoint(conn)
            assert checkpointer.checkpoints == 1
            (busy, log, copied) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert (busy, copied) == (0, log)  # nothing left to copy
            _fill(db, 1_000)
            assert _wal_pages(path) == grown  # the log restarted from its beginning
        finally:
            conn.close()
    finally:
        db.dispose()


def test_the_thread_checkpoints_on_stop_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    db.checkpoint_in_background(interval=3600)
    _fill(db, 2_000)
    checkpointer = db._checkpointer
    assert checkpointer is not None
    db.dispose()  # stops the thread, which checkpoints once more on its way out
    assert checkpointer.checkpoints == 1


def test_postgres_has_no_checkpointer(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.checkpoint_in_background()
        assert db._checkpointer is None
    finally:
        db.dispose()
