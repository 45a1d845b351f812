"""Bulk inserts store what SQLAlchemy's own insert stores, whichever form the rows take to
the server (PostgreSQL: COPY, in binary where every column allows it), and
`insert_new_values` keeps the rows stored already, however many rows it is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Connection, select

from tests.support import message_row
from tidings.store.bulk import insert_new_values, insert_values
from tidings.store.database import Database
from tidings.store.tables import messages, validity_watch

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ELSEWHERE = timezone(timedelta(hours=-5))


def _row(n: int, **fields: object) -> dict[str, object]:
    optional = dict.fromkeys(("price", "error_message", "sent_at", "sender_enc", "reference"))
    return message_row(f"msg_{n:026d}", NOW, **{**optional, **fields})


def _utc(value: object) -> object:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _stored(conn: Connection, ids: list[str]) -> list[tuple[object, ...]]:
    query = select(messages).where(messages.c.id.in_(ids)).order_by(messages.c.id)
    return [tuple(row) for row in conn.execute(query)]


def test_insert_values_stores_what_an_insert_stores(db: Database) -> None:
    # SQLite's driver takes no Decimal: prices are written there by SQLAlchemy alone
    price = None if db.is_sqlite else Decimal("0.04250")
    variants = [
        {"price": price, "error_message": "ünïcode\ttab\nline", "attempts": 3},
        {"price": None, "sent_at": datetime(2026, 3, 1, 7, 0, tzinfo=ELSEWHERE)},
        {"sender_enc": b"\x00\\\x01\xff", "reference": None, "segments": 2},
    ]
    # (SQLAlchemy stores an aware time on SQLite as its wall time: give it the UTC one)
    in_utc = [{k: _utc(v) for k, v in fields.items()} for fields in variants]
    by_insert = [_row(n, **fields) for n, fields in enumerate(in_utc)]
    by_copy = [_row(100 + n, **fields) for n, fields in enumerate(variants)]
    columns = list(by_copy[0])
    with db.write() as conn:
        conn.execute(messages.insert(), by_insert)
        insert_values(conn, messages, columns, [[row[c] for c in columns] for row in by_copy])
    with db.read() as conn:
        inserted = _stored(conn, [str(r["id"]) for r in by_insert])
        copied = _stored(conn, [str(r["id"]) for r in by_copy])
    assert len(copied) == len(variants)
    assert [row[1:] for row in copied] == [row[1:] for row in inserted]


@pytest.mark.parametrize("count", [3, 250])
def test_insert_new_values_keeps_the_rows_stored_already(db: Database, count: int) -> None:
    """Few rows go in one statement; many first as a COPY in a savepoint, which a stored
    row undoes before the statement that skips it runs."""
    ids = [f"msg_{n:026d}" for n in range(count)]
    stored_at = NOW - timedelta(days=1)
    with db.write() as conn:
        insert_new_values(conn, validity_watch, ("message_id", "expires_at"), [(ids[1], stored_at)])
    with db.write() as conn:
        insert_new_values(
            conn, validity_watch, ("message_id", "expires_at"), [(i, NOW) for i in ids]
        )
        # the transaction goes on after the undone COPY
        insert_new_values(conn, validity_watch, ("message_id", "expires_at"), [("msg_x", NOW)])
    with db.read() as conn:
        rows = dict(conn.execute(select(validity_watch)).all())
    assert len(rows) == count + 1
    assert rows[ids[1]].replace(tzinfo=UTC) == stored_at
    assert {rows[i].replace(tzinfo=UTC) for i in ids if i != ids[1]} == {NOW}


def test_insert_new_values_of_many_new_rows_rolls_back_with_its_transaction(db: Database) -> None:
    ids = [f"msg_{n:026d}" for n in range(250)]
    with pytest.raises(RuntimeError), db.write() as conn:
        insert_new_values(
            conn, validity_watch, ("message_id", "expires_at"), [(i, NOW) for i in ids]
        )
        raise RuntimeError("the rest of the transaction failed")
    with db.read() as conn:
        assert conn.execute(select(validity_watch)).first() is None
