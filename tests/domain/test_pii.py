"""Finding and redacting phone numbers, emails, IBANs and card numbers in free text."""

from __future__ import annotations

import itertools
import random

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tidings.domain.pii import card_is_valid, find_pii, iban_is_valid, luhn_is_valid, redact

VALID_IBANS = [
    "NL91ABNA0417164300",
    "NL91 ABNA 0417 1643 00",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "BG80BNBG96611020345678",
    "FR1420041010050500013M02606",
]
VALID_CARDS = [
    "4111 1111 1111 1111",
    "4012888888881881",
    "5555-5555-5555-4444",
    "378282246310005",
    "6011111111111117",
    "2223003122003222",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans_are_found_and_redacted(iban: str) -> None:
    assert iban_is_valid(iban)
    text, findings = redact(f"Pay to {iban} today")
    assert text == "Pay to [iban] today"
    assert [f.kind for f in findings] == ["iban"]


@pytest.mark.parametrize(
    "iban",
    [
        "NL92ABNA0417164300",  # check digits wrong
        "NL91ABNA041716430",  # one character short for NL
        "XX91ABNA0417164300",  # no such country
        "GB82WEST1234569876543",  # one short for GB
    ],
)
def test_iban_lookalikes_fail_the_checks(iban: str) -> None:
    assert not iban_is_valid(iban)
    assert find_pii(f"ref {iban}") == []


@pytest.mark.parametrize("card", VALID_CARDS)
def test_card_numbers_are_found(card: str) -> None:
    assert card_is_valid(card)
    assert redact(f"card {card} exp 12/27")[0] == "card [card] exp 12/27"
    assert redact(f"card {card} 2 pcs")[0] == "card [card] 2 pcs"  # digits after it stay


def test_luhn() -> None:
    assert luhn_is_valid("79927398713")
    assert not luhn_is_valid("79927398710")


@pytest.mark.parametrize(
    "text",
    [
        "Order 1234567890123456 shipped",  # Luhn-valid but no card issuer starts with 1
        "Order 4111111111111112 shipped",  # a Visa prefix, Luhn fails
        "Invoice 2024/000123, order #55501234",
        "Delivered on 2024-01-31 at 12:30, or 31.01.2024, or 01/31/2024",
        "Timestamp 2024-11-22T17:00:00Z, build 20241122170000",
        "Your code is 123456. Ref 20240131-0001",
        "Total EUR 1.234.567,89 for 3 items",
        "Version 1.2.3.4 released; IP 192.168.100.200",
        "Tracking 9400111899223197428490",
    ],
)
def test_order_numbers_dates_and_amounts_are_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert find_pii(text, "NL") == []
    assert redact(text, "GB")[0] == text


def test_phone_numbers_international_and_national() -> None:
    text = "Call +31 6 12345678 or +1 415 555 0100; national 06-12345678"
    assert redact(text)[0] == "Call [phone] or [phone]; national 06-12345678"
    assert redact(text, "NL")[0] == "Call [phone] or [phone]; national [phone]"
    assert redact("bel 020 123 4567", "nl")[0] == "bel [phone]"


def test_emails() -> None:
    text = "Write to jan.de-vries+sms@example.co.uk, not to @handle or a@b"
    assert redact(text)[0] == "Write to [email], not to @handle or a@b"


def test_findings_do_not_overlap_and_keep_order() -> None:
    text = "IBAN NL91ABNA0417164300, card 4111111111111111, +31612345678, x@y.org"
    findings = find_pii(text)
    assert [f.kind for f in findings] == ["iban", "card", "phone", "email"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert redact(text)[0] == "IBAN [iban], card [card], [phone], [email]"


def _luhn_complete(partial: str) -> str:
    for digit in "0123456789":
        if luhn_is_valid(partial + digit):
            return partial + digit
    raise AssertionError("unreachable")


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    suffix=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    body=st.lists(st.integers(0, 9), min_size=14, max_size=14),
)
def test_any_visa_number_between_spaces_is_redacted(
    prefix: str, suffix: str, body: list[int]
) -> None:
    card = _luhn_complete("4" + "".join(map(str, body)))
    text, findings = redact(f"{prefix} {card} {suffix}")
    assert card not in text
    assert "card" in {f.kind for f in findings}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_redaction_never_grows_what_it_does_not_find(text: str) -> None:
    redacted, findings = redact(text)
    if not findings:
        assert redacted == text
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=10_000_000, max_value=59_999_999))
def test_a_dutch_mobile_number_is_found_in_any_sentence(local: int) -> None:
    number = f"+316{local}"  # 06-1 to 06-5: Dutch mobile ranges
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number)))
    words = ["Reply", "to", number, "before", "Friday"]
    random.Random(local).shuffle(words)
    text, _ = redact(" ".join(words))
    assert number not in text and "[phone]" in text
