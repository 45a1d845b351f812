"""SMPP addresses (digits with a type of number) <-> Tidings' E.164 numbers and sender ids."""

from __future__ import annotations

from typing import Final

TON_UNKNOWN: Final = 0
TON_INTERNATIONAL: Final = 1
TON_ALPHANUMERIC: Final = 5
NPI_UNKNOWN: Final = 0
NPI_E164: Final = 1
SHORT_CODE_MAX_DIGITS: Final = 8


def destination_number(addr: str) -> str:
    """A handset number as the pipeline reads it: ESMEs write it with or without the +
    and with any type of number, so digits are taken as international."""
    addr = addr.strip()
    if addr.startswith("00") and addr[2:].isdigit():
        return "+" + addr[2:]
    if addr.isdigit():
        return "+" + addr
    return addr


def source_address(addr: str, ton: int) -> str:
    """The sender: a name (alphanumeric TON or letters), a short code, or a number."""
    if ton == TON_ALPHANUMERIC or not addr.isdigit():
        return addr
    if ton == TON_INTERNATIONAL or len(addr) > SHORT_CODE_MAX_DIGITS:
        return "+" + addr
    return addr


def to_smpp(value: str) -> tuple[str, int, int]:
    """(address, ton, npi) of a number or sender id for a deliver_sm."""
    if value.startswith("+") and value[1:].isdigit():
        return value[1:], TON_INTERNATIONAL, NPI_E164
    if value.isdigit():
        return value, TON_UNKNOWN, NPI_E164
    return value, TON_ALPHANUMERIC, NPI_UNKNOWN
