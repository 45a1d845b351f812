"""Data keys: loading live keys in bulk, storing minted subject keys, destroying keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from tidings.store.bulk import _sqlite_time, in_list
from tidings.store.tables import data_keys

KEY_COLUMNS = ("id", "account_id", "scope", "subject_index", "wrapped", "created_at")
_CHUNK = 5000


def live_wrapped_keys(conn: Connection, key_ids: Sequence[str]) -> dict[str, bytes]:
    """key id -> wrapped key, for the ids that name a key not destroyed."""
    found: dict[str, bytes] = {}
    for start in range(0, len(key_ids), _CHUNK):
        rows = conn.execute(
            select(data_keys.c.id, data_keys.c.wrapped).where(
                in_list(conn, data_keys.c.id, key_ids[start : start + _CHUNK]),
                data_keys.c.wrapped.is_not(None),
            )
        )
        found.update({row.id: bytes(row.wrapped) for row in rows})
    return found


def live_subject_keys(
    conn: Connection, account_id: str, subject_indexes: Sequence[bytes]
) -> dict[bytes, tuple[str, bytes]]:
    """subject index -> (key id, wrapped key) of the subjects that have a live key."""
    found: dict[bytes, tuple[str, bytes]] = {}
    if conn.dialect.name == "postgresql":
        rows = _pg_binary(
            conn,
            "SELECT id, subject_index, wrapped FROM data_keys WHERE account_id = %s "
            "AND subject_index = ANY(%b) AND wrapped IS NOT NULL",
            (account_id, list(subject_indexes)),
        )
        return {bytes(index): (key_id, bytes(wrapped)) for key_id, index, wrapped in rows}
    for start in range(0, len(subject_indexes), _CHUNK):
        for row in conn.execute(
            select(data_keys.c.id, data_keys.c.subject_index, data_keys.c.wrapped).where(
                data_keys.c.account_id == account_id,
                data_keys.c.subject_index.in_(subject_indexes[start : start + _CHUNK]),
                data_keys.c.wrapped.is_not(None),
            )
        ):
            found[bytes(row.subject_index)] = (row.id, bytes(row.wrapped))
    return found


def _pg_binary(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Run with binary parameters (%b): bytea arrays in text form cost an escape per byte."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def insert_minted_keys(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store minted keys; a key another transaction of this process stored already is kept."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        types = ", ".join(
            f"%b::{data_keys.c[c].type.compile(dialect=conn.dialect)}[]" for c in KEY_COLUMNS
        )
        _pg_binary(
            conn,
            f"INSERT INTO data_keys ({', '.join(KEY_COLUMNS)}) "
            f"SELECT * FROM unnest({types}) ON CONFLICT (id) DO NOTHING",
            tuple([row[c] for row in rows] for c in KEY_COLUMNS),
        )
        return
    conn.exec_driver_sql(
        f"INSERT OR IGNORE INTO data_keys ({', '.join(KEY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(KEY_COLUMNS))})",
        [
            (
                row["id"],
                row["account_id"],
                row["scope"],
                row["subject_index"],
                row["wrapped"],
                _sqlite_time(row["created_at"]),
            )
            for row in rows
        ],
    )


def subject_key_ids(conn: Connection, account_id: str, subject_index: bytes) -> list[str]:
    """Every key (live or not yet unlinked) of one subject."""
    return list(
        conn.execute(
            select(data_keys.c.id).where(
                data_keys.c.account_id == account_id,
                data_keys.c.subject_index == subject_index,
            )
        ).scalars()
    )


def destroy_subject_keys(
    conn: Connection, account_id: str, subject_index: bytes, at: datetime
) -> list[str]:
    """Destroy a subject's keys and unlink them from the subject; returns their ids."""
    ids = subject_key_ids(conn, account_id, subject_index)
    if ids:
        conn.execute(
            update(data_keys)
            .where(in_list(conn, data_keys.c.id, ids))
            .values(wrapped=None, subject_index=None, destroyed_at=at)
        )
    return ids


def destroy_account_keys(conn: Connection, account_id: str, at: datetime) -> list[str]:
    """Destroy every key of an account (its account key and all its subjects' keys)."""
    ids = list(
        conn.execute(
            select(data_keys.c.id).where(
                data_keys.c.account_id == account_id, data_keys.c.wrapped.is_not(None)
            )
        ).scalars()
    )
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            update(data_keys)
            .where(in_list(conn, data_keys.c.id, ids[start : start + _CHUNK]))
            .values(wrapped=None, subject_index=None, destroyed_at=at)
        )
    return ids


def live_key_count(conn: Connection, account_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                data_keys.c.account_id == account_id, data_keys.c.wrapped.is_not(None)
            )
        ).scalar_one()
    )
