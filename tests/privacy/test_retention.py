"""The retention sweep: driven by the data map and the policy, batched, held, audited."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from tests.privacy.retention_support import (
    TO,
    at,
    close_account,
    count,
    message_at,
    message_row,
    service,
    webhook_at,
    with_action,
)
from tidings.core.clock import ManualClock
from tidings.core.errors import InvalidInput
from tidings.privacy.policy import load_preset
from tidings.privacy.retention import build_plan
from tidings.runtime import Runtime
from tidings.store import retention as sweep_store
from tidings.store.tables import metadata

DAY = timedelta(days=1)


@pytest.fixture
def account(runtime: Runtime) -> str:
    return str(runtime.accounts.create_account("Acme")["account_id"])


def test_the_plan_comes_from_the_data_map_and_the_policy() -> None:
    plan = build_plan(load_preset("baseline"), metadata)
    steps = {(s.rule.name, s.table.name, s.action, s.fields) for s in plan.steps}
    assert ("message_content", "message_bodies", "redact", ()) in {
        (s.rule.name, s.data_set, s.action, s.fields) for s in plan.steps
    }
    assert (
        "message_metadata",
        "messages",
        "pseudonymise",
        ("sender_enc", "recipient_enc", "reference"),
    ) in steps
    assert ("webhook_delivery", "webhook_deliveries", "delete", ()) in steps
    assert {t for r, t, a, _ in steps if r == "account_data" and a == "delete"} >= {
        "accounts",
        "numbers",
        "legal_holds",
    }
    assert ("user_data", "users", "delete", ()) in steps  # same_as account_data here
    order = [s.table.name for s in plan.steps]
    assert order.index("messages") < order.index("accounts")  # anchors before their owners
    assert order.index("users") < order.index("accounts")
    ics = build_plan(load_preset("ics"), metadata)
    assert set(ics.idle_rules) == {"contract_data"}
    assert ("access_log", "api_access_log", "delete", ()) in {
        (s.rule.name, s.table.name, s.action, s.fields) for s in ics.steps
    }  # same_as legitimate_interest: that rule governs the access log


def test_message_text_goes_at_90_days_and_the_numbers_at_12_months(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    sent = at(2026, 1, 10, 9, 30)
    message_id = message_at(runtime, clock, account, sent)
    sweep = service(runtime, "baseline")
    sweep.sweep(sent + 90 * DAY - timedelta(microseconds=1))
    row = message_row(runtime, message_id)
    assert row.body_enc is not None
    report = sweep.sweep(sent + 90 * DAY)
    row = message_row(runtime, message_id)
    assert row.body_enc is None
    assert row.sender_enc is not None and row.recipient_enc is not None
    assert (row.status, row.segments, row.encoding) == ("delivered", 1, "gsm7")
    assert count(runtime, "message_events", message_id=message_id) == 1
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("message_content", "message_bodies", "redact")] == 1
    # The resource still answers, without the text.
    resource = runtime.queries.get(account, message_id)
    assert resource["body"] is None and resource["to"] == TO
    sweep.sweep(at(2027, 1, 10, 9, 29))
    assert message_row(runtime, message_id).recipient_enc is not None
    sweep.sweep(at(2027, 1, 10, 9, 30))
    row = message_row(runtime, message_id)
    assert (row.sender_enc, row.recipient_enc, row.reference) == (None, None, None)
    assert row.recipient_index == runtime.holds.subject_index(account, TO)  # pseudonym kept
    assert runtime.queries.get(account, message_id)["to"] is None


def test_a_dry_run_counts_and_changes_nothing(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    for day in range(3):
        message_at(runtime, clock, account, at(2026, 1, 1 + day))
    sweep = service(runtime, "baseline")
    report = sweep.sweep(at(2026, 4, 2, 12), dry_run=True)
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("message_content", "message_bodies", "redact")] == 2  # 1 and 2 January
    assert counts[("message_metadata", "messages", "pseudonymise")] == 0
    assert report.run_id is None and sweep.log() == []
    assert count(runtime, "messages") == 3
    with runtime.db.read() as conn:
        bodies = conn.exec_driver_sql(
            "SELECT count(*) FROM messages WHERE id NOT IN (SELECT message_id FROM message_bodies)"
        )
        assert bodies.scalar_one() == 0


def test_a_hold_keeps_what_it_covers_until_released(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    held_one = message_at(runtime, clock, account, at(2026, 1, 5), to=TO)
    other_number = message_at(runtime, clock, account, at(2026, 1, 5), to="+31612345679")
    outside_days = message_at(runtime, clock, account, at(2025, 12, 1), to=TO)
    from datetime import date

    hold = runtime.holds.create(
        account,
        subject=TO,
        held_from=date(2026, 1, 1),
        held_to=date(2026, 1, 31),
        reason="dispute",
        authority="court",
    )
    sweep = service(runtime, "baseline")
    sweep.sweep(at(2027, 6, 1))
    assert message_row(runtime, held_one).body_enc is not None
    assert message_row(runtime, held_one).recipient_enc is not None
    assert message_row(runtime, other_number).body_enc is None
    assert message_row(runtime, outside_days).body_enc is None
    runtime.holds.release(hold["id"])
    report = sweep.sweep(at(2027, 6, 1))  # the next sweep removes what is past its period
    row = message_row(runtime, held_one)
    assert (row.body_enc, row.recipient_enc) == (None, None)
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("message_content", "message_bodies", "redact")] == 1


def test_deleting_a_message_takes_what_belongs_to_it(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    message_id = message_at(runtime, clock, account, at(2026, 1, 1), key="k-1")
    webhook_at(runtime, account, message_id, at(2026, 1, 1))
    keep = message_at(runtime, clock, account, at(2026, 6, 1), key="k-2")
    policy = with_action(load_preset("baseline"), "message_metadata", action="delete", fields=())
    policy = with_action(policy, "webhook_delivery", period=None, until=())
    sweep = service(runtime, policy)
    dry = sweep.sweep(at(2027, 1, 2), dry_run=True)
    report = sweep.sweep(at(2027, 1, 2))
    assert message_row(runtime, message_id) is None
    assert sorted(map(str, dry.entries)) == sorted(map(str, report.entries))
    for table in ("message_events", "dispatch_queue", "idempotency_keys", "webhook_deliveries"):
        assert count(runtime, table, message_id=message_id) == 0, table
        assert count(runtime, table, message_id=keep) == (table != "webhook_deliveries"), table
    assert count(runtime, "message_bodies") == 0  # one deleted, the other's text redacted
    counts = {
        (e.data_set, e.action): e.count for e in report.entries if e.rule == "message_metadata"
    }
    assert counts == {
        ("messages", "delete"): 1,
        ("message_bodies", "delete"): 1,
        ("message_events", "delete"): 1,
        ("dispatch_queue", "delete"): 1,
        ("idempotency_keys", "delete"): 1,
        ("webhook_deliveries", "delete"): 1,
        ("smpp_outbox", "delete"): 0,  # nothing was owed to an SMPP bind
    }


def test_a_closed_account_goes_with_everything_of_it_unless_held(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    runtime.accounts.create_user(account, "ops@acme.example", "a long passphrase 1")
    runtime.numbers.add(account, "+14155550100")
    close_account(runtime, account, at(2026, 6, 30))
    hold = runtime.holds.create(account, subject=TO, reason="claim", authority="court")
    keys = count(runtime, "data_keys", account_id=account)  # the account's and the user's
    assert keys == 2
    sweep = service(runtime, "baseline")
    sweep.sweep(at(2040, 1, 1))
    assert count(runtime, "accounts", id=account) == 1  # a hold keeps the account and its keys
    assert count(runtime, "data_keys", account_id=account) == keys
    runtime.holds.release(hold["id"])
    sweep.sweep(at(2040, 1, 1))
    for table in ("users", "api_keys", "numbers", "data_keys", "legal_holds"):
        assert count(runtime, table, account_id=account) == 0, table
    assert count(runtime, "accounts", id=account) == 0


def test_a_sweep_cannot_go_back_in_time_and_the_log_keeps_each_run(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    message_at(runtime, clock, account, at(2026, 1, 1))
    sweep = service(runtime, "icetrak")
    clock.advance(timedelta(seconds=1))
    first = sweep.sweep(at(2026, 6, 1))
    with pytest.raises(InvalidInput) as past:
        sweep.sweep(at(2026, 5, 31))
    assert past.value.code == "sweep_in_the_past"
    with pytest.raises(InvalidInput):
        sweep.sweep(at(2026, 5, 31), dry_run=True)
    log = sweep.log()
    assert [r["run_id"] for r in log] == [first.run_id]
    run = log[0]
    assert run["policy"] == {"name": "icetrak", "version": "1"}
    assert run["now"] == "2026-06-01T00:00:00Z" and run["status"] == "finished"
    entry = next(e for e in run["entries"] if e["rule"] == "message_content")
    assert entry == {
        "rule": "message_content",
        "data_set": "message_bodies",
        "action": "redact",
        "count": 1,
    }
    assert "secret" not in str(log)


def test_an_interrupted_sweep_is_carried_on_by_the_next(
    runtime: Runtime, clock: ManualClock, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for minute in range(7):
        message_at(runtime, clock, account, at(2026, 1, 1, 0, minute))
    sweep = service(runtime, "baseline", batch_size=2)
    stop = threading.Event()
    real_batch = sweep_store.apply_batch

    def two_batches_then_stop(*args: Any, **kwargs: Any) -> sweep_store.Batch:
        batch = real_batch(*args, **kwargs)
        if batch.count:
            two_batches_then_stop.done += 1  # type: ignore[attr-defined]
            if two_batches_then_stop.done == 2:  # type: ignore[attr-defined]
                stop.set()  # as a shutdown (or a crash) between batches
        return batch

    two_batches_then_stop.done = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(sweep_store, "apply_batch", two_batches_then_stop)
    # batches are what is interrupted here, not a whole month emptied at once (PostgreSQL)
    monkeypatch.setattr(sweep_store, "empties_months", lambda step: False)
    stopped = sweep.sweep(at(2026, 6, 1), stop=stop)
    monkeypatch.undo()
    # Two batches of two committed, and on PostgreSQL perhaps the one in flight beside them.
    done = sum(e.count for e in stopped.entries)
    assert done in (4, 6)
    assert sweep.log()[0]["status"] == "unfinished"
    assert sum(e["count"] for e in sweep.log()[0]["entries"]) == done
    clock.advance(timedelta(seconds=1))
    again = sweep.sweep(at(2026, 6, 1))
    assert sum(e.count for e in again.entries) == 7 - done
    assert count(runtime, "messages") == 7
    with runtime.db.read() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM message_bodies")
        assert left.scalar_one() == 0
    assert [r["status"] for r in sweep.log()] == ["finished", "unfinished"]
    assert sum(e.count for e in sweep.sweep(at(2026, 6, 1)).entries) == 0  # idempotent


def test_every_table_with_personal_data_declares_its_lifecycle() -> None:
    from tidings.domain.classification import INFO_KEY
    from tidings.domain.retention import LIFECYCLE_KEY

    personal = {
        t.name for t in metadata.sorted_tables if any(c.info[INFO_KEY].personal for c in t.columns)
    }
    declared = {t.name for t in metadata.sorted_tables if LIFECYCLE_KEY in t.info}
    assert personal - declared == set()
    for table in metadata.sorted_tables:
        lifecycle = table.info.get(LIFECYCLE_KEY)
        if lifecycle is None:
            continue
        columns = set(table.c.keys())
        named = {lifecycle.account, lifecycle.at, *lifecycle.subjects} - {"", None}
        named |= {s for s in lifecycle.anchors.values() if isinstance(s, str)}
        assert named <= columns, table.name


def test_a_message_not_yet_handed_over_keeps_its_text(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    """A message scheduled months ahead is swept only once it has left the queue."""
    from tidings.pipeline.accept import MessageRequest

    clock.set(at(2026, 1, 1))
    request = MessageRequest(to=TO, sender="Acme", body="later", send_at=at(2026, 12, 1))
    message_id = runtime.accept.accept(account, request)[0]["id"]
    assert message_row(runtime, message_id).status == "scheduled"
    sweep = service(runtime, "baseline")
    assert sum(e.count for e in sweep.sweep(at(2026, 6, 1), dry_run=True).entries) == 0
    sweep.sweep(at(2026, 6, 1))
    assert message_row(runtime, message_id).body_enc is not None
    with runtime.db.write() as conn:
        conn.exec_driver_sql(f"UPDATE messages SET status = 'delivered' WHERE id = '{message_id}'")
    sweep.sweep(at(2026, 6, 2))
    assert message_row(runtime, message_id).body_enc is None
