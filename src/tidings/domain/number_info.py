"""What a phone number's range says about it: region, the operator it was allocated to,
its time zones. Pure; derived once when a contact's number is stored.

phonenumbers keys its carrier and time-zone data by prefixes of at most 9 digits (country
code included), so the answer for one number holds for every number sharing its first 9
digits: lookups are cached per prefix, which turns a million-row import's 20 µs per number
into a dictionary hit.
"""

from __future__ import annotations

from typing import NamedTuple

import phonenumbers
from phonenumbers import carrier, timezone
from phonenumbers.carrierdata import CARRIER_LONGEST_PREFIX
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX

_PREFIX_DIGITS = max(CARRIER_LONGEST_PREFIX, TIMEZONE_LONGEST_PREFIX)
_UNKNOWN_ZONE = "Etc/Unknown"


class NumberInfo(NamedTuple):
    region: str | None  # ISO 3166-1 alpha-2, like "NL"; None for non-geographic numbers
    carrier: str | None  # the operator the range was allocated to (numbers may be ported)
    time_zones: tuple[str, ...]  # IANA names, like ("Europe/Amsterdam",)


_CACHE_SIZE = 65536
_cache: dict[str, NumberInfo] = {}


def describe_number(e164: str) -> NumberInfo:
    """Region, carrier and time zones of a normalised E.164 number such as +31612345678."""
    prefix = e164[1 : 1 + _PREFIX_DIGITS]
    info = _cache.get(prefix)
    if info is None:
        info = _lookup(e164)
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()  # ranges seen in one import are few; a full cache is rare
        _cache[prefix] = info
    return info


def _lookup(e164: str) -> NumberInfo:
    parsed = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(parsed)
    operator = carrier.name_for_number(parsed, "en") or None
    zones = tuple(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE)
    return NumberInfo(None if region in (None, "ZZ", "001") else region, operator, zones)
