"""Engine set-up for SQLite (WAL, one writer at a time) and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from tidings.store.wal import DEFAULT_PAGES, SAFETY_PAGES, WalCheckpointer


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=20,
            )
            event.listen(self.engine, "connect", self._sqlite_pragmas)
            # Take the write lock at BEGIN, so a reader never upgrades into a deadlock.
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        else:
            if parsed.drivername in ("postgresql", "postgres"):
                url = str(
                    parsed.set(drivername="postgresql+psycopg").render_as_string(
                        hide_password=False
                    )
                )
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True
            )
        # SQLite allows one writer: serialise writers here rather than in its busy loop, whose
        # waits are sleeps of up to 100 ms whenever the lock was taken. Threads queue on the
        # lock; processes on the same file (serve --role api + --role worker) on a file lock
        # beside it, which wakes the next writer the moment the last one lets go.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._lock_file = -1
        self._path = parsed.database if self.is_sqlite else None
        self._autocheckpoint_pages = DEFAULT_PAGES
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self._lock_file = os.open(
                f"{parsed.database}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )

    def checkpoint_in_background(self, interval: float = 0.5) -> None:
        """SQLite: checkpoint the write-ahead log from a thread of this process (store/wal.py),
        so no request's commit does it. For serving processes; no-op on PostgreSQL."""
        if not self._path or self._path == ":memory:" or self._checkpointer is not None:
            return
        self._autocheckpoint_pages = SAFETY_PAGES
        self.engine.dispose()  # pooled connections reopen with the new limit
        self._checkpointer = WalCheckpointer(self._path, interval)
        self._checkpointer.start()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock:
            if self._lock_file >= 0:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                with self.engine.begin() as conn:
                    yield conn
            finally:
                if self._lock_file >= 0:
                    fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(tidings_read=True)
            yield conn
            conn.rollback()

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        if self._lock_file >= 0:
            os.close(self._lock_file)
            self._lock_file = -1

    def _sqlite_pragmas(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN (_sqlite_begin_immediate)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA wal_autocheckpoint={self._autocheckpoint_pages}")
        cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    # On the driver's connection: through `exec_driver_sql` the BEGIN cost as much CPU as
    # a small transaction's statements, and every write transaction starts with one.
    read = conn.get_execution_options().get("tidings_read")
    conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
        "BEGIN DEFERRED" if read else "BEGIN IMMEDIATE"
    )
