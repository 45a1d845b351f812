"""Durable webhook deliveries: pending, delivered, or dead-lettered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update

from tidings.store.bulk import in_list
from tidings.store.tables import webhook_deliveries


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(webhook_deliveries), list(rows))


def claim_due(
    conn: Connection,
    *,
    now: datetime,
    limit: int,
    lease_until: datetime,
    skip_locked: bool,
    per_account: int,
    in_flight: Mapping[str, int],
) -> list[Row[Any]]:
    """Lease up to `limit` due deliveries, oldest first, with at most `per_account` of one
    account in flight, counting the `in_flight` ones it already has (account id -> number).
    So one account's deliveries to a receiver that never answers cannot take every slot."""
    full = [account for account, count in in_flight.items() if count >= per_account]
    candidates = (
        select(webhook_deliveries.c.id, webhook_deliveries.c.account_id)
        .where(
            webhook_deliveries.c.state == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now),
        )
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit * 4)  # room to pass over an account's deliveries beyond its share
    )
    if full:
        candidates = candidates.where(webhook_deliveries.c.account_id.not_in(full))
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True)
    taken = Counter(in_flight)
    ids: list[str] = []
    for row in conn.execute(candidates):
        if taken[row.account_id] < per_account:
            taken[row.account_id] += 1
            ids.append(row.id)
            if len(ids) == limit:
                break
    if not ids:
        return []
    conn.execute(
        update(webhook_deliveries)
        .where(in_list(conn, webhook_deliveries.c.id, ids))
        .values(lease_until=lease_until)
    )
    return list(
        conn.execute(
            select(webhook_deliveries)
            .where(in_list(conn, webhook_deliveries.c.id, ids))
            .order_by(webhook_deliveries.c.created_at)
        )
    )


def record_attempt(
    conn: Connection,
    delivery_id: str,
    *,
    state: str,
    attempts: int,
    next_attempt_at: datetime,
    last_error: str | None,
    delivered_at: datetime | None,
) -> None:
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            state=state,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=last_error,
            delivered_at=delivered_at,
            lease_until=None,
        )
    )


def list_failures(
    conn: Connection, account_id: str, *, before_id: str | None, limit: int
) -> list[Row[Any]]:
    query = select(webhook_deliveries).where(
        webhook_deliveries.c.account_id == account_id, webhook_deliveries.c.state == "dead"
    )
    if before_id is not None:
        query = query.where(webhook_deliveries.c.id < before_id)
    return list(conn.execute(query.order_by(webhook_deliveries.c.id.desc()).limit(limit)))


def get_delivery(conn: Connection, account_id: str, delivery_id: str) -> Row[Any] | None:
    return conn.execute(
        select(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.account_id == account_id
        )
    ).first()


def replay(conn: Connection, account_id: str, delivery_id: str, now: datetime) -> bool:
    """Put a dead-lettered delivery back in the queue with a fresh 24-hour budget."""
    result = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.account_id == account_id,
            webhook_deliveries.c.state == "dead",
        )
        .values(state="pending", attempts=0, next_attempt_at=now, created_at=now, lease_until=None)
    )
    return result.rowcount == 1
