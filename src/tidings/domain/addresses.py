"""Phone numbers and SMS sender IDs: validation and normalisation.

Pure functions only. Error messages never repeat the rejected value, because
addresses are personal data and errors end up in logs and API responses.
"""

from __future__ import annotations

import functools
import re
from typing import Final, Literal, NamedTuple

import phonenumbers

from tidings.domain.encoding import GSM7_BASIC

SenderKind = Literal["e164", "alphanumeric", "shortcode"]

_E164_EXAMPLE: Final = "in international E.164 form, like +31612345678"
_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015.()]")
_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}", re.ASCII)
_SHORTCODE: Final = re.compile(r"[0-9]{3,8}", re.ASCII)
_ALPHANUMERIC_MAX: Final = 11
_ALPHANUMERIC_CHARS: Final = frozenset(GSM7_BASIC) - {"\n", "\r", "\x1b"}
# Far above any real number; keeps pathological input away from the parser and the cache.
_MAX_RAW_LENGTH: Final = 64


class AddressError(ValueError):
    """An address that cannot be used; ``code`` is ``invalid_<field>`` for API errors."""

    field: str
    code: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.code = f"invalid_{field}"
        self.reason = reason
        super().__init__(f"'{field}' {reason}")

    def __reduce__(self) -> tuple[type[AddressError], tuple[str, str]]:
        # The default reduce would call __init__ with the formatted message only.
        return (type(self), (self.field, self.reason))


class Sender(NamedTuple):
    value: str
    kind: SenderKind


def _canonical_e164(raw: str) -> str | None:
    """`raw` itself when it already is a valid E.164 number, else None.

    Building the number from its country code skips phonenumbers' general parser, which
    costs more than the validity check itself; anything unusual takes the full path.
    """
    if not _E164.fullmatch(raw) or len(raw) < 8:
        return None
    digits = raw[1:]
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if _is_mobile_number(country_code, national):
                return raw
            number = phonenumbers.PhoneNumber(
                country_code=country_code, national_number=int(national)
            )
            zeros = len(national) - len(national.lstrip("0"))
            if zeros:
                number.italian_leading_zero = True
                number.number_of_leading_zeros = zeros
            return raw if phonenumbers.is_valid_number(number) else None
    return None


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _matches(national: str, desc: phonenumbers.PhoneNumberDesc | None) -> bool:
    """phonenumbers' own test of a national number against a number description."""
    if desc is None or not desc.national_number_pattern:
        return False
    if desc.possible_length and len(national) not in desc.possible_length:
        return False
    return _pattern(desc.national_number_pattern).fullmatch(national) is not None


def _is_mobile_number(country_code: int, national: str) -> bool:
    """True when the number matches its country's general and mobile patterns, which makes it
    valid (phonenumbers calls a number valid when it matches the general pattern and any
    type's). Most numbers sent to are mobiles: this one check replaces walking every number
    type, the bulk of validation's cost. False means "ask the full validation"."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) != 1 or regions[0] == "001":
        return False  # shared (+1, +7...) or non-geographic codes: the full path decides
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(regions[0])
    if metadata is None:
        return False
    return _matches(national, metadata.general_desc) and _matches(national, metadata.mobile)


@functools.lru_cache(maxsize=65536)
def _normalise_number(raw: str, field: str, default_region: str | None) -> str:
    fast = _canonical_e164(raw)
    if fast is not None:
        return fast
    if len(raw) > _MAX_RAW_LENGTH:
        raise AddressError(field, f"is too long to be a phone number; give one {_E164_EXAMPLE}")
    compact = _SEPARATORS.sub("", raw)
    if not compact:
        raise AddressError(field, f"is empty; give a phone number {_E164_EXAMPLE}")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    digits = compact.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        raise AddressError(
            field,
            "may only contain digits, a leading + and spaces, dashes, dots or parentheses; "
            f"give a phone number {_E164_EXAMPLE}",
        )
    if not compact.startswith("+") and default_region is None:
        raise AddressError(
            field, f"must start with + and the country code; give a phone number {_E164_EXAMPLE}"
        )
    region = default_region.upper() if default_region is not None else None
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        raise AddressError(
            field, f"is not a phone number; give a phone number {_E164_EXAMPLE}"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise AddressError(
            field,
            "is not a valid phone number; check the country code and the number of digits "
            f"and give it {_E164_EXAMPLE}",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_number(raw: str, field: str = "to", default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 number such as ``+31612345678`` or raise AddressError.

    Spaces, dashes, dots, parentheses and a leading ``00`` are accepted. Without a
    ``default_region`` the number must carry its country code.
    """
    # The cached helper keeps this signature precise for type checkers.
    return _normalise_number(raw, field, default_region)


def normalise_sender(raw: str) -> Sender:
    """Classify and validate an SMS sender: E.164 number, short code or alphanumeric name."""
    return _normalise_sender(raw)


@functools.lru_cache(maxsize=4096)
def _normalise_sender(raw: str) -> Sender:
    if not raw.strip():
        raise AddressError(
            "from",
            f"is empty; give a phone number {_E164_EXAMPLE}, a short code of 3 to 8 digits "
            "or a sender name of up to 11 characters",
        )
    if _SHORTCODE.fullmatch(raw):
        return Sender(raw, "shortcode")
    try:
        return Sender(normalise_number(raw, "from"), "e164")
    except AddressError:
        pass
    if not any(char.isalpha() for char in raw):
        raise AddressError(
            "from",
            f"must be a valid phone number {_E164_EXAMPLE} or a short code of 3 to 8 digits; "
            "a sender name needs at least one letter",
        )
    if len(raw) > _ALPHANUMERIC_MAX:
        raise AddressError(
            "from",
            f"is {len(raw)} characters long; a sender name can have at most "
            f"{_ALPHANUMERIC_MAX} characters",
        )
    if raw != raw.strip(" "):
        raise AddressError("from", "must not start or end with a space")
    for char in raw:
        if char not in _ALPHANUMERIC_CHARS:
            raise AddressError(
                "from",
                f"contains {char!r}, which a sender name cannot use; use letters, digits, "
                "spaces and characters of the GSM 7-bit alphabet",
            )
    return Sender(raw, "alphanumeric")


def tel_uri(e164: str) -> str:
    """Format a normalised E.164 number as an RFC 3966 URI: ``tel:+31612345678``."""
    if not _E164.fullmatch(e164):
        raise ValueError("tel_uri needs an E.164 number such as +31612345678; normalise it first")
    return f"tel:{e164}"


def parse_tel_uri(uri: str, field: str = "to") -> str:
    """Return the E.164 number of a global ``tel:`` URI, or raise AddressError."""
    if uri[:4].lower() != "tel:":
        raise AddressError(field, "must be a tel: URI, like tel:+31612345678")
    number = uri[4:]
    if ";" in number:
        raise AddressError(
            field, "must be a tel: URI without parameters such as ;ext=, like tel:+31612345678"
        )
    if not number.startswith("+"):
        raise AddressError(
            field, "must be a tel: URI with a + and the country code, like tel:+31612345678"
        )
    return normalise_number(number, field)
