"""The validity sweep's worklist: sent messages with a validity period, by when it ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from tidings.store.bulk import (
    driver_in,
    driver_rows,
    driver_time,
    insert_new_values,
    placeholder,
)
from tidings.store.tables import validity_watch


class Watched(NamedTuple):
    message_id: str
    status: str | None  # None: the message is gone (retention, erasure)


def watch(conn: Connection, entries: Sequence[tuple[str, datetime]]) -> None:
    """(message id, end of its validity) of messages just sent; a message sent again
    keeps its first entry."""
    insert_new_values(conn, validity_watch, ("message_id", "expires_at"), entries)


def ended(conn: Connection, before: datetime, limit: int, skip_locked: bool) -> list[Watched]:
    """Up to `limit` entries whose validity ended before `before`, oldest first, with their
    message's status now. On PostgreSQL the entries are locked, and those another
    sweep holds are skipped."""
    mark = placeholder(conn)
    sql = (
        "SELECT w.message_id, m.status FROM validity_watch w"
        " LEFT JOIN messages m ON m.id = w.message_id"
        f" WHERE w.expires_at < {mark} ORDER BY w.expires_at LIMIT {mark}"
    )
    if skip_locked:
        sql += " FOR UPDATE OF w SKIP LOCKED"
    return [Watched(*row) for row in driver_rows(conn, sql, (driver_time(conn, before), limit))]


def forget(conn: Connection, message_ids: Sequence[str]) -> None:
    if message_ids:
        test, params = driver_in(conn, message_ids)
        driver_rows(conn, f"DELETE FROM validity_watch WHERE message_id {test}", tuple(params))
