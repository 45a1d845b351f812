"""`anchor_ranges` selects exactly the anchors `expires_at` calls expired."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from tidings.domain.policy import add_period, parse_period
from tidings.domain.retention import Lifecycle, anchor_ranges


def inside(ranges: list[tuple[datetime | None, datetime]], moment: datetime) -> bool:
    return any((low is None or low <= moment) and moment <= high for low, high in ranges)


NOWS = [
    datetime(2025, 2, 28, 10, 0, tzinfo=UTC),  # last day of a short month
    datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2025, 3, 31, 0, 0, tzinfo=UTC),  # a day the month before has not
    datetime(2025, 4, 30, 12, 30, tzinfo=UTC),
    datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    datetime(2026, 7, 15, 8, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("period", ["1d", "30d", "2w", "1m", "2m", "12m", "1y", "4y", "7y"])
@pytest.mark.parametrize("now", NOWS, ids=lambda n: n.isoformat())
def test_ranges_match_the_calendar_arithmetic(period: str, now: datetime) -> None:
    step = parse_period(period)
    ranges = anchor_ranges(step, now)
    rng = random.Random(f"{period}{now}")
    # Every minute-ish around the boundary, plus random moments over ten years before it.
    boundary = now - timedelta(days=400 * step.amount if step.unit == "y" else 40 * step.amount)
    moments = [boundary + timedelta(minutes=37 * i) for i in range(0, 60 * 24 * 70 // 37)]
    moments += [now - timedelta(seconds=rng.randrange(0, 10 * 366 * 86400)) for _ in range(3000)]
    for end_of_day in range(1, 32):  # 29th to 31st of months, at assorted times
        for hour in (0, 9, 10, 11, 23):
            for back in range(0, 40):
                year, m0 = divmod(now.year * 12 + now.month - 1 - back, 12)
                with contextlib.suppress(ValueError):
                    moments.append(datetime(year, m0 + 1, end_of_day, hour, tzinfo=UTC))
    wrong = [m for m in moments if inside(ranges, m) != (add_period(m, step) <= now)]
    assert wrong == []


def test_unknown_anchor_is_refused() -> None:
    with pytest.raises(ValueError):
        Lifecycle(anchors={"created": "created_at"}, account="account_id")
