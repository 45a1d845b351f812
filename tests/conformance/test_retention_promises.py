"""Retention promises, proven on stored data with the preset that states each one.

Each case moves the clock (the sweep's `now`) around the promised boundary: one day
before it the record is kept, one day after it is removed, and a legal hold keeps it
until released. Rules that govern no data set (the contract data of ics and bg, which the
account's own rules cover) are pinned down by `test_rules_without_a_data_set_are_reported`;
BG-08's records are proven in test_statutory_records.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from tests.privacy.retention_support import (
    TO,
    at,
    close_account,
    count,
    message_at,
    message_row,
    service,
    with_action,
)
from tidings.accounts.access_log import AccessLog
from tidings.accounts.inquiries import InquiryService
from tidings.core.clock import ManualClock
from tidings.core.ids import new_id
from tidings.domain.policy import add_period, parse_period
from tidings.privacy.policy import load_preset
from tidings.privacy.retention import build_plan
from tidings.runtime import Runtime
from tidings.store import consent as consent_store
from tidings.store.tables import metadata

DAY = timedelta(days=1)
CLOSED = at(2026, 6, 30, 12)
ACCOUNT_TABLES = ("users", "api_keys", "numbers", "data_keys")
NUMBERS = {"Free": "+14155550101", "Held": "+14155550102"}


def account_with_data(rt: Runtime, name: str) -> str:
    account = str(rt.accounts.create_account(name)["account_id"])
    rt.accounts.create_api_key(account, "ci", ["messages:send"])
    rt.accounts.create_user(account, f"ops@{name.lower()}.example", "a long passphrase 1")
    rt.numbers.add(account, NUMBERS[name])
    return account


def present(rt: Runtime, account: str, tables: tuple[str, ...] = ACCOUNT_TABLES) -> bool:
    found = count(rt, "accounts", id=account)
    if found:
        assert all(count(rt, t, account_id=account) for t in tables)
    else:
        assert not any(count(rt, t, account_id=account) for t in ACCOUNT_TABLES)
    return bool(found)


def prove_account_data_kept_for(
    rt: Runtime, preset: str, period: str, tables: tuple[str, ...] = ACCOUNT_TABLES
) -> None:
    """The account (users, keys, numbers, data keys) is kept `period` after it closed."""
    free = account_with_data(rt, "Free")
    held = account_with_data(rt, "Held")
    for account in (free, held):
        close_account(rt, account, CLOSED)
    sweep = service(rt, preset)
    boundary = add_period(CLOSED, period)
    sweep.sweep(boundary - DAY)
    assert present(rt, free, tables) and present(rt, held, tables)
    hold = rt.holds.create(held, reason="litigation", authority="court")
    report = sweep.sweep(boundary + DAY)
    assert not present(rt, free)
    assert present(rt, held, tables)
    counts = {(e.data_set, e.action): e.count for e in report.entries if e.rule == "account_data"}
    assert counts[("accounts", "delete")] == 1
    rt.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert not present(rt, held)
    assert [r["policy"]["name"] for r in sweep.log()] == [preset] * 3


@pytest.mark.promise("ICS-06")
def test_ics_06_contract_data_ten_years_after_the_relationship_ends(runtime: Runtime) -> None:
    """The account is the contract: its data goes 10 years after the account closes."""
    prove_account_data_kept_for(runtime, "ics", "10y")


@pytest.mark.promise("ICE-06")
def test_ice_06_account_data_seven_years_after_closing(runtime: Runtime) -> None:
    prove_account_data_kept_for(runtime, "icetrak", "7y")


@pytest.mark.promise("BG-07")
def test_bg_07_contract_data_two_years_after_the_contract_ends(runtime: Runtime) -> None:
    """Users' own data has its own 2 years in this notice (BG-03): it is not counted here."""
    prove_account_data_kept_for(
        runtime, "bg", "2y", tuple(t for t in ACCOUNT_TABLES if t != "users")
    )


@pytest.mark.promise("BSMS-17")
def test_bsms_17_after_termination_kept_only_for_the_compliance_period(
    runtime: Runtime,
) -> None:
    """Data and its keys (which make backups unreadable once gone) end with the
    compliance period the preset reads as 5 years after the account closes."""
    prove_account_data_kept_for(runtime, "bulksms", "5y")


@pytest.mark.promise("ICE-13")
def test_ice_13_a_hold_preserves_records_past_their_period_until_it_ends(
    runtime: Runtime, clock: ManualClock
) -> None:
    account = str(runtime.accounts.create_account("Acme")["account_id"])
    sent = at(2026, 1, 10, 9)
    held = message_at(runtime, clock, account, sent, to=TO)
    free = message_at(runtime, clock, account, sent, to="+31612345679")
    hold = runtime.holds.create(
        account,
        subject=TO,
        held_from=date(2026, 1, 1),
        held_to=date(2026, 1, 31),
        reason="law enforcement request 2026/3",
        authority="Metropolitan Police",
    )
    sweep = service(runtime, "icetrak")
    text_expires = add_period(sent, "90d")
    sweep.sweep(text_expires - DAY)
    assert message_row(runtime, held).body_enc is not None
    assert message_row(runtime, free).body_enc is not None
    numbers_expire = add_period(sent, "12m")
    sweep.sweep(numbers_expire + DAY)
    assert message_row(runtime, free).body_enc is None
    assert message_row(runtime, free).recipient_enc is None
    kept = message_row(runtime, held)
    assert kept.body_enc is not None and kept.recipient_enc is not None  # past both periods
    assert runtime.queries.get(account, held)["body"] == "secret text"
    runtime.holds.release(hold["id"])
    report = sweep.sweep(numbers_expire + DAY)
    gone = message_row(runtime, held)
    assert (gone.body_enc, gone.recipient_enc, gone.sender_enc) == (None, None, None)
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries if e.count}
    assert counts == {
        ("message_content", "message_bodies", "redact"): 1,
        ("message_metadata", "messages", "pseudonymise"): 1,
    }


@pytest.mark.promise("BSMS-18")
def test_bsms_18_each_sweep_records_the_policy_version_in_force(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A revision takes effect from the sweep after it is in force, and the audit says
    which version each sweep applied."""
    account = str(runtime.accounts.create_account("Acme")["account_id"])
    sent = at(2026, 1, 1)
    message_id = message_at(runtime, clock, account, sent)
    first = load_preset("bulksms")
    clock.advance(DAY)
    service(runtime, first).sweep(sent + 40 * DAY)
    assert message_row(runtime, message_id).body_enc is not None  # 90 days under version 1
    revised = replace(
        with_action(first, "message_content", period=parse_period("30d")),
        version="2",
    )
    clock.advance(DAY)
    service(runtime, revised).sweep(sent + 40 * DAY)
    assert message_row(runtime, message_id).body_enc is None  # 30 days under version 2
    log = service(runtime, revised).log()
    assert [(r["policy"]["name"], r["policy"]["version"]) for r in log] == [
        ("bulksms", "2"),
        ("bulksms", "1"),
    ]
    redacted = {
        r["policy"]["version"]: next(e["count"] for e in r["entries"] if e["action"] == "redact")
        for r in log
    }
    assert redacted == {"1": 0, "2": 1}


def test_rules_without_a_data_set_are_reported() -> None:
    """What cannot be proven on stored data yet, because no data set is kept under it."""
    idle = {
        name: set(build_plan(load_preset(name), metadata).idle_rules)
        for name in ("ics", "bg", "bulksms")
    }
    assert idle == {
        "ics": {"contract_data"},
        "bg": {"contract_data"},
        "bulksms": {"compliance_archive"},
    }


def user_consent(rt: Runtime, account: str, user: str, action: str, when: datetime) -> None:
    """An account user's consent to the operator's own marketing, as the ledger records it."""
    row = {
        "id": new_id("cev", when),
        "account_id": account,
        "user_id": user,
        "channel": "email",
        "purpose": "marketing",
        "action": action,
        "basis": "consent",
        "source": "web",
        "evidence_enc": rt.crypto.encrypt(account, "user_consent_events.evidence", "checkbox"),
        "policy_version": "bg/1",
        "occurred_at": when,
        "recorded_at": when,
    }
    with rt.db.write() as conn:
        consent_store.insert_user_event(conn, row)


def account_user(rt: Runtime, clock: ManualClock, name: str, when: datetime) -> tuple[str, str]:
    clock.set(when)
    account = str(rt.accounts.create_account(name)["account_id"])
    user = rt.accounts.create_user(account, f"ops@{name.lower()}.example", "a long passphrase 1")
    return account, str(user["id"])


@pytest.mark.promise("BG-03")
def test_bg_03_users_data_is_kept_two_years(runtime: Runtime, clock: ManualClock) -> None:
    """The sign-in data of an account's users goes 2 years after it was collected, even
    while the account stays open; a hold of the account keeps it."""
    created = at(2026, 3, 1, 12)
    free_account, free_user = account_user(runtime, clock, "Free", created)
    held_account, held_user = account_user(runtime, clock, "Held", created)
    user_consent(runtime, free_account, free_user, "granted", created)
    sweep = service(runtime, "bg")
    boundary = add_period(created, "2y")
    sweep.sweep(boundary - DAY)
    assert count(runtime, "users", id=free_user) == count(runtime, "users", id=held_user) == 1
    hold = runtime.holds.create(held_account, reason="litigation", authority="court")
    report = sweep.sweep(boundary + DAY)
    assert count(runtime, "users", id=free_user) == 0
    assert count(runtime, "user_consent_events", user_id=free_user) == 0  # goes with its user
    assert count(runtime, "users", id=held_user) == 1
    assert count(runtime, "accounts", id=free_account) == 1  # the open account stays
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("user_data", "users", "delete")] == 1
    runtime.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert count(runtime, "users", id=held_user) == 0


@pytest.mark.promise("BG-09")
def test_bg_09_consent_data_goes_on_request_or_after_twelve_months(
    runtime: Runtime, clock: ManualClock
) -> None:
    """The ledger of a user's marketing consent goes when the user withdraws it, else 12
    months after it was collected; a hold keeps it."""
    given = at(2026, 3, 1, 12)
    kept_account, kept_user = account_user(runtime, clock, "Kept", given)
    gone_account, gone_user = account_user(runtime, clock, "Gone", given)
    held_account, held_user = account_user(runtime, clock, "Held", given)
    for account, user in ((kept_account, kept_user), (gone_account, gone_user)):
        user_consent(runtime, account, user, "granted", given)
    user_consent(runtime, held_account, held_user, "granted", given)
    sweep = service(runtime, "bg")
    withdrawn = given + 30 * DAY
    sweep.sweep(withdrawn - DAY)
    assert count(runtime, "user_consent_events", user_id=gone_user) == 1
    user_consent(runtime, gone_account, gone_user, "withdrawn", withdrawn)
    sweep.sweep(withdrawn + DAY)
    assert count(runtime, "user_consent_events", user_id=gone_user) == 0  # on request
    assert count(runtime, "users", id=gone_user) == 1  # the user is not the consent
    boundary = add_period(given, "12m")
    sweep.sweep(boundary - DAY)
    assert count(runtime, "user_consent_events", user_id=kept_user) == 1
    hold = runtime.holds.create(held_account, reason="complaint", authority="CPDP")
    report = sweep.sweep(boundary + DAY)
    assert count(runtime, "user_consent_events", user_id=kept_user) == 0
    assert count(runtime, "user_consent_events", user_id=held_user) == 1
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("marketing_consent", "user_consent_events", "delete")] == 1
    runtime.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert count(runtime, "user_consent_events", user_id=held_user) == 0


def access_at(rt: Runtime, clock: ManualClock, account: str, when: datetime) -> None:
    """An API request of `account` logged at `when`, as the access-log middleware does."""
    clock.set(when)
    log = AccessLog(rt.db, rt.crypto, rt.clock)
    log.record(account, "key_test", "GET", "/v1/numbers", 200, "203.0.113.7")
    assert log.flush() == 1


@pytest.mark.promise("ICS-08")
def test_ics_08_legitimate_interest_data_twelve_months(
    runtime: Runtime, clock: ManualClock
) -> None:
    """The API access log (security and abuse prevention, the Company's legitimate
    interest) goes 12 months after each request; a hold keeps it."""
    assert load_preset("ics").rule("access_log").period == parse_period("12m")  # type: ignore[union-attr]
    logged = at(2026, 3, 1, 12)
    free = str(runtime.accounts.create_account("Free")["account_id"])
    held = str(runtime.accounts.create_account("Held")["account_id"])
    for account in (free, held):
        access_at(runtime, clock, account, logged)
    sweep = service(runtime, "ics")
    boundary = add_period(logged, "12m")
    sweep.sweep(boundary - DAY)
    assert count(runtime, "api_access_log", account_id=free) == 1
    hold = runtime.holds.create(held, reason="abuse investigation", authority="CERT")
    report = sweep.sweep(boundary + DAY)
    assert count(runtime, "api_access_log", account_id=free) == 0
    assert count(runtime, "api_access_log", account_id=held) == 1
    assert count(runtime, "accounts", id=free) == 1  # the open account stays
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("access_log", "api_access_log", "delete")] == 1
    runtime.holds.release(hold["id"])
    sweep.sweep(boundary + DAY)
    assert count(runtime, "api_access_log", account_id=held) == 0


@pytest.mark.promise("ICS-07")
@pytest.mark.promise("ICS-04")
def test_ics_07_pre_contract_inquiries_thirty_days(runtime: Runtime, clock: ManualClock) -> None:
    """An inquiry of someone who never became a customer goes 30 days after it arrived."""
    service_of_inquiries = InquiryService(runtime.db, runtime.crypto, runtime.clock)
    asked = at(2026, 3, 1, 12)
    clock.set(asked)
    form = {"name": "Jane", "email": "jane@prospect.example", "message": "a price?"}
    first = service_of_inquiries.submit(form, {"ip": "203.0.113.7"})["id"]
    clock.set(asked + DAY)
    later = service_of_inquiries.submit(form, {"ip": "203.0.113.7"})["id"]
    sweep = service(runtime, "ics")
    boundary = add_period(asked, "30d")
    sweep.sweep(boundary - DAY)
    assert count(runtime, "inquiries", id=first) == count(runtime, "inquiries", id=later) == 1
    report = sweep.sweep(boundary + timedelta(hours=1))
    assert count(runtime, "inquiries", id=first) == 0
    assert count(runtime, "inquiries", id=later) == 1  # its own 30 days are not over
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("inquiry", "inquiries", "delete")] == 1
    sweep.sweep(boundary + DAY + timedelta(hours=1))
    assert count(runtime, "inquiries", id=later) == 0
