"""Accounts, their data keys, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tidings.store.tables import accounts, api_keys, data_keys, users


def insert_account(
    conn: Connection,
    *,
    account_id: str,
    name_enc: bytes,
    webhook_secret_enc: bytes,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(accounts).values(
            id=account_id,
            name_enc=name_enc,
            status="active",
            webhook_secret_enc=webhook_secret_enc,
            created_at=created_at,
        )
    )


def get_account(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(select(accounts).where(accounts.c.id == account_id)).first()


def list_accounts(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(accounts).order_by(accounts.c.id)))


def set_webhook_url(conn: Connection, account_id: str, url: str | None) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(webhook_url=url))


def insert_data_key(
    conn: Connection,
    *,
    key_id: str,
    account_id: str,
    wrapped: bytes | None,
    created_at: datetime,
    scope: str = "account",
    subject_index: bytes | None = None,
) -> None:
    conn.execute(
        insert(data_keys).values(
            id=key_id,
            account_id=account_id,
            scope=scope,
            subject_index=subject_index,
            wrapped=wrapped,
            created_at=created_at,
        )
    )


def wrapped_key(conn: Connection, key_id: str) -> bytes | None:
    value = conn.execute(select(data_keys.c.wrapped).where(data_keys.c.id == key_id)).scalar()
    return bytes(value) if value is not None else None


def active_account_key_id(conn: Connection, account_id: str) -> str | None:
    return conn.execute(
        select(data_keys.c.id)
        .where(
            data_keys.c.account_id == account_id,
            data_keys.c.scope == "account",
            data_keys.c.destroyed_at.is_(None),
        )
        .order_by(data_keys.c.id.desc())
        .limit(1)
    ).scalar()


def insert_user(
    conn: Connection,
    *,
    user_id: str,
    account_id: str,
    email_enc: bytes,
    email_index: bytes,
    password_hash: str,
    role: str,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(users).values(
            id=user_id,
            account_id=account_id,
            email_enc=email_enc,
            email_index=email_index,
            password_hash=password_hash,
            role=role,
            created_at=created_at,
        )
    )


def user_by_email_index(conn: Connection, email_index: bytes) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.email_index == email_index)).first()


def insert_api_key(
    conn: Connection,
    *,
    key_id: str,
    account_id: str,
    name: str,
    prefix: str,
    secret_hash: bytes,
    scopes: str,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            account_id=account_id,
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            scopes=scopes,
            created_at=created_at,
        )
    )


def api_key_by_prefix(conn: Connection, prefix: str) -> Row[Any] | None:
    return conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()


def list_api_keys(conn: Connection, account_id: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(api_keys).where(api_keys.c.account_id == account_id).order_by(api_keys.c.id)
        )
    )


def revoke_api_key(conn: Connection, account_id: str, key_id: str, at: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            api_keys.c.account_id == account_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def close_account(conn: Connection, account_id: str, at: datetime) -> bool:
    """Mark an open account closed at `at`; False when it is already closed."""
    result = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.closed_at.is_(None))
        .values(status="closed", closed_at=at)
    )
    return result.rowcount == 1


def revoke_all_api_keys(conn: Connection, account_id: str, at: datetime) -> int:
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.account_id == account_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(result.rowcount)
