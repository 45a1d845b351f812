"""Claiming dispatch work: the oldest due items that no live lease holds, found by index
however stale the database's statistics of the queue are; the items in flight are not
read again by the next claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tidings.core.clock import to_utc
from tidings.core.ids import new_id
from tidings.store.bulk import insert_values
from tidings.store.database import Database
from tidings.store.messages import claim_due, claim_statement, release_all_leases, renew_leases
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
                (LEASE, "worker-a", LEASE, NOW, 100),
            )
        )
    update = plan.split("InitPlan")[0] + plan.split("\n  ->", 1)[-1]
    assert "Hash" not in update, plan
    assert "Index Scan on pk_dispatch_queue" in update, plan
    # the due items are read in the order of the due time's index, not sorted
    assert "Sort" not in plan and "ix_dispatch_queue_run_at" in plan, plan


def _run_at(db: Database, ids: list[str]) -> set[datetime]:
    with db.read() as conn:
        rows = conn.execute(
            select(dispatch_queue.c.run_at).where(dispatch_queue.c.message_id.in_(ids))
        ).scalars()
        return {to_utc(r) for r in rows}


def test_work_in_flight_is_due_again_when_its_lease_ends(db: Database) -> None:
    """The claim moves an item to the end of its lease, so the next claim's walk of the
    queue's index starts past it; renewing moves it on, releasing makes it due at once."""
    ids = _queue(db, 20)
    claimed = _claim(db, 10, "worker-a")
    assert _run_at(db, claimed) == {LEASE}
    later = LEASE + timedelta(seconds=30)
    with db.write() as conn:
        renew_leases(conn, claimed[:5], "worker-a", later)
        renew_leases(conn, claimed[5:], "worker-other", later)  # not its lease: unchanged
    assert _run_at(db, claimed[:5]) == {later} and _run_at(db, claimed[5:]) == {LEASE}
    # past the first lease only the items not renewed come back, oldest due first
    assert sorted(_claim(db, 50, "worker-b", now=LEASE + timedelta(seconds=1))) == sorted(
        ids[10:] + claimed[5:]
    )
    with db.write() as conn:
        assert release_all_leases(conn, NOW) == 20
    assert _run_at(db, ids) == {NOW}
    assert sorted(_claim(db, 50, "worker-c")) == sorted(ids)


def test_the_claim_is_planned_at_each_run_and_never_kept_prepared(db: Database) -> None:
    """A prepared statement's generic plan outlives the queue's size: made while the queue
    was empty, it scanned the whole queue in every later claim. The claim is never
    prepared, however often a connection runs it."""
    if db.is_sqlite:
        return
    _queue(db, 5)
    with db.write() as conn:
        for _ in range(8):  # the driver prepares a statement from its fifth run
            claim_due(conn, now=NOW, limit=1, owner="worker-a", lease_until=LEASE, skip_locked=True)
            conn.exec_driver_sql("SELECT 1 FROM dispatch_queue WHERE run_at <= %s", (NOW,))
        prepared = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars()
        statements = [str(s) for s in prepared]
    assert not [s for s in statements if s.startswith("UPDATE dispatch_queue")], statements
