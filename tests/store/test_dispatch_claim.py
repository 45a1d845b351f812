"""Claiming dispatch work: the oldest due items that no live lease holds, found by index
however stale the database's statistics of the queue are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tidings.core.ids import new_id
from tidings.store.bulk import insert_values
from tidings.store.database import Database
from tidings.store.messages import claim_due, claim_statement
from tidings.store.tables import dispatch_queue

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=60)


def _queue(db: Database, count: int) -> list[str]:
    """`count` items, due a second apart up to `NOW`, oldest first."""
    ids = [new_id("msg", NOW) for _ in range(count)]
    rows = [(m, NOW - timedelta(seconds=count - n), "") for n, m in enumerate(ids)]
    with db.write() as conn:
        insert_values(conn, dispatch_queue, ("message_id", "run_at", "tried_connectors"), rows)
    return ids


def _claim(db: Database, limit: int, owner: str, now: datetime = NOW) -> list[str]:
    with db.write() as conn:
        work = claim_due(
            conn,
            now=now,
            limit=limit,
            owner=owner,
            lease_until=now + timedelta(seconds=60),
            skip_locked=not db.is_sqlite,
        )
    return [w.message_id for w in work]


def test_claims_take_the_oldest_due_work_and_skip_what_a_live_lease_holds(db: Database) -> None:
    ids = _queue(db, 30)
    with db.write() as conn:
        insert_values(
            conn,
            dispatch_queue,
            ("message_id", "run_at", "tried_connectors"),
            [(new_id("msg", NOW), NOW + timedelta(minutes=5), "")],  # not due yet
        )
    first = _claim(db, 10, "worker-a")
    assert sorted(first) == sorted(ids[:10])
    second = _claim(db, 10, "worker-b")
    assert sorted(second) == sorted(ids[10:20])
    # The rest, and nothing that is not due.
    assert sorted(_claim(db, 50, "worker-b")) == sorted(ids[20:])
    assert _claim(db, 50, "worker-c") == []
    # Once the first leases run out, their work can be claimed again.
    assert sorted(_claim(db, 50, "worker-c", now=LEASE + timedelta(seconds=1))) == sorted(ids)


def test_the_claim_updates_its_rows_by_the_primary_key_with_no_statistics(db: Database) -> None:
    if db.is_sqlite:
        return  # one statement shape, planned by SQLite from its indexes alone
    _queue(db, 20_000)  # and no ANALYZE: the planner guesses the queue's size
    with db.read() as conn:
        plan = "\n".join(
            str(row[0])
            for row in conn.exec_driver_sql(
                "EXPLAIN " + claim_statement(postgresql=True, skip_locked=True),
                (LEASE, "worker-a", NOW, NOW, 100),
            )
        )
    update = plan.split("InitPlan")[0] + plan.split("\n  ->", 1)[-1]
    assert "Hash" not in update, plan
    assert "Index Scan on pk_dispatch_queue" in update, plan
