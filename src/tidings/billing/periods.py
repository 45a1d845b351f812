"""Statement periods: calendar months in UTC, written YYYY-MM. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tidings.core.errors import InvalidInput

_FORMAT = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _FORMAT.fullmatch(text.strip()) if isinstance(text, str) else None
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
            raise InvalidInput(
                f"'period' {str(text)[:20]!r} is not a month; write it as YYYY-MM, like 2026-01",
                code="invalid_period",
                extra={"field": "period"},
            )
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def before(cls, moment: datetime) -> Month:
        """The month before the one `moment` falls in (UTC)."""
        at = moment.astimezone(UTC)
        return cls(at.year, at.month - 1) if at.month > 1 else cls(at.year - 1, 12)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the month."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)
