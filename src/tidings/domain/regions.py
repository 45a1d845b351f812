"""The region of a phone number, coarse enough to identify no one (statistics, anonymisation)."""

from __future__ import annotations

import functools

import phonenumbers


@functools.lru_cache(maxsize=1024)
def _region_of_prefix(prefix: str) -> str | None:
    for size in (1, 2, 3):
        code = int(prefix[:size]) if prefix[:size].isdigit() else 0
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            # One calling code, several regions (+1, +7, +44...): the code itself says no more.
            return regions[0] if len(regions) == 1 and regions[0] != "001" else f"+{code}"
    return None


def number_region(value: str) -> str | None:
    """The ISO 3166 region of an E.164 number whose calling code has one region ("NL"),
    "+<calling code>" when the code is shared ("+1", "+44"), None for anything else
    (alphanumeric senders, short codes)."""
    if len(value) < 4 or value[0] != "+":
        return None
    return _region_of_prefix(value[1:4])
