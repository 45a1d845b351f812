"""Anonymising messages in place, and counting messages for statistics.

An anonymised message keeps what identifies no one (direction, channel, encoding,
segments, status and its history, times, price, the region of the subject's number)
and loses, for good, everything that could lead back to a person: both numbers (the
ciphertexts), the body, both blind indexes (replaced by a constant), the customer's
reference, the connector's message id and undelivered webhook payloads. Nothing is
hashed or kept under a key: there is nothing left to reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update

from tidings.store.bulk import in_list
from tidings.store.erasures import UNLINKED_INDEX
from tidings.store.tables import message_bodies, messages, webhook_deliveries

_CHUNK = 1024  # a power of two: see bulk.padded_list
GROUPS = ("day", "channel", "direction", "status", "country")


def subject_indexes(conn: Connection, message_ids: Sequence[str]) -> set[tuple[str, bytes]]:
    """(account, subject index) of each message: outbound recipient, inbound sender."""
    found: set[tuple[str, bytes]] = set()
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        rows = conn.execute(
            select(
                messages.c.account_id,
                messages.c.direction,
                messages.c.recipient_index,
                messages.c.sender_index,
            ).where(in_list(conn, messages.c.id, chunk), messages.c.anonymised_at.is_(None))
        )
        for row in rows:
            index = row.recipient_index if row.direction == "outbound" else row.sender_index
            if bytes(index) != UNLINKED_INDEX:
                found.add((row.account_id, bytes(index)))
    return found


def anonymise_messages(conn: Connection, message_ids: Sequence[str], now: datetime) -> int:
    """Anonymise these messages (those not anonymised yet); returns how many were."""
    done = 0
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        conn.execute(
            delete(webhook_deliveries).where(
                in_list(conn, webhook_deliveries.c.message_id, chunk),
                webhook_deliveries.c.state != "delivered",
            )
        )
        conn.execute(
            delete(message_bodies).where(in_list(conn, message_bodies.c.message_id, chunk))
        )
        result = conn.execute(
            update(messages)
            .where(in_list(conn, messages.c.id, chunk), messages.c.anonymised_at.is_(None))
            .values(
                sender_enc=None,
                recipient_enc=None,
                sender_index=UNLINKED_INDEX,
                recipient_index=UNLINKED_INDEX,
                reference=None,
                connector_message_id=None,
                anonymised_at=now,
                updated_at=now,
            )
        )
        done += int(result.rowcount)
    return done


def subject_has_messages(conn: Connection, account_id: str, subject_index: bytes) -> bool:
    """Whether any message still carries this subject's index (both lookups indexed)."""
    query = select(
        or_(
            exists().where(
                messages.c.account_id == account_id, messages.c.recipient_index == subject_index
            ),
            exists().where(
                messages.c.account_id == account_id, messages.c.sender_index == subject_index
            ),
        )
    )
    return bool(conn.execute(query).scalar())


def messages_created_before(
    conn: Connection, account_id: str | None, before_id: str, limit: int
) -> list[str]:
    """Ids of messages not yet anonymised whose id (time-ordered) is below `before_id`."""
    query = select(messages.c.id).where(
        messages.c.id < before_id, messages.c.anonymised_at.is_(None)
    )
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    return list(conn.execute(query.order_by(messages.c.id).limit(limit)).scalars())


def message_counts(
    conn: Connection,
    account_id: str,
    *,
    from_id: str,
    to_id: str,
    group_by: Sequence[str],
    minimum: int,
) -> tuple[list[dict[str, Any]], int]:
    """Counts of an account's messages with ids in [from_id, to_id), grouped; groups with
    fewer than `minimum` messages are left out. Returns (groups, how many were left out)."""
    if conn.dialect.name == "postgresql":
        day = func.to_char(func.timezone("UTC", messages.c.created_at), "YYYY-MM-DD")
    else:  # SQLite stores UTC as text, "YYYY-MM-DD HH:MM:SS..."
        day = func.substr(messages.c.created_at, 1, 10)
    columns = {
        "day": day,
        "channel": messages.c.channel,
        "direction": messages.c.direction,
        "status": messages.c.status,
        "country": messages.c.region,
    }
    keys = [columns[name].label(name) for name in group_by]
    count = func.count().label("messages")
    grouped = (
        select(*keys, count)
        .where(
            and_(
                messages.c.account_id == account_id,
                messages.c.id >= from_id,
                messages.c.id < to_id,
            )
        )
        .group_by(*keys)
    )
    rows = [dict(row._mapping) for row in conn.execute(grouped)]
    kept = [row for row in rows if row["messages"] >= minimum]
    return sorted(kept, key=lambda r: [str(r[k]) for k in group_by]), len(rows) - len(kept)
