"""What the retention sweep needs to know about each data set, and expiry as ranges. Pure.

Each table that holds data under a timed retention rule declares its `Lifecycle` beside
its definition (store/tables.py): where each anchor event of its records is recorded,
whose account a record is, which keyed indexes name its subjects, and which row it
belongs to. The sweep reads those declarations and the policy; it has no list of tables.

`anchor_ranges(period, now)` turns "add_period(anchor, period) <= now" into closed
ranges of anchor moments, so the database can select expired rows with plain range
predicates while keeping the calendar arithmetic of `tidings.domain.policy` exactly
(a month after 31 January is the last day of February).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tidings.domain.policy import ANCHORS, Period

LIFECYCLE_KEY = "lifecycle"


@dataclass(frozen=True)
class Ref:
    """A value on another table's row: `local` holds the key of that row."""

    local: str
    table: str
    column: str = "id"


@dataclass(frozen=True)
class Lifecycle:
    """A data set's part in retention.

    anchors: anchor event -> the column that records when it happened (or a `Ref` to
        one on another row, like the account's `closed_at`); events not listed never
        happen for this data set.
    account: the column holding the account id (legal holds are per account).
    key: the single-column key the sweep walks in batches.
    at: the record's own date, matched against a hold's days; None: any active hold of
        the account preserves the row (what held records need to stay readable: the
        account, its keys, its holds).
    subjects: keyed indexes naming the record's subjects; a subject hold preserves the
        rows where one of them matches. With none, subject holds preserve every row of
        the account in their days (the safe side).
    parent: the row this one belongs to: it goes when that row is deleted.
    busy: column -> values of rows still being worked on (a message not yet handed to
        its connector needs its text): the sweep leaves them for a later sweep.
    keyed: the `subjects`' personal data is under per-subject keys: once the sweep has
        deleted the last row of a subject, it destroys the subject's key.
    key_material: the rows are data keys whose material is in the key vault: deleting
        a row destroys the material.
    anonymised: the column set when a row is anonymised; a data set without one cannot
        be anonymised by the sweep.
    fields_of: the row whose fields this one holds, one row per parent (a message's
        text): its columns are judged as the parent's (its anchors, holds and busy
        states), and redacting them deletes this row.
    """

    anchors: Mapping[str, str | Ref]
    account: str
    key: str = "id"
    at: str | None = None
    subjects: tuple[str, ...] = ()
    parent: Ref | None = None
    busy: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    keyed: bool = False
    key_material: bool = False
    anonymised: str | None = None
    fields_of: Ref | None = None

    def __post_init__(self) -> None:
        unknown = set(self.anchors) - set(ANCHORS)
        if unknown:
            raise ValueError(f"unknown anchor(s) {sorted(unknown)}; anchors are {ANCHORS}")


def anchor_ranges(period: Period, now: datetime) -> list[tuple[datetime | None, datetime]]:
    """Closed ranges [low, high] (low None: unbounded) holding exactly the anchors `a`
    with `add_period(a, period) <= now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("retention arithmetic needs a timezone-aware datetime (use UTC)")
    if period.unit in ("d", "w"):
        days = period.amount * (7 if period.unit == "w" else 1)
        try:
            return [(None, now - timedelta(days=days))]
        except OverflowError:
            return []
    months = period.amount * (12 if period.unit == "y" else 1)
    year, month0 = divmod(now.year * 12 + now.month - 1 - months, 12)
    if year < 1:
        return []
    month = month0 + 1
    source_days = calendar.monthrange(year, month)[1]
    target_days = calendar.monthrange(now.year, now.month)[1]
    day, tz = now.day, now.tzinfo
    if day > source_days:
        # Every day of the source month lands before `now`'s day: the whole month expired.
        after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        return [(None, after - timedelta(microseconds=1))]
    clock = (now.hour, now.minute, now.second, now.microsecond)
    ranges: list[tuple[datetime | None, datetime]] = [
        (None, datetime(year, month, day, *clock, tzinfo=tz))
    ]
    if day == target_days:
        # Later days of the source month are cut back to `now`'s day (the month's last):
        # each of them has expired up to `now`'s time of day.
        for later in range(day + 1, source_days + 1):
            ranges.append(
                (
                    datetime(year, month, later, tzinfo=tz),
                    datetime(year, month, later, *clock, tzinfo=tz),
                )
            )
    return ranges
