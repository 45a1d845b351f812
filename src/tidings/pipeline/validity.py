"""Messages handed to an operator whose validity ended with no final receipt become `expired`.

The operator drops a message it could not deliver within its validity period; when no
receipt says so within `grace` after the end, nothing ever will. Messages without a
validity period stay `sent` until a receipt comes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import Select, select, text

from tidings.core.clock import Clock
from tidings.pipeline.transitions import Change, StatusWriter
from tidings.store.database import Database
from tidings.store.tables import SENT_WITH_VALIDITY, messages

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
                while await asyncio.to_thread(self.sweep) == self._batch:
                    pass
            except Exception:
                log.exception("expiring sent messages failed; will retry")

    def sweep(self, now: datetime | None = None) -> int:
        """Expire one batch; returns how many messages it moved."""
        now = now or self._clock.now()
        with self._db.write() as conn:
            ids = list(conn.scalars(ended_validity(now - self._grace, self._batch)))
            changes = [
                Change(
                    message_id,
                    "expired",
                    {
                        "error_code": "no_receipt",
                        "error_message": "the validity period ended without a final receipt",
                    },
                )
                for message_id in ids
            ]
            applied = self._writer.apply(conn, changes, now)
        return len(applied)


def ended_validity(before: datetime, limit: int) -> Select[str]:
    """Up to `limit` sent messages whose validity ended before `before`, read through the
    partial index `ix_messages_sent_expires_at` (its condition spelt as it is: tables.py)."""
    return (
        select(messages.c.id)
        .where(text(SENT_WITH_VALIDITY), messages.c.expires_at < before)
        .limit(limit)
    )
