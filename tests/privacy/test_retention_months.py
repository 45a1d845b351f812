"""Whole months (PostgreSQL): a month whose messages are all due is emptied at once; a
month with one message to keep is left to the batches, which keep it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text, update

from tests.conftest import truncate_filled
from tests.privacy.retention_support import at, count, message_at, service, webhook_at, with_action
from tidings.core.clock import ManualClock
from tidings.domain.policy import Policy
from tidings.privacy.policy import load_preset
from tidings.runtime import Runtime
from tidings.store import retention as sweep_store
from tidings.store.partitions import Month, ensure_months
from tidings.store.tables import messages

JANUARY = Month(2026, 1)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL alone: monthly partitions are its (SQLite keeps plain tables)."""
    truncate_filled(postgres_url)
    return postgres_url


@pytest.fixture
def account(runtime: Runtime) -> str:
    with runtime.db.write() as conn:
        ensure_months(conn, [JANUARY, JANUARY.plus(1)])
    return str(runtime.accounts.create_account("Acme")["account_id"])


@pytest.fixture
def emptied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(data set, month) of each month the sweep emptied whole."""
    found: list[tuple[str, str]] = []
    real = sweep_store.empty_month

    def spy(conn: Any, step: Any, now: Any, holds: Any, month: Month) -> Any:
        batch = real(conn, step, now, holds, month)
        if batch is not None:
            found.append((step.data_set, str(month)))
        return batch

    monkeypatch.setattr(sweep_store, "empty_month", spy)
    yield found


def _deleting() -> Policy:
    policy = with_action(load_preset("baseline"), "message_metadata", action="delete", fields=())
    return with_action(policy, "webhook_delivery", period=None, until=())


def _deleted(report: Any) -> dict[tuple[str, str], int]:
    return {(e.data_set, e.action): e.count for e in report.entries if e.rule == "message_metadata"}


def _partition_rows(runtime: Runtime, name: str) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())


def test_a_month_of_due_messages_is_emptied_whole_with_what_belongs_to_them(
    runtime: Runtime, clock: ManualClock, account: str, emptied: list[tuple[str, str]]
) -> None:
    gone = [message_at(runtime, clock, account, at(2026, 1, d), key=f"k-{d}") for d in (2, 31)]
    webhook_at(runtime, account, gone[0], at(2026, 1, 2))
    keep = message_at(runtime, clock, account, at(2026, 2, 1), key="k-feb")
    sweep = service(runtime, _deleting())
    now = at(2027, 1, 31)  # 12 months after 31 January, not after 1 February
    dry = sweep.sweep(now, dry_run=True)
    report = sweep.sweep(now)
    # January's messages go whole; then February's texts (90 days) are redacted whole
    assert emptied == [("messages", "2026-01"), ("message_bodies", "2026-02")]
    assert sorted(map(str, dry.entries)) == sorted(map(str, report.entries))
    counts = {
        (e.data_set, e.action): e.count for e in report.entries if e.rule == "message_metadata"
    }
    assert counts[("messages", "delete")] == 2
    for table in ("message_bodies", "message_events", "dispatch_queue", "idempotency_keys"):
        assert counts[(table, "delete")] == 2, table
        kept = table != "message_bodies"  # its text went at 90 days
        assert count(runtime, table, message_id=keep) == kept, table
    assert counts[("webhook_deliveries", "delete")] == 1
    for table in ("messages", "message_bodies", "message_events"):
        assert _partition_rows(runtime, JANUARY.partition(table)) == 0, table
    assert count(runtime, "messages", id=keep) == 1
    again = sweep.sweep(now)  # nothing left: the empty months are not looked at again
    assert all(e.count == 0 for e in again.entries) and len(emptied) == 2


@pytest.mark.parametrize("kept_by", ["hold", "busy"])
def test_one_message_to_keep_leaves_the_month_to_the_batches(
    runtime: Runtime,
    clock: ManualClock,
    account: str,
    emptied: list[tuple[str, str]],
    kept_by: str,
) -> None:
    kept = message_at(runtime, clock, account, at(2026, 1, 10), to="+31612345679")
    gone = message_at(runtime, clock, account, at(2026, 1, 20))
    if kept_by == "hold":
        runtime.holds.create(account, subject="+31612345679", reason="claim", authority="court")
    else:  # still with its connector: the sweep leaves it for later
        with runtime.db.write() as conn:
            conn.execute(update(messages).where(messages.c.id == kept).values(status="queued"))
    report = service(runtime, _deleting()).sweep(at(2027, 6, 1))
    assert emptied == []
    assert count(runtime, "messages", id=kept) == 1 and count(runtime, "messages", id=gone) == 0
    assert count(runtime, "message_events", message_id=kept) == 1
    counts = {
        (e.data_set, e.action): e.count for e in report.entries if e.rule == "message_metadata"
    }
    assert counts[("messages", "delete")] == 1


def test_a_month_of_due_texts_is_redacted_whole(
    runtime: Runtime, clock: ManualClock, account: str, emptied: list[tuple[str, str]]
) -> None:
    for day in (3, 4, 5):
        message_at(runtime, clock, account, at(2026, 1, day))
    report = service(runtime, "baseline").sweep(at(2026, 6, 1))  # texts 90 days, numbers 12 months
    assert emptied == [("message_bodies", "2026-01")]
    counts = {(e.data_set, e.action): e.count for e in report.entries}
    assert counts[("message_bodies", "redact")] == 3
    assert count(runtime, "messages") == 3 and count(runtime, "message_events") == 3
    assert count(runtime, "message_bodies") == 0


def test_a_month_read_meanwhile_is_left_to_the_batches(
    runtime: Runtime, clock: ManualClock, account: str, emptied: list[tuple[str, str]]
) -> None:
    """Emptying a month waits two seconds at most for its readers, then the batches
    delete its rows around them."""
    ids = [message_at(runtime, clock, account, at(2026, 1, d)) for d in (6, 7)]
    reader = runtime.db.engine.connect()
    try:
        reader.execute(text(f"SELECT count(*) FROM {JANUARY.partition('messages')}"))  # open
        report = service(runtime, _deleting()).sweep(at(2027, 6, 1))
    finally:
        reader.rollback()
        reader.close()
    assert emptied == []
    assert all(count(runtime, "messages", id=i) == 0 for i in ids)
    counts = {
        (e.data_set, e.action): e.count for e in report.entries if e.rule == "message_metadata"
    }
    assert counts[("messages", "delete")] == 2
