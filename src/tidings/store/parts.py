"""The parts a multipart message was submitted as: one row per submit, with its own receipt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from tidings.store.bulk import in_list, insert_rows
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


def find_by_connector_ids(
    conn: Connection, connector: str, refs: Sequence[str]
) -> dict[str, tuple[str, int, int]]:
    """connector_message_id -> (message id, part number, how many parts the message has)."""
    if not refs:
        return {}
    siblings = message_parts.alias("siblings")
    total = (
        select(func.count())
        .where(siblings.c.message_id == message_parts.c.message_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            message_parts.c.connector_message_id,
            message_parts.c.message_id,
            message_parts.c.part_number,
            total.label("parts"),
        ).where(
            message_parts.c.connector == connector,
            in_list(conn, message_parts.c.connector_message_id, list(refs)),
        )
    )
    return {row.connector_message_id: (row.message_id, row.part_number, row.parts) for row in rows}


def record_part_statuses(conn: Connection, changes: Sequence[dict[str, Any]]) -> None:
    """Each change: {message_id, part_number, status, error_code, done_at}; one statement."""
    if not changes:
        return
    conn.execute(
        update(message_parts)
        .where(
            and_(
                message_parts.c.message_id == bindparam("m"),
                message_parts.c.part_number == bindparam("p"),
            )
        )
        .values(status=bindparam("s"), error_code=bindparam("e"), done_at=bindparam("d")),
        [
            {
                "m": c["message_id"],
                "p": c["part_number"],
                "s": c["status"],
                "e": c["error_code"],
                "d": c["done_at"],
            }
            for c in changes
        ],
    )


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
