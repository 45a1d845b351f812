"""Calendar months in UTC, written YYYY-MM (statement periods, message partitions). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

from tidings.core.errors import InvalidInput

_FORMAT = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Self:
        found = _FORMAT.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
            raise InvalidInput(
                f"'period' {str(text)[:20]!r} is not a month; write it as YYYY-MM, like 2026-01",
                code="invalid_period",
                extra={"field": "period"},
            )
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime) -> Self:
        """The month `moment` falls in (UTC)."""
        at = moment.astimezone(UTC)
        return cls(at.year, at.month)

    @classmethod
    def before(cls, moment: datetime) -> Self:
        """The month before the one `moment` falls in (UTC)."""
        return cls.of(moment).plus(-1)

    def plus(self, months: int) -> Self:
        year, month0 = divmod(self.year * 12 + self.month - 1 + months, 12)
        return type(self)(year, month0 + 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the month."""
        return self.plus(1).start

    def __str__(self) -> str:
        return self.label
