"""Rows written at the driver level store times as SQLAlchemy itself does on SQLite, so
both kinds of rows compare and read alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, text

from tidings.store.bulk import insert_rows

TIMES = [
    datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 3, 1, 12, 0),  # naive: UTC by convention
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
]


def test_insert_rows_stores_the_text_sqlalchemy_stores() -> None:
    table = Table(
        "times",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True)),
    )
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    utc = [t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t for t in TIMES]
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "at": t} for i, t in enumerate(utc)])
        insert_rows(conn, table, [{"id": 100 + i, "at": t} for i, t in enumerate(TIMES)])
        stored = dict(conn.execute(text("SELECT id, at FROM times")).all())
    assert [stored[100 + i] for i in range(len(TIMES))] == [stored[i] for i in range(len(TIMES))]
