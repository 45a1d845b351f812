"""Monthly usage statements: what they count and price, issued once, refused clearly."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import make_settings
from tests.privacy.retention_support import at, close_account, count, message_at
from tests.support import wait_until
from tidings.api.app import create_app
from tidings.billing.statements import StatementService
from tidings.core.clock import ManualClock
from tidings.core.config import BillingConfig
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.months import Month
from tidings.runtime import Runtime, build_runtime
from tidings.store.tables import messages

RATES = BillingConfig(
    currency="BGN",
    prices=(("sms", "outbound", Decimal("0.045")), ("sms", "inbound", Decimal("0.01"))),
)


def sent(rt: Runtime, clock: ManualClock, account: str, when: datetime, **values: object) -> str:
    """An outbound message handed to its connector at `when` (or changed by `values`)."""
    message_id = message_at(rt, clock, account, when)
    with rt.db.write() as conn:
        conn.execute(
            update(messages).where(messages.c.id == message_id).values({"sent_at": when, **values})
        )
    return message_id


def billing(rt: Runtime, rates: BillingConfig = RATES) -> StatementService:
    return StatementService(rt.db, rt.clock, rates)


@pytest.fixture
def acme(runtime: Runtime, clock: ManualClock) -> str:
    clock.set(at(2025, 12, 1))
    return str(runtime.accounts.create_account("Acme")["account_id"])


def test_a_statement_counts_and_prices_a_month_per_channel_and_direction(
    runtime: Runtime, clock: ManualClock, acme: str
) -> None:
    sent(runtime, clock, acme, at(2026, 1, 1), segments=3)  # the month's first moment
    sent(runtime, clock, acme, at(2026, 1, 31, 23, 59, 59))
    sent(runtime, clock, acme, at(2026, 1, 15), direction="inbound", sent_at=None)
    sent(runtime, clock, acme, at(2025, 12, 31, 23, 59, 59))  # December's
    sent(runtime, clock, acme, at(2026, 2, 1))  # February's
    sent(runtime, clock, acme, at(2026, 1, 20), channel="viber")  # a channel not priced
    never = sent(runtime, clock, acme, at(2026, 1, 20), sent_at=None, status="canceled")
    # accepted in December, handed over in January: January's
    sent(runtime, clock, acme, at(2025, 12, 20), sent_at=at(2026, 1, 2), segments=2)
    clock.set(at(2026, 2, 3))
    service = billing(runtime)
    issued = service.issue("2026-01")
    assert len(issued.issued) == 1 and issued.already_issued == 0
    statement = service.get(issued.issued[0], acme)
    assert statement["period"] == "2026-01" and statement["currency"] == "BGN"
    assert statement["period_start"] == "2026-01-01T00:00:00Z"
    assert statement["period_end"] == "2026-02-01T00:00:00Z"
    assert statement["issued_at"] == "2026-02-03T00:00:00Z"
    assert statement["lines"] == [
        {
            "channel": "sms",
            "direction": "inbound",
            "messages": 1,
            "segments": 1,
            "unit_price": "0.01000",
            "amount": "0.01000",
        },
        {
            "channel": "sms",
            "direction": "outbound",
            "messages": 3,
            "segments": 6,
            "unit_price": "0.04500",
            "amount": "0.27000",
        },
        {
            "channel": "viber",
            "direction": "outbound",
            "messages": 1,
            "segments": 1,
            "unit_price": "0.00000",
            "amount": "0.00000",
        },
    ]
    assert (statement["messages"], statement["segments"], statement["total"]) == (5, 8, "0.28000")
    assert never not in str(statement)


def test_issuing_again_gives_the_same_statement_at_the_rates_it_was_issued_at(
    runtime: Runtime, clock: ManualClock, acme: str
) -> None:
    sent(runtime, clock, acme, at(2026, 1, 10))
    clock.set(at(2026, 2, 1))
    first = billing(runtime).issue("2026-01", acme)
    before = billing(runtime).find(acme, "2026-01")
    sent(runtime, clock, acme, at(2026, 1, 11))  # late data does not rewrite it
    clock.set(at(2026, 3, 1))
    cheaper = replace(RATES, prices=(("sms", "outbound", Decimal("0.001")),))
    again = billing(runtime, cheaper).issue("2026-01", acme)
    everyone = billing(runtime, cheaper).issue("2026-01")
    assert len(first.issued) == 1 and again.issued == () and everyone.issued == ()
    assert again.already_issued == everyone.already_issued == 1
    assert billing(runtime).find(acme, "2026-01") == before
    assert count(runtime, "account_statements", account_id=acme) == 1


def test_statements_go_to_the_accounts_open_in_the_month(
    runtime: Runtime, clock: ManualClock, acme: str
) -> None:
    """An account closed before the month or opened after it has none; an idle one open in
    it gets a statement of zero."""
    closed_before = str(runtime.accounts.create_account("Gone")["account_id"])
    close_account(runtime, closed_before, at(2025, 12, 31, 23))
    closed_during = str(runtime.accounts.create_account("Leaving")["account_id"])
    close_account(runtime, closed_during, at(2026, 1, 5))
    clock.set(at(2026, 2, 1))
    later = str(runtime.accounts.create_account("Newcomer")["account_id"])
    issued = billing(runtime).issue("2026-01")
    billed = {billing(runtime).get(i)["account_id"] for i in issued.issued}
    assert billed == {acme, closed_during}
    idle = billing(runtime).find(acme, "2026-01")
    assert idle is not None
    assert (idle["messages"], idle["total"], idle["lines"]) == (0, "0.00000", [])
    for account in (later, closed_before):
        with pytest.raises(InvalidInput) as refused:
            billing(runtime).issue("2026-01", account)
        assert refused.value.code == "account_not_in_period"
        assert refused.value.extra["field"] == "period"


@pytest.mark.parametrize(
    "period", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "", "1969-12", "2026-01x"]
)
def test_a_period_that_is_not_a_month_is_refused(
    runtime: Runtime, clock: ManualClock, acme: str, period: str
) -> None:
    clock.set(at(2026, 5, 1))
    with pytest.raises(InvalidInput) as refused:
        billing(runtime).issue(period)
    assert refused.value.code == "invalid_period" and refused.value.extra["field"] == "period"
    assert "YYYY-MM" in refused.value.detail
    assert count(runtime, "account_statements") == 0


def test_a_month_not_over_and_an_unknown_account_are_refused(
    runtime: Runtime, clock: ManualClock, acme: str
) -> None:
    clock.set(at(2026, 1, 31, 23, 59))
    with pytest.raises(InvalidInput) as refused:
        billing(runtime).issue("2026-01")
    assert refused.value.code == "period_not_ended" and refused.value.extra["field"] == "period"
    with pytest.raises(NotFound) as missing:
        billing(runtime).issue("2025-12", "acc_00000000000000000000000000")
    assert missing.value.code == "account_not_found"
    assert missing.value.extra["field"] == "account_id"
    with pytest.raises(NotFound):
        billing(runtime).issue("2025-12", "not-an-id")
    assert count(runtime, "account_statements") == 0


def test_statements_are_read_per_account_a_page_at_a_time(
    runtime: Runtime, clock: ManualClock, acme: str
) -> None:
    other = str(runtime.accounts.create_account("Other")["account_id"])
    service = billing(runtime)
    for day, period in enumerate(("2026-01", "2026-02", "2026-03"), start=1):
        clock.set(at(2026, 4, day))
        service.issue(period)
    first = service.entries(account_id=acme, limit=2)
    assert [s["period"] for s in first["data"]] == ["2026-03", "2026-02"]
    rest = service.entries(account_id=acme, limit=2, cursor=first["next_cursor"])
    assert [s["period"] for s in rest["data"]] == ["2026-01"] and rest["next_cursor"] is None
    only = service.entries(account_id=acme, period="2026-02")["data"]
    assert [s["period"] for s in only] == ["2026-02"]
    others = service.entries(account_id=other)["data"]
    with pytest.raises(NotFound) as hidden:
        service.get(others[0]["id"], acme)
    assert hidden.value.code == "statement_not_found"
    assert len(service.entries()["data"]) == 6
    with pytest.raises(InvalidInput):
        service.entries(limit=0)
    with pytest.raises(InvalidInput):
        service.entries(period="2026-13")


def test_the_previous_month_is_due() -> None:
    assert Month.before(at(2026, 1, 1)).label == "2025-12"
    assert Month.before(at(2026, 3, 31, 23, 59)).label == "2026-02"
    assert Month.parse("2024-02").end == at(2024, 3, 1)


def test_serve_issues_the_previous_months_statements_on_its_own(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(at(2026, 1, 5))
    settings = make_settings(
        database_url,
        tmp_path / "data",
        retention_interval_seconds=0,
        billing=replace(RATES, statement_interval_seconds=0.05),
    )
    rt = build_runtime(settings, clock)
    try:
        account = str(rt.accounts.create_account("Acme")["account_id"])
        sent(rt, clock, account, at(2026, 1, 10))
        clock.set(at(2026, 2, 1, 0, 5))
        with TestClient(create_app(rt)):
            found = wait_until(lambda: rt.statements.find(account, "2026-01"), message="issue")
        assert found["total"] == "0.04500"
        assert count(rt, "account_statements") == 1
    finally:
        rt.close()
