"""The mobile fast path of number validation agrees with phonenumbers on every input."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.domain.addresses import _canonical_e164
from tidings.domain.number_info import describe_number

CODES = [31, 44, 49, 33, 1, 7, 39, 34, 91, 86, 55, 27, 61, 81, 234, 880, 800, 971, 353, 358, 262]


def _reference(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return raw if canonical == raw else None


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(CODES), st.text("0123456789", min_size=4, max_size=12))
def test_the_fast_path_accepts_exactly_what_phonenumbers_validates(code: int, digits: str) -> None:
    raw = f"+{code}{digits}"
    got = _canonical_e164(raw)
    assert got is None or got == _reference(raw)


@given(st.integers(0, 9_999_999))
def test_mobiles_take_the_fast_path_and_are_valid(n: int) -> None:
    raw = f"+3161{n:07d}"
    assert _canonical_e164(raw) == raw == _reference(raw)


def test_number_ranges_are_described() -> None:
    assert describe_number("+31612345678") == ("NL", "KPN", ("Europe/Amsterdam",))
    assert describe_number("+14155550100").region == "US"
    assert describe_number("+80012345678").region is None
