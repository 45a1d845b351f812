"""Inquiries of prospects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from tidings.store.tables import inquiries


def insert_inquiry(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(inquiries).values(**row))


def list_inquiries(conn: Connection, before: str | None, limit: int) -> list[Row[Any]]:
    query = select(inquiries).order_by(inquiries.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(inquiries.c.id < before)
    return list(conn.execute(query))


def get_inquiry(conn: Connection, inquiry_id: str) -> Row[Any] | None:
    return conn.execute(select(inquiries).where(inquiries.c.id == inquiry_id)).first()


def delete_inquiry(conn: Connection, inquiry_id: str) -> bool:
    return conn.execute(delete(inquiries).where(inquiries.c.id == inquiry_id)).rowcount == 1
