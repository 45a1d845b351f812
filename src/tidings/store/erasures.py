"""Erasure of a data subject's rows, found through their blind index, and the erasure audit.

Every statement here is driven by an index: (account_id, recipient_index),
(account_id, sender_index), data_keys (account_id, subject_index), primary keys and
message_id indexes. The cost is that of the subject's own rows, whatever the table sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from tidings.store.bulk import in_list
from tidings.store.tables import (
    dispatch_queue,
    erasures,
    message_bodies,
    message_events,
    messages,
    webhook_deliveries,
)

# Replaces an erased subject's blind index: no HMAC output is all zeros in practice, so
# nothing links the erased rows to a person, to each other or to a later message.
UNLINKED_INDEX = bytes(16)
_CHUNK = 1024  # a power of two: see bulk.padded_list


def subject_messages(
    conn: Connection, account_id: str, subject_index: bytes, *, lock: bool = False
) -> list[Row[Any]]:
    """(id, status, direction, created_at) of the messages whose subject this is:
    outbound to, or inbound from, the subject; with `lock`, locked (PostgreSQL) in the order
    the pipeline's outcome commits take them: messages before their queue rows."""
    columns = (messages.c.id, messages.c.status, messages.c.direction, messages.c.created_at)
    outbound = select(*columns).where(
        messages.c.account_id == account_id,
        messages.c.recipient_index == subject_index,
        messages.c.direction == "outbound",
    )
    inbound = select(*columns).where(
        messages.c.account_id == account_id,
        messages.c.sender_index == subject_index,
        messages.c.direction == "inbound",
    )
    if lock and conn.dialect.name == "postgresql":
        outbound, inbound = outbound.with_for_update(), inbound.with_for_update()
    return [*conn.execute(outbound), *conn.execute(inbound)]


def unlink_subject(conn: Connection, account_id: str, subject_index: bytes) -> None:
    """Replace the subject's blind index wherever a message carries it."""
    for column in ("recipient_index", "sender_index"):
        conn.execute(
            update(messages)
            .where(messages.c.account_id == account_id, messages.c[column] == subject_index)
            .values({column: UNLINKED_INDEX})
        )


def cancelable_work(
    conn: Connection, message_ids: Sequence[str], now: datetime, *, lock: bool = False
) -> list[str]:
    """The queued work of these messages that no worker holds right now; with `lock`,
    locked without waiting (PostgreSQL: SKIP LOCKED, as a dispatcher claims)."""
    found: list[str] = []
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        query = select(dispatch_queue.c.message_id).where(
            in_list(conn, dispatch_queue.c.message_id, chunk),
            or_(dispatch_queue.c.lease_until.is_(None), dispatch_queue.c.lease_until < now),
        )
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found += conn.execute(query).scalars()
    return found


def delete_work(conn: Connection, message_ids: Sequence[str]) -> None:
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        conn.execute(
            delete(dispatch_queue).where(in_list(conn, dispatch_queue.c.message_id, chunk))
        )


def personal_webhooks(conn: Connection, message_ids: Sequence[str]) -> list[str]:
    """Deliveries whose payload carries the subject's data (inbound messages)."""
    found: list[str] = []
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        found += conn.execute(
            select(webhook_deliveries.c.id).where(
                in_list(conn, webhook_deliveries.c.message_id, chunk),
                webhook_deliveries.c.event == "message.inbound",
            )
        ).scalars()
    return found


def all_webhooks(conn: Connection, message_ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        found += conn.execute(
            select(webhook_deliveries.c.id).where(
                in_list(conn, webhook_deliveries.c.message_id, chunk)
            )
        ).scalars()
    return found


def delete_webhooks(conn: Connection, delivery_ids: Sequence[str]) -> None:
    for start in range(0, len(delivery_ids), _CHUNK):
        chunk = delivery_ids[start : start + _CHUNK]
        conn.execute(
            delete(webhook_deliveries).where(in_list(conn, webhook_deliveries.c.id, chunk))
        )


def delete_messages(conn: Connection, message_ids: Sequence[str]) -> None:
    """The messages with their text and history."""
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        conn.execute(
            delete(message_bodies).where(in_list(conn, message_bodies.c.message_id, chunk))
        )
        conn.execute(
            delete(message_events).where(in_list(conn, message_events.c.message_id, chunk))
        )
        conn.execute(delete(messages).where(in_list(conn, messages.c.id, chunk)))


def account_message_count(conn: Connection, account_id: str) -> int:
    return int(
        conn.execute(select(func.count()).where(messages.c.account_id == account_id)).scalar_one()
    )


def account_pending_work(conn: Connection, account_id: str, now: datetime) -> list[str]:
    """Unsent work of an account no worker holds right now."""
    return list(
        conn.execute(
            select(dispatch_queue.c.message_id)
            .join(messages, messages.c.id == dispatch_queue.c.message_id)
            .where(
                messages.c.account_id == account_id,
                or_(dispatch_queue.c.lease_until.is_(None), dispatch_queue.c.lease_until < now),
            )
        ).scalars()
    )


def account_undelivered_webhooks(conn: Connection, account_id: str) -> list[str]:
    return list(
        conn.execute(
            select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.account_id == account_id,
                webhook_deliveries.c.state != "delivered",
            )
        ).scalars()
    )


def record(conn: Connection, entry: dict[str, Any]) -> None:
    conn.execute(insert(erasures).values(**entry))


def list_erasures(conn: Connection, account_id: str | None, limit: int) -> list[Row[Any]]:
    query = select(erasures)
    if account_id is not None:
        query = query.where(erasures.c.account_id == account_id)
    return list(conn.execute(query.order_by(erasures.c.id.desc()).limit(limit)))
