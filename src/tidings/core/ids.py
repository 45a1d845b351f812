"""Time-sortable, type-prefixed identifiers (UUIDv7 layout, Crockford base32 text)."""

from __future__ import annotations

import os
from datetime import datetime

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> two characters
_SHIFTS = range(120, -10, -10)

PREFIXES = frozenset(
    {
        "acc",
        "msg",
        "key",
        "num",
        "usr",
        "whk",
        "dk",
        "req",
        "spr",
        "rcp",
        "pct",
        "con",
        "lst",
        "fld",
        "imp",
        "hld",
        "ret",
        "smc",
        "cev",
        "rte",
        "era",
        "acl",
        "inq",
        "stm",
        "arq",
    }
)


def _encode(value: int) -> str:
    """26 characters: 130 bits, the top two always zero."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id(prefix: str, at: datetime) -> str:
    """A 128-bit id: 48 bits of milliseconds since the epoch, 80 random bits."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    # UUIDv7 version and variant bits, so the id is also a valid UUID.
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{prefix}_{_encode(value)}"


def new_ids(prefix: str, at: datetime, count: int) -> list[str]:
    """`count` ids as `new_id(prefix, at)` gives them, the random bits drawn at once."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    # The milliseconds fill the first ten characters exactly: spelled once for all.
    head = f"{prefix}_{_encode(millis << 80)[:10]}"
    # the version (7) and the variant (10) among the random bits
    fixed = (0x7 << 76) | (0x2 << 62)
    keep = ((1 << 80) - 1) & ~(0xF << 76) & ~(0x3 << 62)
    noise = os.urandom(10 * count)
    to_int = int.from_bytes
    pairs = _PAIRS
    return [
        f"{head}{pairs[v >> 70]}{pairs[(v >> 60) & 1023]}{pairs[(v >> 50) & 1023]}"
        f"{pairs[(v >> 40) & 1023]}{pairs[(v >> 30) & 1023]}{pairs[(v >> 20) & 1023]}"
        f"{pairs[(v >> 10) & 1023]}{pairs[v & 1023]}"
        for v in (to_int(noise[i : i + 10], "big") & keep | fixed for i in range(0, 10 * count, 10))
    ]


def lowest_id(prefix: str, at: datetime) -> str:
    """The smallest id `new_id(prefix, t)` can give for any t >= at: a bound for ranges."""
    millis = max(0, int(at.timestamp() * 1000)) & ((1 << 48) - 1)
    value = (millis << 80) | (0x7 << 76) | (0x2 << 62)
    return f"{prefix}_{_encode(value)}"


def is_valid_id(value: str, prefix: str) -> bool:
    head, sep, tail = value.partition("_")
    return sep == "_" and head == prefix and len(tail) == 26 and all(c in _DECODE for c in tail)


def id_timestamp_ms(value: str) -> int:
    tail = value.partition("_")[2]
    number = 0
    for c in tail:
        number = (number << 5) | _DECODE[c]
    return number >> 80
