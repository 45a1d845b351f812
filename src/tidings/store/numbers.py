"""The numbers and sender ids each account owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from tidings.store.tables import numbers


def insert_number(
    conn: Connection,
    *,
    number_id: str,
    account_id: str,
    channel: str,
    number_enc: bytes,
    number_index: bytes,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(numbers).values(
            id=number_id,
            account_id=account_id,
            channel=channel,
            number_enc=number_enc,
            number_index=number_index,
            created_at=created_at,
        )
    )


def owner_of(conn: Connection, channel: str, number_index: bytes) -> Row[Any] | None:
    return conn.execute(
        select(numbers).where(numbers.c.channel == channel, numbers.c.number_index == number_index)
    ).first()


def list_numbers(conn: Connection, account_id: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(numbers).where(numbers.c.account_id == account_id).order_by(numbers.c.id)
        )
    )


def delete_number(conn: Connection, account_id: str, number_id: str) -> bool:
    result = conn.execute(
        delete(numbers).where(numbers.c.id == number_id, numbers.c.account_id == account_id)
    )
    return result.rowcount == 1
