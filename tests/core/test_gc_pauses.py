"""The collector's view is kept small: survivors are frozen, garbage still collected."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tidings.core.gc_pauses import (
    YOUNG_THRESHOLD,
    collect_young_less_often,
    freeze_survivors,
    keep_freezing,
)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> object:
    yield None
    gc.unfreeze()


def test_survivors_are_frozen_and_cycles_made_before_still_collected() -> None:
    gc.unfreeze()
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle that is garbage once the names go
    del a, b
    kept = [Node() for _ in range(100)]
    freeze_survivors()
    assert gc.get_freeze_count() > len(kept)
    assert not any(type(o) is Node and o.other is not None for o in gc.get_objects())
    assert all(gc.is_tracked(n) for n in kept)


async def test_keep_freezing_runs_after_the_first_delay_and_then_periodically() -> None:
    gc.unfreeze()
    task = asyncio.create_task(keep_freezing(period=0.05, first=0.01))
    await asyncio.sleep(0.03)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    gc.unfreeze()
    await asyncio.sleep(0.08)
    assert gc.get_freeze_count() > 0  # frozen again by the next period
    task.cancel()


def test_the_young_generation_is_collected_less_often_the_older_ones_as_before() -> None:
    before = gc.get_threshold()
    try:
        collect_young_less_often()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)
