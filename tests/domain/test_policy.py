"""The pure policy model: periods, calendar arithmetic, expiry, validation."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain.policy import (
    Basis,
    Controller,
    Period,
    PeriodError,
    Policy,
    Rule,
    add_period,
    expires_at,
    is_expired,
    parse_period,
    validate,
)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# --- periods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("7y", Period(7, "y")),
        ("30d", Period(30, "d")),
        ("12m", Period(12, "m")),
        ("2w", Period(2, "w")),
        ("0d", Period(0, "d")),
        (" 10y ", Period(10, "y")),
    ],
)
def test_periods_are_read(text: str, period: Period) -> None:
    assert parse_period(text) == period
    assert str(period) == text.strip()


@pytest.mark.parametrize("text", ["7q", "y7", "7", "", "-1y", "1.5y", "7 y", "7Y", "7years"])
def test_malformed_periods_say_how_to_write_one(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text)
    assert caught.value.message == f"{text!r} is not a period"
    assert 'like "7y"' in caught.value.fix


def test_periods_longer_than_a_century_are_refused() -> None:
    assert parse_period("100y") == Period(100, "y")
    with pytest.raises(PeriodError, match="longer than 100 years"):
        parse_period("101y")
    with pytest.raises(PeriodError, match="longer than 100 years"):
        parse_period("999999d")


# --- calendar arithmetic -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        # 29 February: a year later there is none, so the period ends on 28 February.
        (at(2024, 2, 29), "1y", at(2025, 2, 28)),
        (at(2024, 2, 29), "4y", at(2028, 2, 29)),
        (at(2024, 2, 29), "12m", at(2025, 2, 28)),
        (at(2024, 2, 29), "48m", at(2028, 2, 29)),
        (at(2023, 3, 1), "1y", at(2024, 3, 1)),
        # Month ends clamp to the last day of the target month.
        (at(2024, 1, 31), "1m", at(2024, 2, 29)),
        (at(2023, 1, 31), "1m", at(2023, 2, 28)),
        (at(2024, 3, 31), "1m", at(2024, 4, 30)),
        (at(2024, 1, 31), "13m", at(2025, 2, 28)),
        (at(2024, 8, 31), "6m", at(2025, 2, 28)),
        # Across the year boundary.
        (at(2024, 12, 15), "1m", at(2025, 1, 15)),
        (at(2024, 11, 30), "3m", at(2025, 2, 28)),
        # Days and weeks are exact durations, leap day included.
        (at(2024, 2, 28), "1d", at(2024, 2, 29)),
        (at(2024, 2, 28), "2d", at(2024, 3, 1)),
        (at(2024, 2, 1), "30d", at(2024, 3, 2)),
        (at(2023, 2, 1), "30d", at(2023, 3, 3)),
        (at(2024, 12, 25), "2w", at(2025, 1, 8)),
        (at(2024, 5, 5), "0d", at(2024, 5, 5)),
    ],
)
def test_add_period_is_calendar_correct(start: datetime, period: str, end: datetime) -> None:
    assert add_period(start, period) == end
    assert add_period(start, parse_period(period)) == end


def test_add_period_keeps_time_of_day_and_timezone() -> None:
    sofia = timezone(timedelta(hours=2))
    start = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=sofia)
    assert add_period(start, "1y") == datetime(2025, 2, 28, 23, 59, 59, 999_999, tzinfo=sofia)


def test_add_period_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_period(datetime(2024, 1, 1), "1y")


def test_month_steps_do_not_add_up_at_month_ends() -> None:
    """Documented: two steps of a month from 31 January clamp at February's end."""
    start = at(2024, 1, 31)
    assert add_period(start, "2m") == at(2024, 3, 31)
    assert add_period(add_period(start, "1m"), "1m") == at(2024, 3, 29)


moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2400, 12, 31), timezones=st.just(UTC)
)


@given(start=moments, months=st.integers(min_value=0, max_value=1200))
def test_adding_months_moves_the_month_and_clamps_the_day(start: datetime, months: int) -> None:
    end = add_period(start, Period(months, "m"))
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    assert (end.year, end.month) == (year, month0 + 1)
    last_day = calendar.monthrange(end.year, end.month)[1]
    assert end.day == min(start.day, last_day)
    assert end.timetz() == start.timetz()


@given(start=moments, years=st.integers(min_value=0, max_value=100))
def test_years_are_twelve_months_and_never_overshoot(start: datetime, years: int) -> None:
    end = add_period(start, Period(years, "y"))
    assert end == add_period(start, Period(years * 12, "m"))
    assert end.year == start.year + years
    assert (end - start).days <= years * 366


# --- expiry ---------------------------------------------------------------------------

ACCOUNT = Rule("account_data", Period(7, "y"), "account_closed", purpose="accounts")
CONSENT = Rule(
    "marketing_consent", Period(12, "m"), "collected", until=("withdrawn",), purpose="marketing"
)
UNTIL_ONLY = Rule("inquiry", until=("relationship_end",), purpose="inquiries")
ROW = Rule("with_parent", follows_record=True)


def test_expiry_is_the_period_after_the_anchor() -> None:
    closed = at(2020, 2, 29)
    assert expires_at(ACCOUNT, {"account_closed": closed}) == at(2027, 2, 28)


def test_nothing_expires_before_its_anchor_happened() -> None:
    assert expires_at(ACCOUNT, {"collected": at(2020, 1, 1)}) is None
    assert expires_at(ACCOUNT, {"account_closed": None}) is None
    assert not is_expired(ACCOUNT, {"account_closed": None}, at(2100, 1, 1))


def test_until_ends_retention_earlier_when_it_comes_first() -> None:
    collected = at(2025, 1, 10)
    assert expires_at(CONSENT, {"collected": collected}) == at(2026, 1, 10)
    withdrawn = at(2025, 3, 1)
    assert expires_at(CONSENT, {"collected": collected, "withdrawn": withdrawn}) == withdrawn
    late = at(2027, 1, 1)
    assert expires_at(CONSENT, {"collected": collected, "withdrawn": late}) == at(2026, 1, 10)


def test_a_rule_with_only_until_expires_at_that_event() -> None:
    assert expires_at(UNTIL_ONLY, {"collected": at(2025, 1, 1)}) is None
    ended = at(2025, 6, 30)
    assert expires_at(UNTIL_ONLY, {"relationship_end": ended}) == ended


def test_a_rule_that_follows_its_record_has_no_expiry_of_its_own() -> None:
    assert expires_at(ROW, {"collected": at(2000, 1, 1)}) is None


def test_is_expired_from_the_moment_of_expiry() -> None:
    anchors = {"account_closed": at(2020, 6, 1)}
    boundary = at(2027, 6, 1)
    assert not is_expired(ACCOUNT, anchors, boundary - timedelta(microseconds=1))
    assert is_expired(ACCOUNT, anchors, boundary)


def test_until_events_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expires_at(UNTIL_ONLY, {"relationship_end": datetime(2025, 1, 1)})


# --- validation -----------------------------------------------------------------------


def policy(rules: tuple[Rule, ...], bases: tuple[Basis, ...]) -> Policy:
    return Policy(
        name="t",
        title="T",
        version="1",
        published=date(2026, 1, 1),
        controller=Controller("T Ltd", "privacy@t.example"),
        rules=rules,
        bases=bases,
    )


def basis(purpose: str, kind: str = "contract") -> Basis:
    return Basis(purpose, kind, "Art. 6(1)(b) GDPR", purpose)  # type: ignore[arg-type]


def test_a_consistent_policy_validates() -> None:
    good = policy((ACCOUNT, CONSENT, ROW), (basis("accounts"), basis("marketing", "consent")))
    assert validate(good) == []
    assert good.rule("account_data") is ACCOUNT
    assert good.rule("nope") is None
    assert good.rule_names == {"account_data", "marketing_consent", "with_parent"}


def test_a_rule_whose_purpose_has_no_legal_basis_is_reported() -> None:
    problems = validate(policy((ACCOUNT,), ()))
    assert [p.where for p in problems] == ["rule 'account_data'"]
    assert "purpose 'accounts' has no legal basis" in problems[0].message
    assert "[basis.accounts]" in problems[0].fix


def test_consent_based_data_must_end_when_consent_is_withdrawn() -> None:
    kept = Rule("marketing_consent", Period(12, "m"), "collected", purpose="marketing")
    problems = validate(policy((kept,), (basis("marketing", "consent"),)))
    assert len(problems) == 1
    assert "rests on consent" in problems[0].message
    assert 'until = ["withdrawn"]' in problems[0].fix
