"""The register of requests of courts and authorities: rows of `authority_requests`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from tidings.store.tables import authority_requests


def insert_request(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(authority_requests).values(**row))


def get_request(conn: Connection, request_id: str) -> Row[Any] | None:
    query = select(authority_requests).where(authority_requests.c.id == request_id)
    return conn.execute(query).first()


def list_requests(
    conn: Connection, account_id: str | None, before: str | None, limit: int
) -> list[Row[Any]]:
    """Newest first; `before` an id: the page after it."""
    query = select(authority_requests).order_by(authority_requests.c.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(authority_requests.c.account_id == account_id)
    if before is not None:
        query = query.where(authority_requests.c.id < before)
    return list(conn.execute(query))


def answer(conn: Connection, request_id: str, disclosure_enc: bytes, at: datetime) -> bool:
    """Record the answer of a request not answered yet; False when it is unknown or was
    answered already (one statement: two answers at once cannot both land)."""
    result = conn.execute(
        update(authority_requests)
        .where(authority_requests.c.id == request_id, authority_requests.c.answered_at.is_(None))
        .values(disclosure_enc=disclosure_enc, answered_at=at, updated_at=at)
    )
    return result.rowcount == 1
