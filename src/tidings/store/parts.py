"""The parts a message was submitted as: one row per submit (one for a message the peer took
whole), with its operator id and its own receipt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from tidings.store.bulk import (
    driver_in,
    driver_rows,
    in_list,
    insert_rows,
    placeholder,
    update_rows,
)
from tidings.store.tables import message_parts


def replace_parts(
    conn: Connection, rows: Sequence[dict[str, Any]], retried: Sequence[str] = ()
) -> None:
    """Store the parts of each message, replacing those of an earlier attempt: `retried`
    are the messages that may have some (only a message submitted before can)."""
    if retried:
        conn.execute(
            delete(message_parts).where(in_list(conn, message_parts.c.message_id, retried))
        )
    insert_rows(conn, message_parts, rows)


def find_receipt_parts(
    conn: Connection, connector: str, refs: Sequence[str]
) -> dict[str, tuple[str, int, int]]:
    """The parts these references of one connector name: reference -> (message id, part
    number, how many parts the message has)."""
    if not refs:
        return {}
    test, params = driver_in(conn, refs)
    sql = (
        "SELECT p.connector_message_id, p.message_id, p.part_number,"
        " (SELECT count(*) FROM message_parts s WHERE s.message_id = p.message_id)"
        f" FROM message_parts p WHERE p.connector = {placeholder(conn)}"
        f" AND p.connector_message_id {test}"
    )
    return {
        ref: (message_id, number, total)
        for ref, message_id, number, total in driver_rows(conn, sql, (connector, *params))
    }


def record_part_statuses(conn: Connection, changes: Sequence[dict[str, Any]]) -> None:
    """Each change: {message_id, part_number, status, error_code, done_at}."""
    update_rows(conn, message_parts, ("message_id", "part_number"), changes)


def parts_of(conn: Connection, message_ids: Sequence[str]) -> dict[str, list[Any]]:
    """message id -> its parts in order."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(message_parts)
        .where(in_list(conn, message_parts.c.message_id, list(message_ids)))
        .order_by(message_parts.c.message_id, message_parts.c.part_number)
    )
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(row)
    return found
