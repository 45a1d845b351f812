"""The operator's privacy registers: sub-processors, recipients, contacts, the authority."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from tidings.store.tables import (
    privacy_authority,
    privacy_contacts,
    privacy_recipients,
    privacy_subprocessors,
)

AUTHORITY_ID = "authority"
REGISTERS: dict[str, Table] = {
    "subprocessors": privacy_subprocessors,
    "recipients": privacy_recipients,
    "contacts": privacy_contacts,
}


def _plain(mapping: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (column names are a str subclass)."""
    return {str(key): value for key, value in mapping.items()}


def add_entry(conn: Connection, register: str, values: dict[str, Any]) -> None:
    conn.execute(insert(REGISTERS[register]).values(**values))


def list_entries(conn: Connection, register: str) -> list[dict[str, Any]]:
    table = REGISTERS[register]
    return [
        _plain(row._mapping)
        for row in conn.execute(select(table).order_by(table.c.name, table.c.id))
    ]


def remove_entry(conn: Connection, register: str, entry_id: str) -> bool:
    table = REGISTERS[register]
    return conn.execute(delete(table).where(table.c.id == entry_id)).rowcount == 1


def get_authority(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        select(privacy_authority).where(privacy_authority.c.id == AUTHORITY_ID)
    ).first()
    return _plain(row._mapping) if row is not None else None


def set_authority(conn: Connection, values: dict[str, Any], at: datetime) -> None:
    """Insert or replace the one authority row."""
    changed = conn.execute(
        update(privacy_authority)
        .where(privacy_authority.c.id == AUTHORITY_ID)
        .values(**values, updated_at=at)
    ).rowcount
    if changed == 0:
        conn.execute(insert(privacy_authority).values(id=AUTHORITY_ID, **values, updated_at=at))


def clear_authority(conn: Connection) -> bool:
    result = conn.execute(delete(privacy_authority).where(privacy_authority.c.id == AUTHORITY_ID))
    return result.rowcount == 1
