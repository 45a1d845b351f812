"""The SMPP server's tables: credentials, receipts asked for, and the deliver_sm outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from tidings.store.bulk import driver_in, driver_rows, in_list
from tidings.store.messages import messages_with_body
from tidings.store.tables import (
    messages,
    smpp_account_limits,
    smpp_credentials,
    smpp_outbox,
    smpp_receipt_requests,
)

# -- credentials -----------------------------------------------------------------------


def insert_credential(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(smpp_credentials).values(**row))


def credential_by_system_id(conn: Connection, system_id: str) -> Row[Any] | None:
    return conn.execute(
        select(smpp_credentials).where(smpp_credentials.c.system_id == system_id)
    ).first()


def list_credentials(conn: Connection, account_id: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(smpp_credentials)
            .where(smpp_credentials.c.account_id == account_id)
            .order_by(smpp_credentials.c.id)
        )
    )


def revoke_credential(conn: Connection, account_id: str, credential_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(smpp_credentials)
        .where(
            smpp_credentials.c.id == credential_id,
            smpp_credentials.c.account_id == account_id,
            smpp_credentials.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def account_limits(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(
        select(smpp_account_limits).where(smpp_account_limits.c.account_id == account_id)
    ).first()


def set_account_limits(conn: Connection, row: dict[str, Any]) -> None:
    """Insert or replace the account's caps (one row per account)."""
    conn.execute(
        delete(smpp_account_limits).where(smpp_account_limits.c.account_id == row["account_id"])
    )
    conn.execute(insert(smpp_account_limits).values(**row))


def clear_account_limits(conn: Connection, account_id: str) -> bool:
    result = conn.execute(
        delete(smpp_account_limits).where(smpp_account_limits.c.account_id == account_id)
    )
    return result.rowcount == 1


def accounts_with_credentials(conn: Connection, account_ids: set[str]) -> set[str]:
    if not account_ids:
        return set()
    rows = conn.execute(
        select(smpp_credentials.c.account_id)
        .where(
            in_list(conn, smpp_credentials.c.account_id, sorted(account_ids)),
            smpp_credentials.c.revoked_at.is_(None),
        )
        .distinct()
    )
    return {row.account_id for row in rows}


# -- receipt requests -------------------------------------------------------------------


def receipt_requests(conn: Connection, message_ids: Sequence[str]) -> dict[str, int]:
    """message id -> registered_delivery mode, for the messages that asked for a receipt.

    Driver-level SQL: it runs in every transaction that makes messages final."""
    if not message_ids:
        return {}
    test, params = driver_in(conn, message_ids)
    rows = driver_rows(
        conn,
        f"SELECT message_id, mode FROM smpp_receipt_requests WHERE message_id {test}",
        tuple(params),
    )
    return {message_id: mode for message_id, mode in rows}


def forget_receipt_requests(conn: Connection, message_ids: Sequence[str]) -> None:
    if message_ids:
        conn.execute(
            delete(smpp_receipt_requests).where(
                in_list(conn, smpp_receipt_requests.c.message_id, message_ids)
            )
        )


# -- outbox -----------------------------------------------------------------------------


def insert_outbox(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(smpp_outbox), list(rows))


def claim_outbox(
    conn: Connection,
    account_id: str,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    skip_locked: bool,
) -> list[Row[Any]]:
    """The account's oldest unleased entries, in the order they were written, leased."""
    due = (
        select(smpp_outbox.c.id)
        .where(
            smpp_outbox.c.account_id == account_id,
            or_(smpp_outbox.c.lease_until.is_(None), smpp_outbox.c.lease_until < now),
        )
        .order_by(smpp_outbox.c.id)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    ids = [row.id for row in conn.execute(due)]
    if not ids:
        return []
    conn.execute(
        update(smpp_outbox)
        .where(in_list(conn, smpp_outbox.c.id, ids))
        .values(lease_until=lease_until, attempts=smpp_outbox.c.attempts + 1)
    )
    return list(
        conn.execute(
            select(smpp_outbox)
            .where(in_list(conn, smpp_outbox.c.id, ids))
            .order_by(smpp_outbox.c.id)
        )
    )


def delete_outbox(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(smpp_outbox).where(in_list(conn, smpp_outbox.c.id, ids)))


def release_outbox(conn: Connection, ids: Sequence[int]) -> None:
    """Hand entries back for the next bind (their deliver_sm was not acknowledged)."""
    if ids:
        conn.execute(
            update(smpp_outbox).where(in_list(conn, smpp_outbox.c.id, ids)).values(lease_until=None)
        )


def outbox_depth(conn: Connection, account_id: str | None = None) -> int:
    query = select(func.count()).select_from(smpp_outbox)
    if account_id is not None:
        query = query.where(smpp_outbox.c.account_id == account_id)
    return int(conn.execute(query).scalar_one())


def outbox_messages(
    conn: Connection, account_id: str, message_ids: Sequence[str]
) -> dict[str, Any]:
    """The messages that outbox entries name, by id, in one query."""
    if not message_ids:
        return {}
    rows = conn.execute(
        messages_with_body.where(
            messages.c.account_id == account_id,
            in_list(conn, messages.c.id, sorted(set(message_ids))),
        )
    )
    return {row.id: row for row in rows}


def revoke_all_credentials(conn: Connection, account_id: str, now: datetime) -> int:
    result = conn.execute(
        update(smpp_credentials)
        .where(smpp_credentials.c.account_id == account_id, smpp_credentials.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)
