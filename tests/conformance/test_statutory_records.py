"""BG-08: accounting records kept 11 years, information for courts and authorities 5 years.

Proven on stored data with the `bg` preset, as the other retention promises are: the sweep's
clock one day before the boundary keeps the record, one day after removes it, and a legal
hold on the account keeps it until released. Accounting records are the monthly usage
statements (tidings.billing); information for courts and authorities is the register of
their requests (tidings.privacy.authority_requests).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from tests.privacy.retention_support import at, close_account, count, message_at, service
from tidings.core.clock import ManualClock
from tidings.domain.policy import add_period
from tidings.runtime import Runtime
from tidings.store.tables import messages

DAY = timedelta(days=1)
ISSUED = at(2026, 2, 1, 9)
SUBJECT = "+359888123456"

pytestmark = pytest.mark.promise("BG-08")


def sent_at(rt: Runtime, clock: ManualClock, account_id: str, when: datetime) -> str:
    """An outbound message handed to its connector at `when`."""
    message_id = message_at(rt, clock, account_id, when)
    with rt.db.write() as conn:
        conn.execute(update(messages).where(messages.c.id == message_id).values(sent_at=when))
    return message_id


def test_bg_08_accounting_records_are_kept_eleven_years(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A statement outlives the messages it counts and its account's closing and deletion,
    and goes 11 years after it was issued; a hold on its account keeps it."""
    clock.set(at(2026, 1, 2))
    free = str(runtime.accounts.create_account("Free")["account_id"])
    held = str(runtime.accounts.create_account("Held")["account_id"])
    for account in (free, held):
        sent_at(runtime, clock, account, at(2026, 1, 10, 8))
        sent_at(runtime, clock, account, at(2026, 1, 31, 23, 59))
    clock.set(ISSUED)
    issued = runtime.statements.issue("2026-01")
    assert len(issued.issued) == 2
    statements = {a: runtime.statements.find(a, "2026-01") for a in (free, held)}
    assert all(s is not None and s["messages"] == 2 for s in statements.values())
    for account in (free, held):
        close_account(runtime, account, at(2026, 2, 15))
    hold = runtime.holds.create(held, reason="tax audit 2026/17", authority="National Revenue")
    with runtime.db.write() as conn:  # the messages are gone: the statements do not need them
        conn.execute(delete(messages))
    sweep = service(runtime, "bg")
    sweep.sweep(add_period(at(2026, 2, 15), "2y") + DAY)
    assert count(runtime, "accounts", id=free) == 0  # BG-07: the account's own 2 years
    assert runtime.statements.issue("2026-01").already_issued == 2  # never a second one
    assert {a: runtime.statements.find(a, "2026-01") for a in (free, held)} == statements

    boundary = add_period(ISSUED, "11y")
    sweep.sweep(boundary - DAY)
    assert count(runtime, "account_statements", account_id=free) == 1
    report = sweep.sweep(boundary + DAY)
    assert count(runtime, "account_statements", account_id=free) == 0
    assert count(runtime, "account_statements", account_id=held) == 1  # held
    free_statement = statements[free]
    assert free_statement is not None
    assert count(runtime, "account_statement_lines", statement_id=free_statement["id"]) == 0
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("accounting", "account_statements", "delete")] == 1
    assert counts[("accounting", "account_statement_lines", "delete")] == 1
    runtime.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert count(runtime, "account_statements", account_id=held) == 0


def test_bg_08_information_for_courts_and_authorities_is_kept_five_years(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A request of a court or an authority, and what was disclosed, goes 5 years after it
    was recorded, whether or not it names an account; a hold on its account keeps it."""
    clock.set(at(2026, 3, 1, 12))
    free = str(runtime.accounts.create_account("Free")["account_id"])
    held = str(runtime.accounts.create_account("Held")["account_id"])
    register = runtime.authority_requests

    def request(account: str | None) -> str:
        entry = register.add(
            authority="Sofia District Court",
            reference="civil case 1234/2026",
            legal_basis="Art. 186 Civil Procedure Code",
            requested=f"the messages sent to {SUBJECT} in February 2026",
            account_id=account,
            subject=SUBJECT,
            received=date(2026, 2, 27),
        )
        register.answer(entry["id"], disclosed="12 delivery records, no message text")
        return str(entry["id"])

    ids = {"free": request(free), "held": request(held), "none": request(None)}
    recorded = clock.now()
    hold = runtime.holds.create(held, reason="appeal pending", authority="Court of Appeal")
    sweep = service(runtime, "bg")
    boundary = add_period(recorded, "5y")
    sweep.sweep(boundary - DAY)
    assert all(count(runtime, "authority_requests", id=i) == 1 for i in ids.values())
    report = sweep.sweep(boundary + DAY)
    assert count(runtime, "authority_requests", id=ids["free"]) == 0
    assert count(runtime, "authority_requests", id=ids["none"]) == 0
    assert register.get(ids["held"])["disclosed"] == "12 delivery records, no message text"
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("court_information", "authority_requests", "delete")] == 2
    runtime.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert count(runtime, "authority_requests", id=ids["held"]) == 0


def test_bg_08_a_hold_on_the_subject_keeps_the_requests_about_it(
    runtime: Runtime, clock: ManualClock
) -> None:
    """The subject's number is indexed as the messages and holds index it: a hold on that
    number (over the days the request arrived) keeps the request about it, not others."""
    clock.set(at(2026, 3, 1, 12))
    account = str(runtime.accounts.create_account("Acme")["account_id"])
    about = {
        number: runtime.authority_requests.add(
            authority="Prosecutor's Office",
            legal_basis="Art. 159 Criminal Procedure Code",
            requested="subscriber data",
            account_id=account,
            subject=number,
            received=date(2026, 2, 27),
        )["id"]
        for number in (SUBJECT, "+359888654321")
    }
    runtime.holds.create(
        account,
        subject=SUBJECT,
        held_from=date(2026, 2, 1),
        held_to=date(2026, 2, 28),
        reason="pre-trial proceedings",
        authority="Prosecutor's Office",
    )
    service(runtime, "bg").sweep(add_period(clock.now(), "5y") + DAY)
    assert count(runtime, "authority_requests", id=about[SUBJECT]) == 1
    assert count(runtime, "authority_requests", id=about["+359888654321"]) == 0
