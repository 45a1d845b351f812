from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from tidings.pipeline.group_commit import GroupCommitter


async def test_concurrent_items_share_transactions_and_all_wait_for_commit() -> None:
    committed: list[list[int]] = []
    gate = threading.Event()

    def write(items: Sequence[int]) -> list[int]:
        gate.wait(1.0)  # the first transaction is slow: the rest gather meanwhile
        committed.append(list(items))
        return [i * 10 for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    tasks = [asyncio.create_task(committer.commit(i)) for i in range(100)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in tasks)  # nobody is answered before their commit
    gate.set()
    # each caller gets its own item's result, whatever group it was committed in
    assert await asyncio.gather(*tasks) == [i * 10 for i in range(100)]
    assert sorted(i for group in committed for i in group) == list(range(100))
    assert len(committed) < 10
    await committer.close()


async def test_one_bad_item_fails_alone() -> None:
    committed: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad item")
        committed.extend(items)
        return [-i for i in items]

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    results = await asyncio.gather(
        *(committer.commit(i) for i in range(30)), return_exceptions=True
    )
    failures = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failures == [13]
    assert [r for r in results if not isinstance(r, Exception)] == [
        -i for i in range(30) if i != 13
    ]
    assert sorted(committed) == [i for i in range(30) if i != 13]
    await committer.close()


async def test_groups_are_capped() -> None:
    sizes: list[int] = []

    def write(items: Sequence[int]) -> list[None]:
        sizes.append(len(items))
        return [None] * len(items)

    committer: GroupCommitter[int, None] = GroupCommitter(write, max_group=7)
    await asyncio.gather(*(committer.commit(i) for i in range(50)))
    assert max(sizes) <= 7
    assert sum(sizes) == 50
    await committer.close()


@pytest.mark.parametrize("count", [1])
async def test_a_single_item_commits_without_waiting_for_company(count: int) -> None:
    committed: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        committed.extend(items)
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(write)
    assert await asyncio.wait_for(committer.commit(count), timeout=1.0) == 1
    assert committed == [1]
    await committer.close()


async def test_close_waits_for_queued_commits() -> None:
    committed: list[int] = []
    gate = threading.Event()

    def write(items: Sequence[int]) -> list[None]:
        gate.wait(1.0)
        committed.extend(items)
        return [None] * len(items)

    committer: GroupCommitter[int, None] = GroupCommitter(write)
    tasks = [asyncio.create_task(committer.commit(i)) for i in range(20)]
    await asyncio.sleep(0.02)
    asyncio.get_running_loop().call_later(0.05, gate.set)
    await committer.close()
    assert sorted(committed) == list(range(20))
    assert all(t.done() and t.exception() is None for t in tasks)
