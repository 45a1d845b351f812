"""The consent rules: state from the ledger, marketing bases, keywords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.domain.consent import (
    CHANNELS,
    ConsentError,
    Event,
    check_event,
    check_keywords,
    fold,
    is_suppressed,
    match_keyword,
    state_of,
    states,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(
    n: int, action: str, basis: str = "consent", channel: str = "sms", purpose: str = "marketing"
) -> Event:
    return Event(f"cev_{n:026d}", n, channel, purpose, action, basis, T0 + timedelta(days=n))


def test_no_event_means_no_basis() -> None:
    state = state_of([], "sms", "marketing")
    assert (state.status, state.valid) == ("none", False)


def test_the_latest_event_wins_and_history_stays() -> None:
    events = [ev(1, "granted"), ev(2, "withdrawn"), ev(3, "granted")]
    assert state_of(events, "sms", "marketing").valid
    assert not state_of(events[:2], "sms", "marketing").valid
    assert state_of(events[:2], "sms", "marketing").status == "withdrawn"


def test_order_is_by_when_it_happened_not_by_arrival() -> None:
    # an old grant imported after a withdrawal does not undo the withdrawal
    events = [ev(5, "withdrawn"), ev(1, "granted")]
    assert state_of(events, "sms", "marketing").status == "withdrawn"


def test_a_no_is_undone_only_by_fresh_consent() -> None:
    objected = [ev(1, "granted", "legitimate_interest"), ev(2, "objected", "legitimate_interest")]
    soft_again = [*objected, ev(3, "granted", "legitimate_interest")]
    assert state_of(soft_again, "sms", "marketing").status == "objected"
    assert state_of([*objected, ev(3, "granted", "consent")], "sms", "marketing").valid


def test_all_applies_to_every_channel_and_a_channel_event_after_it_wins() -> None:
    events = [ev(1, "granted", channel="all"), ev(2, "withdrawn", channel="whatsapp")]
    assert state_of(events, "sms", "marketing").valid
    assert not state_of(events, "whatsapp", "marketing").valid
    listed = {(s.channel, s.purpose): s.status for s in states(events)}
    assert set(listed) == {(c, "marketing") for c in CHANNELS}
    assert listed[("whatsapp", "marketing")] == "withdrawn"


def test_purposes_are_separate() -> None:
    events = [ev(1, "granted", purpose="newsletter")]
    assert state_of(events, "sms", "newsletter").valid
    assert not state_of(events, "sms", "marketing").valid


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("email", "marketing", "granted", "consent", "api"), "channel"),
        (("sms", "Marketing!", "granted", "consent", "api"), "purpose"),
        (("sms", "marketing", "given", "consent", "api"), "action"),
        (("sms", "marketing", "granted", "vibes", "api"), "basis"),
        (("sms", "marketing", "granted", "consent", "fax"), "source"),
        (("sms", "marketing", "granted", "contract", "api"), "basis"),
    ],
)
def test_bad_events_name_the_field(args: tuple[str, str, str, str, str], field: str) -> None:
    with pytest.raises(ConsentError) as caught:
        check_event(*args)
    assert caught.value.field == field


def test_good_events_pass() -> None:
    check_event("all", "marketing", "granted", "legitimate_interest", "import")
    check_event("fax", "billing_notices", "granted", "contract", "console")
    check_event("sms", "marketing", "withdrawn", "consent", "keyword")


def test_suppression_by_channel_or_all() -> None:
    assert is_suppressed({"sms"}, "sms") and is_suppressed({"all"}, "viber")
    assert not is_suppressed({"whatsapp"}, "sms") and not is_suppressed(set(), "sms")


LANGUAGES = {
    "en": {"opt_out": ["STOP"], "opt_out_all": ["STOPALL"], "opt_in": ["START"], "help": ["HELP"]},
    "bg": {"opt_out": ["СТОП"], "opt_in": ["Начало"]},
    "fr": {"opt_out": ["ARRÊT"]},
}


@pytest.mark.parametrize(
    ("body", "kind", "language"),
    [
        ("STOP", "opt_out", "en"),
        ("  stop \n", "opt_out", "en"),
        ("Stop", "opt_out", "en"),
        ("stopall", "opt_out_all", "en"),
        ("arret", "opt_out", "fr"),
        ("Arrêt", "opt_out", "fr"),
        ("стоп", "opt_out", "bg"),
        ("начало", "opt_in", "bg"),
        ("help", "help", "en"),
    ],
)
def test_keywords_match_one_word_whatever_case_spaces_and_accents(
    body: str, kind: str, language: str
) -> None:
    found = match_keyword(body, LANGUAGES)
    assert found is not None and (found.kind, found.language) == (kind, language)


@pytest.mark.parametrize("body", ["please stop", "STOP!", "stopp", "", "   ", "start now"])
def test_anything_else_is_no_keyword(body: str) -> None:
    assert match_keyword(body, LANGUAGES) is None


def test_fold() -> None:
    assert fold("  ÉnD ") == "end"


def test_keyword_lists_are_checked() -> None:
    check_keywords(LANGUAGES)
    with pytest.raises(ConsentError, match="one word"):
        check_keywords({"en": {"opt_out": ["stop now"]}})
    with pytest.raises(ConsentError, match="also a opt_out"):
        check_keywords({"en": {"opt_out": ["STOP"]}, "de": {"opt_in": ["stop"]}})
