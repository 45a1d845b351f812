"""Legal holds: the service other parts of the privacy engine ask `is_held`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tidings.core.clock import ManualClock
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.domain.holds import Hold, Span
from tidings.runtime import Runtime

NUMBER = "+31612345678"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def account(runtime: Runtime) -> str:
    return str(runtime.accounts.create_account("Acme")["account_id"])


def test_an_account_hold_covers_every_subject_and_only_that_account(
    runtime: Runtime, account: str
) -> None:
    other = runtime.accounts.create_account("Globex")["account_id"]
    subject = runtime.holds.subject_index(account, NUMBER)
    assert not runtime.holds.is_held(account, subject, at(2025, 5, 1))
    hold = runtime.holds.create(account, reason="litigation", authority="Court of Sofia")
    assert hold["status"] == "active" and hold["subject_index"] is None
    assert runtime.holds.is_held(account, subject, at(2025, 5, 1))
    assert runtime.holds.is_held(account, None, at(1990, 1, 1))
    assert not runtime.holds.is_held(other, subject, at(2025, 5, 1))


def test_a_subject_hold_covers_that_number_in_its_days_only(runtime: Runtime, account: str) -> None:
    hold = runtime.holds.create(
        account,
        subject="+31 6 1234 5678",  # normalised like messages' numbers
        held_from=date(2025, 1, 1),
        held_to=date(2025, 1, 31),
        reason="police request 42",
        authority="Police",
    )
    subject = runtime.holds.subject_index(account, NUMBER)
    assert hold["subject_index"] == subject.hex()
    assert (hold["from"], hold["to"]) == ("2025-01-01", "2025-01-31")
    assert runtime.holds.is_held(account, subject, at(2025, 1, 1))
    assert runtime.holds.is_held(account, subject, at(2025, 1, 31, 23, 59, 59))
    assert not runtime.holds.is_held(account, subject, at(2025, 2, 1))
    assert not runtime.holds.is_held(account, subject, at(2024, 12, 31, 23, 59))
    assert not runtime.holds.is_held(
        account, runtime.holds.subject_index(account, "+31612345679"), at(2025, 1, 5)
    )
    assert not runtime.holds.is_held(account, None, at(2025, 1, 5))


def test_the_subject_is_stored_only_as_its_keyed_index(runtime: Runtime, account: str) -> None:
    runtime.holds.create(account, subject=NUMBER, reason="litigation", authority="a")
    with runtime.db.read() as conn:
        raw = b"".join(
            bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
            for row in conn.exec_driver_sql("SELECT * FROM legal_holds")
            for v in row
            if v is not None
        )
    assert NUMBER.encode() not in raw and b"31612345678" not in raw
    assert b"litigation" not in raw


def test_release_ends_the_hold_and_the_list_shows_both_states(
    runtime: Runtime, account: str, clock: ManualClock
) -> None:
    hold = runtime.holds.create(account, reason="audit", authority="Tax office")
    clock.advance(timedelta(days=3))
    released = runtime.holds.release(hold["id"])
    assert released["status"] == "released"
    assert released["released_at"] == "2026-03-04T12:00:00Z"
    assert not runtime.holds.is_held(account, None, at(2026, 1, 1))
    assert runtime.holds.active() == []
    again = runtime.holds.create(account, reason="audit 2", authority="Tax office")
    assert [h.id for h in runtime.holds.active()] == [again["id"]]
    assert [h["status"] for h in runtime.holds.list_holds()] == ["released", "active"]
    assert runtime.holds.list_holds(account_id="acc_unknown") == []


def test_bad_input_is_refused_and_nothing_changes(runtime: Runtime, account: str) -> None:
    first = runtime.holds.create(
        account, held_from=date(2025, 1, 1), held_to=date(2025, 6, 30), reason="r", authority="a"
    )
    with pytest.raises(Conflict) as overlap:
        runtime.holds.create(
            account, held_from=date(2025, 6, 30), held_to=None, reason="r", authority="a"
        )
    assert overlap.value.code == "hold_overlaps" and first["id"] in overlap.value.detail
    # Adjacent days, another subject: no overlap.
    runtime.holds.create(account, held_from=date(2025, 7, 1), reason="r", authority="a")
    runtime.holds.create(
        account, subject=NUMBER, held_from=date(2025, 1, 1), reason="r", authority="a"
    )
    count = len(runtime.holds.list_holds())
    cases = [
        {"reason": " ", "authority": "a"},
        {"reason": "r", "authority": ""},
        {"reason": "r", "authority": "a", "subject": "not a number"},
        {
            "reason": "r",
            "authority": "a",
            "held_from": date(2025, 2, 1),
            "held_to": date(2025, 1, 1),
        },
        {"reason": "r", "authority": "a", "held_to": date(9999, 12, 31)},
    ]
    for kwargs in cases:
        with pytest.raises(InvalidInput):
            runtime.holds.create(account, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        runtime.holds.create("acc_00000000000000000000000000", reason="r", authority="a")
    with pytest.raises(NotFound):
        runtime.holds.release("hld_00000000000000000000000000")
    with pytest.raises(NotFound):
        runtime.holds.release("nonsense\x00")
    runtime.holds.release(first["id"])
    with pytest.raises(Conflict) as twice:
        runtime.holds.release(first["id"])
    assert twice.value.code == "hold_released"
    assert len(runtime.holds.list_holds()) == count


def test_span_overlap_with_open_ends() -> None:
    jan = Span.of_days(date(2025, 1, 1), date(2025, 1, 31))
    assert jan.overlaps(Span(None, None))
    assert jan.overlaps(Span.of_days(None, date(2025, 1, 1)))
    assert not jan.overlaps(Span.of_days(date(2025, 2, 1), None))
    assert not jan.overlaps(Span.of_days(None, date(2024, 12, 31)))
    hold = Hold("hld_x", "acc_a", None, jan.start, jan.end, at(2026, 1, 1), at(2026, 2, 1))
    assert not hold.covers("acc_a", None, at(2025, 1, 5))  # released
