"""The validity sweep works from its own worklist: the messages that became `sent` with a
validity period. It expires those still `sent` once their validity and its grace have
passed, and never reads the messages table by status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, select

from tests.support import message_row
from tidings.core.clock import ManualClock
from tidings.core.ids import new_ids
from tidings.pipeline.transitions import Change
from tidings.pipeline.validity import ValiditySweeper
from tidings.runtime import Runtime
from tidings.store import messages as message_store
from tidings.store import validity as validity_store
from tidings.store.tables import messages, validity_watch

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)


def _message(message_id: str, expires_at: datetime | None) -> dict[str, object]:
    return message_row(
        message_id,
        NOW,
        account_id="acc_validity",
        status="sending",
        attempts=1,
        expires_at=expires_at,
    )


def _watched(conn: Connection) -> list[str]:
    return sorted(conn.scalars(select(validity_watch.c.message_id)))


def _statuses(runtime: Runtime, ids: list[str]) -> list[str]:
    with runtime.db.read() as conn:
        states = message_store.lock_states(conn, ids, for_update=False)
    return [states[i].status for i in ids]


def test_only_messages_sent_with_a_validity_period_are_watched(
    runtime: Runtime, clock: ManualClock
) -> None:
    valid, plain, failed = new_ids("msg", NOW, 3)
    with runtime.db.write() as conn:
        conn.execute(
            insert(messages),
            [
                _message(valid, NOW + timedelta(minutes=5)),
                _message(plain, None),
                _message(failed, NOW + timedelta(minutes=5)),
            ],
        )
        changes = [Change(valid, "sent"), Change(plain, "sent"), Change(failed, "failed")]
        runtime.writer.apply(conn, changes, NOW)
        assert _watched(conn) == [valid]
        runtime.writer.apply(conn, [Change(valid, "sent")], NOW)  # a repeat changes nothing
        assert _watched(conn) == [valid]


def test_the_sweep_expires_what_is_still_sent_after_the_grace_and_forgets_the_rest(
    runtime: Runtime,
) -> None:
    ends = NOW + timedelta(minutes=5)
    silent, answered, later, gone = new_ids("msg", NOW, 4)
    with runtime.db.write() as conn:
        conn.execute(
            insert(messages),
            [_message(m, ends) for m in (silent, answered, gone)]
            + [_message(later, ends + timedelta(hours=1))],
        )
        runtime.writer.apply(
            conn, [Change(m, "sent") for m in (silent, answered, later, gone)], NOW
        )
        runtime.writer.apply(conn, [Change(answered, "delivered")], NOW)
        conn.execute(messages.delete().where(messages.c.id == gone))  # retention took it
    sweeper = ValiditySweeper(runtime.db, runtime.clock, runtime.writer, grace=GRACE, batch=2)

    assert sweeper.sweep(ends + GRACE - timedelta(seconds=1)) == 0  # within the grace
    assert _statuses(runtime, [silent, answered]) == ["sent", "delivered"]

    assert sweeper.sweep(ends + GRACE + timedelta(seconds=1)) == 1
    assert _statuses(runtime, [silent, answered, later]) == ["expired", "delivered", "sent"]
    with runtime.db.read() as conn:
        assert _watched(conn) == [later]  # two batches of 2: all three ended entries gone
        history = message_store.history(conn, [answered])[answered]
    assert [e.status for e in history] == ["sent", "delivered"]  # no ignored expiry noted

    assert sweeper.sweep(ends + timedelta(hours=2)) == 1
    assert _statuses(runtime, [later]) == ["expired"]


def test_two_sweeps_at_once_expire_each_message_once(runtime: Runtime) -> None:
    ends = NOW + timedelta(minutes=5)
    ids = new_ids("msg", NOW, 40)
    with runtime.db.write() as conn:
        conn.execute(insert(messages), [_message(m, ends) for m in ids])
        runtime.writer.apply(conn, [Change(m, "sent") for m in ids], NOW)
    first = ValiditySweeper(runtime.db, runtime.clock, runtime.writer, grace=GRACE, batch=7)
    second = ValiditySweeper(runtime.db, runtime.clock, runtime.writer, grace=GRACE, batch=7)
    after = ends + GRACE + timedelta(seconds=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        moved = list(pool.map(lambda sweeper: sweeper.sweep(after), (first, second)))
    assert sum(moved) == 40
    with runtime.db.read() as conn:
        history = message_store.history(conn, ids)
        assert _watched(conn) == []
    assert all([e.status for e in history[m]] == ["sent", "expired"] for m in ids)


def test_the_worklist_is_read_by_its_index(runtime: Runtime) -> None:
    with runtime.db.read() as conn:
        if runtime.db.is_sqlite:
            rows = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT message_id FROM validity_watch"
                " WHERE expires_at < '2026-11-23' ORDER BY expires_at LIMIT 10"
            )
            plan = "\n".join(str(row[-1]) for row in rows)
            assert "ix_validity_watch_expires_at" in plan, plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql(
                "EXPLAIN SELECT message_id FROM validity_watch"
                " WHERE expires_at < %s ORDER BY expires_at LIMIT 10",
                (NOW,),
            )
            plan = "\n".join(str(row[0]) for row in rows)
            assert "ix_validity_watch_expires_at" in plan, plan
        assert validity_store.ended(conn, NOW, 10, skip_locked=False) == []
