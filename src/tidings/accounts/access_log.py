"""The API's access log: per authenticated request, when, which account and key, the
method, the route template, the status and the client IP (encrypted).

Recording is an append to an in-memory list on the request's path; a background thread
writes the list in batches (one multi-row INSERT each), encrypting the IPs there, so a
request never waits for the log. Entries still in memory when the process dies are lost:
it is a security log, not a ledger. Listing writes the pending entries first.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput
from tidings.core.ids import new_id
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.store import access_log as log_store
from tidings.store.database import Database

log = logging.getLogger("tidings.access_log")

MAX_PAGE = 500
_FIELD = "api_access_log.ip"
Entry = tuple[datetime, str, str, str, str, int, str | None]


class AccessLog:
    def __init__(
        self, db: Database, crypto: Crypto, clock: Clock, *, interval: float = 0.5
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._interval = interval
        self._pending: list[Entry] = []
        self._flush_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        account_id: str,
        key_id: str,
        method: str,
        route: str,
        status: int,
        ip: str | None,
    ) -> None:
        """Cheap: one append (atomic under the GIL); the writer thread does the rest."""
        self._pending.append(
            (self._clock.now(), account_id, key_id, method, route[:200], status, ip)
        )

    def flush(self) -> int:
        """Write what is pending; the number of entries written."""
        with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            # ids of one moment are random within it: hand them out in order, so the log
            # lists a batch in the order its requests ended
            ids = sorted(new_id("acl", entry[0]) for entry in batch)
            rows = [
                {
                    "id": entry_id,
                    "account_id": account,
                    "key_id": key,
                    "method": method,
                    "route": route,
                    "status": status,
                    "ip_enc": self._encrypted(account, ip),
                    "at": at,
                }
                for entry_id, (at, account, key, method, route, status, ip) in zip(
                    ids, batch, strict=True
                )
            ]
            with self._db.write() as conn:
                log_store.insert_entries(conn, rows)
            return len(rows)

    def _encrypted(self, account_id: str, ip: str | None) -> bytes | None:
        if not ip:
            return None
        try:
            return self._crypto.encrypt(account_id, _FIELD, ip)
        except Exception:  # the account's key is gone (erased meanwhile): keep no IP
            return None

    # --- the writer thread ---------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._flush_quietly()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception:
            log.exception("writing the access log failed; the entries of that batch are lost")

    # --- reading -------------------------------------------------------------------
    def entries(
        self, account_id: str | None, *, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """A page, newest first; `account_id` None: every account's (the operator)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        before = decode_cursor(cursor, "acl") if cursor else None
        self.flush()
        with self._db.read() as conn:
            rows = log_store.list_entries(conn, account_id, before, limit + 1)
        page = rows[:limit]
        return {
            "data": [self._view(r) for r in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > limit else None,
        }

    def _view(self, row: Any) -> dict[str, Any]:
        return {
            "id": row.id,
            "at": iso(row.at),
            "account_id": row.account_id,
            "key_id": row.key_id,
            "method": row.method,
            "route": row.route,
            "status": row.status,
            "ip": self._crypto.decrypt_or_none(row.account_id, _FIELD, row.ip_enc),
        }
