"""Legal holds: which records a hold preserves. Pure.

A hold names an account and, optionally, one subject of it (the keyed blind index of a
phone number) and a span of record times `[held_from, held_until)`; either end may be
open. While it is active (not released) the retention sweep and erasure skip every record
it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Hold:
    id: str
    account_id: str
    subject_index: bytes | None
    held_from: datetime | None
    held_until: datetime | None
    created_at: datetime
    released_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def covers(self, account_id: str, subject_index: bytes | None, at: datetime) -> bool:
        """Does this (active) hold preserve a record of `account_id` about `subject_index`
        (None: a record about no one subject) dated `at`? An account-wide hold covers every
        record of the account; a subject hold only that subject's."""
        if not self.active or account_id != self.account_id:
            return False
        if self.subject_index is not None and subject_index != self.subject_index:
            return False
        if self.held_from is not None and at < self.held_from:
            return False
        return self.held_until is None or at < self.held_until

    def overlaps(self, account_id: str, subject_index: bytes | None, span: Span) -> bool:
        """Would a new hold on the same account and subject cover some of the same time?"""
        if not self.active or account_id != self.account_id:
            return False
        if subject_index != self.subject_index:
            return False
        return Span(self.held_from, self.held_until).overlaps(span)


@dataclass(frozen=True)
class Span:
    """`[start, end)`; None is an open end."""

    start: datetime | None
    end: datetime | None

    @classmethod
    def of_days(cls, first: date | None, last: date | None) -> Span:
        """Whole days, both inclusive, in UTC."""
        start = datetime.combine(first, time(), UTC) if first is not None else None
        end = datetime.combine(last, time(), UTC) + timedelta(days=1) if last is not None else None
        return cls(start, end)

    @property
    def empty(self) -> bool:
        return self.start is not None and self.end is not None and self.end <= self.start

    def overlaps(self, other: Span) -> bool:
        starts_before_other_ends = other.end is None or self.start is None or self.start < other.end
        ends_after_other_starts = other.start is None or self.end is None or other.start < self.end
        return starts_before_other_ends and ends_after_other_starts


def held(holds: list[Hold], account_id: str, subject_index: bytes | None, at: datetime) -> bool:
    return any(h.covers(account_id, subject_index, at) for h in holds)
