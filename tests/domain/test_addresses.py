import pickle

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.domain import addresses
from tidings.domain.addresses import (
    AddressError,
    Sender,
    normalise_number,
    normalise_sender,
    parse_tel_uri,
    tel_uri,
)

REGIONS = ["NL", "GB", "US", "DE", "FR", "IN", "BR", "JP", "ZA", "AU", "BE", "NG", "MX", "CN"]


def example_mobile(region: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert number is not None
    return number


# --- AddressError ------------------------------------------------------------------------


def test_address_error_fields_and_message() -> None:
    error = AddressError("to", "must be a valid phone number in E.164 form, like +31612345678")
    assert isinstance(error, ValueError)
    assert error.field == "to"
    assert error.code == "invalid_to"
    assert error.reason == "must be a valid phone number in E.164 form, like +31612345678"
    assert str(error) == "'to' must be a valid phone number in E.164 form, like +31612345678"
    assert AddressError("from", "is empty").code == "invalid_from"


def test_address_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(AddressError("from", "is empty")))
    assert isinstance(error, AddressError)
    assert (error.field, error.code, error.reason) == ("from", "invalid_from", "is empty")
    assert str(error) == "'from' is empty"


# --- normalise_number ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "+31612345678",
        "+31 6 12345678",
        "+31 6 1234 5678",
        "+31-6-1234-5678",
        "+31.6.12.34.56.78",
        "+31 (0)6 12345678",
        "+31 (6) 12345678",
        "0031612345678",
        "00 31 6 1234 5678",
        "0031-(0)6-12.34.56.78",
        "  +31612345678  ",
        "\t+31\u00a06\u00a012345678\n",
        "+31\u20116\u201312345678",
    ],
)
def test_normalise_dutch_mobile_formats(raw: str) -> None:
    assert normalise_number(raw) == "+31612345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (202) 555-0143", "+12025550143"),
        ("+1.202.555.0143", "+12025550143"),
        ("+44 7911 123456", "+447911123456"),
        ("+44 (0)7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+49 1512 3456789", "+4915123456789"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+39 06 1234 5678", "+390612345678"),
        ("+91 81234 56789", "+918123456789"),
        ("+55 11 96123-4567", "+5511961234567"),
        ("+81 90-1234-5678", "+819012345678"),
    ],
)
def test_normalise_international_formats(raw: str, expected: str) -> None:
    assert normalise_number(raw) == expected


def test_italian_leading_zero_is_kept() -> None:
    # Italy keeps the 0 of landline numbers after the country code.
    assert normalise_number("+39 06 1234 5678") == "+390612345678"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 12345678", "NL", "+31612345678"),
        ("06-12345678", "nl", "+31612345678"),
        ("07400 123456", "GB", "+447400123456"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("+44 7400 123456", "NL", "+447400123456"),
        ("0044 7400 123456", "NL", "+447400123456"),
    ],
)
def test_normalise_with_default_region(raw: str, region: str, expected: str) -> None:
    assert normalise_number(raw, default_region=region) == expected


@given(
    st.sampled_from(REGIONS),
    st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        ]
    ),
    st.booleans(),
)
def test_normalise_example_numbers(region: str, style: int, double_zero: bool) -> None:
    number = example_mobile(region)
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raw = phonenumbers.format_number(number, style).removeprefix("tel:")
    if double_zero:
        raw = "00" + raw.removeprefix("+")
    assert normalise_number(raw) == expected


@pytest.mark.parametrize("region", REGIONS)
def test_normalise_national_format_with_region(region: str) -> None:
    number = example_mobile(region)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert normalise_number(national, default_region=region) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("-().", "is empty"),
        ("+", "may only contain digits"),
        ("00", "may only contain digits"),
        ("+3161234", "is not a valid phone number"),
        ("+31 6 1234", "is not a valid phone number"),
        ("+316123456789", "is not a valid phone number"),
        ("+31 6 1234 567a", "may only contain digits"),
        ("+1-800-FLOWERS", "may only contain digits"),
        ("phone", "may only contain digits"),
        ("+31 6 12345678 ext 2", "may only contain digits"),
        ("++31612345678", "may only contain digits"),
        ("+31+612345678", "may only contain digits"),
        ("+31/612345678", "may only contain digits"),
        ("+\u0663\u0661\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", "may only"),
        ("+999 1234 5678", "is not a phone number"),
        ("+0 612345678", "is not a phone number"),
        ("+1 612345678", "is not a valid phone number"),
        ("0612345678", "must start with + and the country code"),
        ("31612345678", "must start with + and the country code"),
        ("+" + "1" * 100, "is too long"),
    ],
)
def test_invalid_numbers(raw: str, reason_part: str) -> None:
    with pytest.raises(AddressError) as caught:
        normalise_number(raw)
    error = caught.value
    assert error.field == "to"
    assert error.code == "invalid_to"
    assert reason_part in error.reason
    assert str(error).startswith("'to' ")
    assert "+31612345678" in str(error)


def test_wrong_country_code_for_a_valid_national_number() -> None:
    # A valid Dutch mobile number under the British or Belgian country code is not valid.
    assert normalise_number("+31612345678") == "+31612345678"
    for wrong in ("+44612345678", "+32612345678"):
        with pytest.raises(AddressError, match="is not a valid phone number"):
            normalise_number(wrong)


def test_invalid_number_error_uses_the_given_field() -> None:
    with pytest.raises(AddressError) as caught:
        normalise_number("+3161234", field="from")
    assert caught.value.code == "invalid_from"
    assert str(caught.value).startswith("'from' ")


def test_error_message_does_not_repeat_the_number() -> None:
    with pytest.raises(AddressError) as caught:
        normalise_number("+31 6 9876")
    assert "9876" not in str(caught.value)


def test_unknown_default_region_is_rejected() -> None:
    with pytest.raises(AddressError, match="is not a phone number"):
        normalise_number("0612345678", default_region="XX")


def test_normalise_number_is_cached() -> None:
    before = addresses._normalise_number.cache_info().hits
    assert normalise_number("+31 6 5555 0000") == "+31655550000"
    assert normalise_number("+31 6 5555 0000") == "+31655550000"
    assert addresses._normalise_number.cache_info().hits == before + 1


# --- normalise_sender ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+31612345678", Sender("+31612345678", "e164")),
        ("+31 6 1234 5678", Sender("+31612345678", "e164")),
        ("0031612345678", Sender("+31612345678", "e164")),
        ("+44 7400 123456", Sender("+447400123456", "e164")),
        ("123", Sender("123", "shortcode")),
        ("12345", Sender("12345", "shortcode")),
        ("0800", Sender("0800", "shortcode")),
        ("12345678", Sender("12345678", "shortcode")),
        ("A", Sender("A", "alphanumeric")),
        ("Tidings", Sender("Tidings", "alphanumeric")),
        ("ACME Bank", Sender("ACME Bank", "alphanumeric")),
        ("Hotel-4U", Sender("Hotel-4U", "alphanumeric")),
        ("Info_NL", Sender("Info_NL", "alphanumeric")),
        ("Café&Co.", Sender("Café&Co.", "alphanumeric")),
        ("Zürich Bank", Sender("Zürich Bank", "alphanumeric")),
        ("ΔΩ Group", Sender("ΔΩ Group", "alphanumeric")),
        ("12345678a", Sender("12345678a", "alphanumeric")),
        ("Ä1234567890", Sender("Ä1234567890", "alphanumeric")),
        ("ABCDEFGHIJK", Sender("ABCDEFGHIJK", "alphanumeric")),
    ],
)
def test_valid_senders(raw: str, expected: Sender) -> None:
    assert normalise_sender(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("ABCDEFGHIJKL", "at most 11 characters"),
        ("TidingsBank1", "at most 11 characters"),
        ("12", "needs at least one letter"),
        ("123456789", "needs at least one letter"),
        ("0612345678", "needs at least one letter"),
        ("+3161234", "needs at least one letter"),
        ("+31 6 1234", "needs at least one letter"),
        ("12 34", "needs at least one letter"),
        ("!!!", "needs at least one letter"),
        (" Acme", "must not start or end with a space"),
        ("Acme ", "must not start or end with a space"),
        ("Acme€", "cannot use"),
        ("Acme[1]", "cannot use"),
        ("Acme{}", "cannot use"),
        ("Acme\nCo", "cannot use"),
        ("Acme\rCo", "cannot use"),
        ("Acme\x1bCo", "cannot use"),
        ("Acme\tCo", "cannot use"),
        ("Ñandú", "cannot use"),
        ("Łódź", "cannot use"),
        ("Shop😀", "cannot use"),
        ("Acme`", "cannot use"),
    ],
)
def test_invalid_senders(raw: str, reason_part: str) -> None:
    with pytest.raises(AddressError) as caught:
        normalise_sender(raw)
    error = caught.value
    assert error.field == "from"
    assert error.code == "invalid_from"
    assert reason_part in error.reason
    assert str(error).startswith("'from' ")


@given(
    st.text(
        alphabet=st.sampled_from("ABCXYZabcxyzÄÖÑÜäöñüàéè0123456789 -_.&"),
        min_size=1,
        max_size=11,
    ).filter(lambda s: s == s.strip() and any(c.isalpha() for c in s))
)
def test_alphanumeric_sender_property(raw: str) -> None:
    assert normalise_sender(raw) == Sender(raw, "alphanumeric")


@given(st.text(alphabet=st.sampled_from("0123456789"), min_size=3, max_size=8))
def test_shortcode_property(raw: str) -> None:
    assert normalise_sender(raw) == Sender(raw, "shortcode")


@given(st.text(alphabet=st.sampled_from("0123456789"), min_size=9, max_size=15))
def test_long_digit_strings_without_plus_are_rejected(raw: str) -> None:
    with pytest.raises(AddressError) as caught:
        normalise_sender(raw)
    assert caught.value.code == "invalid_from"


# --- tel: URIs -------------------------------------------------------------------------------


def test_tel_uri() -> None:
    assert tel_uri("+31612345678") == "tel:+31612345678"


@pytest.mark.parametrize("value", ["31612345678", "+0612345678", "+31 612345678", "", "+1" * 9])
def test_tel_uri_rejects_non_e164(value: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        tel_uri(value)


@pytest.mark.parametrize(
    "uri",
    ["tel:+31612345678", "TEL:+31612345678", "tel:+31-6-1234-5678", "tel:+31.6.12.34.56.78"],
)
def test_parse_tel_uri(uri: str) -> None:
    assert parse_tel_uri(uri) == "+31612345678"


@pytest.mark.parametrize(
    ("uri", "reason_part"),
    [
        ("+31612345678", "must be a tel: URI"),
        ("sip:+31612345678", "must be a tel: URI"),
        ("tel", "must be a tel: URI"),
        ("tel:0612345678", "with a + and the country code"),
        ("tel:06;phone-context=+31", "without parameters"),
        ("tel:+31612345678;ext=12", "without parameters"),
        ("tel:+3161234", "is not a valid phone number"),
    ],
)
def test_parse_tel_uri_rejects(uri: str, reason_part: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_tel_uri(uri)
    assert caught.value.code == "invalid_to"
    assert reason_part in caught.value.reason


def test_parse_tel_uri_field() -> None:
    with pytest.raises(AddressError) as caught:
        parse_tel_uri("sip:x", field="from")
    assert caught.value.code == "invalid_from"


@given(st.sampled_from(REGIONS))
def test_tel_uri_round_trip(region: str) -> None:
    e164 = phonenumbers.format_number(example_mobile(region), phonenumbers.PhoneNumberFormat.E164)
    assert parse_tel_uri(tel_uri(e164)) == e164


# --- the E.164 fast path agrees with the full parser ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tidings.domain import addresses as _addresses  # noqa: E402


def _slow(raw: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_fast_path_never_accepts_what_the_parser_rejects(raw: str) -> None:
    fast = _addresses._canonical_e164(raw)
    if fast is not None:
        assert _slow(raw) == raw


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_fast_path_accepts_every_regions_example_numbers(region: str) -> None:
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        assert _addresses._canonical_e164(e164) == _slow(e164), (region, e164)
