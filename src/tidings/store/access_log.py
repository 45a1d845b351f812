"""The API's access log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from tidings.store.bulk import insert_rows
from tidings.store.tables import api_access_log


def insert_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Rows with the same keys: one entry per API request, so written at the driver level."""
    insert_rows(conn, api_access_log, rows)


def list_entries(
    conn: Connection, account_id: str | None, before: str | None, limit: int
) -> list[Row[Any]]:
    """Newest first; `account_id` None: every account's."""
    query = select(api_access_log).order_by(api_access_log.c.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(api_access_log.c.account_id == account_id)
    if before is not None:
        query = query.where(api_access_log.c.id < before)
    return list(conn.execute(query))
