"""Monthly partitions of the message tables (PostgreSQL): made ahead, rows where they belong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import truncate_filled
from tidings.core.ids import new_id
from tidings.store.database import Database
from tidings.store.migrate import downgrade, upgrade
from tidings.store.partitions import (
    PARTITIONED,
    Month,
    ensure_ahead,
    ensure_months,
    is_partition,
    months,
    partitioned,
)


def test_a_month_is_the_range_of_the_ids_of_its_messages() -> None:
    march = Month(2026, 3)
    assert march.plus(10) == Month(2027, 1) and march.plus(-3) == Month(2025, 12)
    first = datetime(2026, 3, 1, tzinfo=UTC)
    for moment in (
        first,
        first + timedelta(days=15),
        Month(2026, 4).start - timedelta(milliseconds=1),
    ):
        assert march.low <= new_id("msg", moment) < march.high, moment
    assert new_id("msg", first - timedelta(milliseconds=1)) < march.low
    assert new_id("msg", Month(2026, 4).start) >= march.high
    assert march.high == Month(2026, 4).low
    assert Month.of(datetime(2026, 3, 31, 23, 59, tzinfo=UTC)) == march


def test_partition_names_are_told_from_declared_tables() -> None:
    assert is_partition("messages_m202603") and is_partition("message_events_default")
    assert not is_partition("messages") and not is_partition("contacts_m202603")


@pytest.fixture
def postgres(postgres_url: str) -> Database:
    """PostgreSQL alone: partitions are its (SQLite keeps plain tables)."""
    truncate_filled(postgres_url)
    db = Database(postgres_url)
    upgrade(db)
    return db


def _message(conn: object, message_id: str) -> None:
    now = datetime.now(UTC)
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO messages (id, account_id, direction, channel, sender_index,"
            " recipient_index, encoding, segments, status, purpose, attempts, created_at,"
            " updated_at) VALUES (:id, 'acc_1', 'outbound', 'sms', 'i', 'i', 'gsm7', 1,"
            " 'delivered', 'transactional', 1, :at, :at)"
        ),
        {"id": message_id, "at": now},
    )
    conn.execute(  # type: ignore[attr-defined]
        text("INSERT INTO message_events (message_id, status, at) VALUES (:id, 'queued', :at)"),
        {"id": message_id, "at": now},
    )


def _where(conn: object, message_id: str) -> set[str]:
    """The partitions holding the message and its event."""
    found = set()
    for table, column in PARTITIONED.items():
        if table == "message_bodies":
            continue
        found.add(
            conn.execute(  # type: ignore[attr-defined]
                text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = :id"),
                {"id": message_id},
            ).scalar_one()
        )
    return found


def test_months_are_made_ahead_and_a_month_made_late_takes_its_rows(postgres: Database) -> None:
    try:
        with postgres.write() as conn:
            assert partitioned(conn)
            ensure_ahead(conn, datetime(2031, 5, 20, tzinfo=UTC))
            assert {Month(2031, m) for m in (5, 6, 7, 8)} <= set(months(conn))
            assert ensure_ahead(conn, datetime(2031, 5, 20, tzinfo=UTC)) == []  # idempotent
            early = new_id("msg", datetime(2029, 2, 3, tzinfo=UTC))
            _message(conn, early)  # no month yet: the default partitions take it
            assert _where(conn, early) == {"messages_default", "message_events_default"}
            assert ensure_months(conn, [Month(2029, 2)]) == [Month(2029, 2)]
            assert _where(conn, early) == {"messages_m202902", "message_events_m202902"}
            later = new_id("msg", datetime(2031, 6, 30, tzinfo=UTC))
            _message(conn, later)
            assert _where(conn, later) == {"messages_m203106", "message_events_m203106"}
    finally:
        postgres.dispose()


def test_the_migration_moves_messages_into_their_months_and_back(postgres: Database) -> None:
    old = new_id("msg", datetime(2025, 7, 9, tzinfo=UTC))
    try:
        downgrade(postgres, "0016_message_bodies")
        with postgres.write() as conn:
            assert not partitioned(conn)
            _message(conn, old)
            conn.execute(text("UPDATE messages SET created_at = '2025-07-09T00:00:00Z'"))
        upgrade(postgres)
        with postgres.write() as conn:
            assert _where(conn, old) == {"messages_m202507", "message_events_m202507"}
            assert Month.of(datetime.now(UTC)).plus(3) in months(conn)
            event_id = conn.execute(text("SELECT max(id) FROM message_events")).scalar_one()
        downgrade(postgres, "0016_message_bodies")
        with postgres.write() as conn:
            assert _where(conn, old) == {"messages", "message_events"}
            _message(conn, new_id("msg", datetime.now(UTC)))  # the event ids carry on
            assert conn.execute(text("SELECT max(id) FROM message_events")).scalar() > event_id
    finally:
        upgrade(postgres)  # other tests share the PostgreSQL database
        postgres.dispose()
