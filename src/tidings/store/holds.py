"""Legal holds: rows of `legal_holds`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tidings.core.clock import to_utc
from tidings.domain.holds import Hold
from tidings.store.tables import accounts, legal_holds


def _hold(row: Row[Any]) -> Hold:
    return Hold(
        id=row.id,
        account_id=row.account_id,
        subject_index=bytes(row.subject_index) if row.subject_index is not None else None,
        held_from=to_utc(row.held_from) if row.held_from is not None else None,
        held_until=to_utc(row.held_until) if row.held_until is not None else None,
        created_at=to_utc(row.created_at),
        released_at=to_utc(row.released_at) if row.released_at is not None else None,
    )


def lock_account(conn: Connection, account_id: str) -> bool:
    """Serialise hold changes of one account (PostgreSQL row lock); False: no such account."""
    query = select(accounts.c.id).where(accounts.c.id == account_id)
    if conn.dialect.name != "sqlite":  # SQLite writers are serialised already
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def insert_hold(
    conn: Connection,
    *,
    hold_id: str,
    account_id: str,
    subject_index: bytes | None,
    held_from: datetime | None,
    held_until: datetime | None,
    reason_enc: bytes,
    authority_enc: bytes,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(legal_holds).values(
            id=hold_id,
            account_id=account_id,
            subject_index=subject_index,
            held_from=held_from,
            held_until=held_until,
            reason_enc=reason_enc,
            authority_enc=authority_enc,
            created_at=created_at,
        )
    )


def get_row(conn: Connection, hold_id: str) -> Row[Any] | None:
    return conn.execute(select(legal_holds).where(legal_holds.c.id == hold_id)).first()


def list_rows(conn: Connection, account_id: str | None = None) -> list[Row[Any]]:
    query = select(legal_holds).order_by(legal_holds.c.id)
    if account_id is not None:
        query = query.where(legal_holds.c.account_id == account_id)
    return list(conn.execute(query))


def active_holds(conn: Connection, account_id: str | None = None) -> list[Hold]:
    """Holds not released, oldest first (all accounts, or one)."""
    query = select(legal_holds).where(legal_holds.c.released_at.is_(None))
    if account_id is not None:
        query = query.where(legal_holds.c.account_id == account_id)
    return [_hold(row) for row in conn.execute(query.order_by(legal_holds.c.id))]


def as_hold(row: Row[Any]) -> Hold:
    return _hold(row)


def release(conn: Connection, hold_id: str, at: datetime) -> bool:
    """Mark an active hold released; False when it is unknown or released already."""
    result = conn.execute(
        update(legal_holds)
        .where(legal_holds.c.id == hold_id, legal_holds.c.released_at.is_(None))
        .values(released_at=at)
    )
    return result.rowcount == 1
