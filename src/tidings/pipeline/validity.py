"""Messages handed to an operator whose validity ended with no final receipt become `expired`.

The operator drops a message it could not deliver within its validity period; when no
receipt says so within `grace` after the end, nothing ever will. Messages without a
validity period stay `sent` until a receipt comes.

The status writer puts each message that becomes `sent` with a validity period on a
worklist of its own (`validity_watch`), so no index of the messages names their status.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from tidings.core.clock import Clock
from tidings.pipeline.transitions import Change, StatusWriter
from tidings.store import validity as validity_store
from tidings.store.database import Database

log = logging.getLogger("tidings.validity")


class ValiditySweeper:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        writer: StatusWriter,
        grace: timedelta = timedelta(minutes=10),
        batch: int = 1000,
    ) -> None:
        self._db = db
        self._clock = clock
        self._writer = writer
        self._grace = grace
        self._batch = batch
        self.interval_seconds = 30.0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:
                log.exception("expiring sent messages failed; will retry")

    def sweep(self, now: datetime | None = None) -> int:
        """Expire every watched message whose validity ended more than `grace` ago and that
        is still `sent`, a batch per transaction; returns how many it moved."""
        now = now or self._clock.now()
        moved = 0
        while True:
            looked, expired = self._sweep_batch(now)
            moved += expired
            if looked < self._batch:
                return moved

    def _sweep_batch(self, now: datetime) -> tuple[int, int]:
        with self._db.write() as conn:
            entries = validity_store.ended(
                conn, now - self._grace, self._batch, skip_locked=not self._db.is_sqlite
            )
            changes = [
                Change(
                    entry.message_id,
                    "expired",
                    {
                        "error_code": "no_receipt",
                        "error_message": "the validity period ended without a final receipt",
                    },
                )
                for entry in entries
                # a message that got its receipt meanwhile keeps its history as it is
                if entry.status == "sent"
            ]
            applied = self._writer.apply(conn, changes, now)
            validity_store.forget(conn, [entry.message_id for entry in entries])
        return len(entries), len(applied)
