"""SQLite WAL checkpoints in a background thread, off the commit path of requests.

By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000
pages: that commit copies the pages into the database file and syncs it, and every
request waiting on it waits too (tens of milliseconds on a virtual disk, a few times a
second under load). A serving process instead checkpoints from its own thread and
connection every `interval` seconds in PASSIVE mode (which waits for no reader and no
writer), while its connections only checkpoint themselves if the log outgrows
`SAFETY_PAGES`, when the thread has fallen far behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("tidings.store.wal")

DEFAULT_PAGES = 1_000  # SQLite's own default, kept by processes that run no checkpointer
SAFETY_PAGES = 16_384  # 64 MiB of 4 KiB pages


class WalCheckpointer:
    """A daemon thread running `PRAGMA wal_checkpoint(PASSIVE)` on `path` every `interval` s."""

    def __init__(self, path: str, interval: float = 0.5) -> None:
        self._path = path
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=1, check_same_thread=False)
        try:
            while not self._stopping.wait(self._interval):
                self.checkpoint(conn)
            self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchall()  # to the end: no read left open
        except sqlite3.Error as exc:  # another process checkpointing: the next turn will do
            log.debug("checkpoint skipped: %s", exc)
            return
        self.checkpoints += 1

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
