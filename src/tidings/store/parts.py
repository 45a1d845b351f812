"""The parts a multipart message was submitted as: one row per submit, with its own receipt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, select

from tidings.store.bulk import (
    driver_in,
    driver_rows,
    in_list,
    insert_rows,
    placeholder,
    update_rows,
)
from tidings.store.tables import HAS_CONNECTOR_REF, message_parts


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


class ReceiptTargets(NamedTuple):
    """What a batch of receipts of one connector refers to, by connector_message_id."""

    # -> (message id, part number, how many parts the message has)
    parts: dict[str, tuple[str, int, int]]
    # -> message id, for messages that carry the reference themselves
    messages: dict[str, str]


def find_receipt_targets(conn: Connection, connector: str, refs: Sequence[str]) -> ReceiptTargets:
    """The parts and the messages these references name, in one statement: one snapshot,
    so a message and its parts (committed together) are found together or not at all."""
    if not refs:
        return ReceiptTargets({}, {})
    test, params = driver_in(conn, refs)
    mark = placeholder(conn)
    sql = (
        "SELECT 1, p.connector_message_id, p.message_id, p.part_number,"
        " (SELECT count(*) FROM message_parts s WHERE s.message_id = p.message_id)"
        f" FROM message_parts p WHERE p.connector = {mark} AND p.connector_message_id {test}"
        " UNION ALL"
        " SELECT 0, m.connector_message_id, m.id, 0, 0"
        f" FROM messages m WHERE m.connector = {mark} AND m.connector_message_id {test}"
        # implied by the IN test, but said so the planners match the partial index surely
        f" AND m.{HAS_CONNECTOR_REF}"
    )
    found = ReceiptTargets({}, {})
    for kind, ref, message_id, number, total in driver_rows(
        conn, sql, (connector, *params, connector, *params)
    ):
        if kind:
            found.parts[ref] = (message_id, number, total)
        else:
            found.messages[ref] = message_id
    return found


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
