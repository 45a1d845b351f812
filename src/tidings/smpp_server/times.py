"""SMPP 3.4 time fields (§7.1.1): "YYMMDDhhmmsstnnp", absolute (p is + or -, nn quarter
hours from UTC) or relative (p is R). Empty means "not given"."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tidings.core.clock import to_utc

_SIZE = 16


def parse_smpp_time(value: str, now: datetime) -> datetime | None:
    """The instant ``value`` names (relative ones from ``now``); ValueError if malformed."""
    if not value:
        return None
    if len(value) != _SIZE or not value[:15].isdigit() or value[15] not in "+-R":
        raise ValueError(f"{value!r} is not an SMPP time (YYMMDDhhmmsstnnp)")
    yy, mo, dd, hh, mi, ss = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths, quarters, sign = int(value[12]), int(value[13:15]), value[15]
    if sign == "R":
        return now + timedelta(
            days=yy * 365 + mo * 30 + dd, hours=hh, minutes=mi, seconds=ss + tenths / 10
        )
    if quarters > 48:
        raise ValueError(f"{value!r} is more than 12 hours from UTC")
    offset = timedelta(minutes=15 * quarters) * (1 if sign == "+" else -1)
    local = datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=timezone(offset))
    return to_utc(local)


def format_smpp_time(value: datetime) -> str:
    """An absolute time in UTC, as query_sm_resp's final_date."""
    return f"{to_utc(value):%y%m%d%H%M%S}000+"
