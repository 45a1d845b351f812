"""Personal data in free text, found offline: phone numbers, emails, IBANs and card numbers.

Pure functions, no I/O. Each finding is checked, not just pattern-matched: IBANs by their
country's length and the ISO 13616 mod-97 check, card numbers by the Luhn check and an
issuer prefix, phone numbers by libphonenumber's validity rules (which also keep dates,
times and other digit runs out). Used to redact message text in logs, in exports and on
request (`redact`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers

Kind = Literal["email", "iban", "card", "phone"]
KINDS: Final[tuple[Kind, ...]] = ("email", "iban", "card", "phone")
# Text longer than this is scanned in its first part only (a log line, a message body).
MAX_SCAN: Final = 100_000

_EMAIL: Final = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)
# Two letters, two check digits, then 11-30 letters or digits, optionally in groups of four.
_IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])", re.ASCII
)
# 12-19 digits, optionally grouped by single spaces or dashes.
_CARD: Final = re.compile(r"(?<![0-9.,/-])[0-9](?:[ -]?[0-9]){11,18}(?![0-9]|[.,/-][0-9])")

IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# Issuer prefixes (first digits) and the lengths their cards have.
_CARD_ISSUERS: Final = (
    (("4",), (13, 16, 19)),  # Visa
    (("51", "52", "53", "54", "55"), (16,)),  # Mastercard
    (tuple(str(p) for p in range(2221, 2721)), (16,)),  # Mastercard 2-series
    (("34", "37"), (15,)),  # American Express
    (("6011", "65", "644", "645", "646", "647", "648", "649"), (16, 17, 18, 19)),  # Discover
    (("35",), (16, 17, 18, 19)),  # JCB
    (("300", "301", "302", "303", "304", "305", "36", "38", "39"), (14, 15, 16, 17, 18, 19)),
    (("62",), (16, 17, 18, 19)),  # UnionPay
    (("50", "56", "57", "58", "63", "67"), (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    start: int
    end: int

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


def iban_is_valid(value: str) -> bool:
    """ISO 13616: the country's length and mod-97 of the rearranged number equal to 1."""
    compact = value.replace(" ", "").upper()
    if len(compact) != IBAN_LENGTHS.get(compact[:2], -1) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97 == 1


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_is_valid(value: str) -> bool:
    """A payment card number: a known issuer prefix, that issuer's length, and Luhn."""
    digits = re.sub(r"[ -]", "", value)
    if not digits.isdigit():
        return False
    issuer_fits = any(
        digits.startswith(prefixes) and len(digits) in lengths
        for prefixes, lengths in _CARD_ISSUERS
    )
    return issuer_fits and luhn_is_valid(digits)


def _card_spans(run: str, offset: int) -> list[tuple[int, int]]:
    """Card numbers inside a run of digit groups ("card 4111 1111 1111 1111 0 items"): the
    longest valid run of whole groups, then the same for what is left on either side."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"[0-9]+", run)]
    for size in range(len(groups), 0, -1):
        for first in range(len(groups) - size + 1):
            start, end = groups[first][0], groups[first + size - 1][1]
            if card_is_valid(run[start:end]):
                before = _card_spans(run[: groups[first][0]], offset) if first else []
                after_start = groups[first + size - 1][1]
                after = _card_spans(run[after_start:], offset + after_start)
                return [*before, (offset + start, offset + end), *after]
    return []


def is_region(region: str) -> bool:
    """An ISO 3166 region libphonenumber knows ("NL", "gb")."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def find_pii(text: str, region: str | None = None) -> list[Finding]:
    """Every finding, in order, without overlaps (emails, then IBANs, cards, phones win).

    `region` (ISO 3166, like "NL") also finds national phone numbers written without a
    country code; without it only international ones (+31..., 0031...) are found.
    """
    text = text[:MAX_SCAN]
    found: list[Finding] = []

    def free(start: int, end: int) -> bool:
        return all(end <= f.start or start >= f.end for f in found)

    for match in _EMAIL.finditer(text):
        found.append(Finding("email", match.start(), match.end()))
    for match in _IBAN.finditer(text):
        if iban_is_valid(match.group()) and free(match.start(), match.end()):
            found.append(Finding("iban", match.start(), match.end()))
    for match in _CARD.finditer(text):
        for start, end in _card_spans(match.group(), match.start()):
            if free(start, end):
                found.append(Finding("card", start, end))
    matcher = phonenumbers.PhoneNumberMatcher(
        text, (region or "ZZ").upper(), leniency=phonenumbers.Leniency.VALID
    )
    for phone in matcher:
        if free(phone.start, phone.end):
            found.append(Finding("phone", phone.start, phone.end))
    return sorted(found, key=lambda f: f.start)


def redact(text: str, region: str | None = None) -> tuple[str, list[Finding]]:
    """The text with each finding replaced by its kind in brackets ("[phone]")."""
    findings = find_pii(text, region)
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(f"[{finding.kind}]")
        position = finding.end
    parts.append(text[position:])
    return "".join(parts), findings
