"""Inquiries of prospects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, text

from tidings.store.tables import inquiries


def insert_inquiry(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(inquiries).values(**row))


def count_from_source(conn: Connection, source_index: bytes, since: datetime) -> int:
    """Inquiries from one client address (its blind index) since `since`. On PostgreSQL the
    address is locked for the rest of the transaction first, so that two requests from it
    at once are counted one after the other (SQLite writes one transaction at a time)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(source_index[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    query = select(func.count()).where(
        inquiries.c.source_index == source_index, inquiries.c.created_at > since
    )
    return int(conn.execute(query).scalar_one())


def list_inquiries(conn: Connection, before: str | None, limit: int) -> list[Row[Any]]:
    query = select(inquiries).order_by(inquiries.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(inquiries.c.id < before)
    return list(conn.execute(query))


def get_inquiry(conn: Connection, inquiry_id: str) -> Row[Any] | None:
    return conn.execute(select(inquiries).where(inquiries.c.id == inquiry_id)).first()


def delete_inquiry(conn: Connection, inquiry_id: str) -> bool:
    return conn.execute(delete(inquiries).where(inquiries.c.id == inquiry_id)).rowcount == 1
