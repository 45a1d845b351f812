"""Group commit: concurrent accepts share one transaction; each caller still waits for it.

Under load, while one transaction commits, the next requests gather and then commit
together, so the cost of a commit (an fsync on PostgreSQL) is paid once per group rather
than once per message. A request is answered only after the commit that holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitter(Generic[Item, Result]):
    """`write` commits a group in one transaction and returns one result per item, in order."""

    def __init__(
        self, write: Callable[[Sequence[Item]], Sequence[Result]], max_group: int = 500
    ) -> None:
        self._write = write
        self._max_group = max_group
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    async def commit(self, item: Item) -> Result:
        """Return `item`'s result once it is durably committed; raise what its transaction
        raised."""
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()  # bound to the loop that runs the committer
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._ready.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
            if not self._queue:
                self._ready.clear()
            if not group:
                continue
            self._busy = True
            try:
                results = await asyncio.to_thread(self._write, [item for item, _ in group])
            except Exception:
                # One bad item must not fail the others: commit each alone.
                for item, future in group:
                    try:
                        (result,) = await asyncio.to_thread(self._write, [item])
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(result)
                self._busy = False
                continue
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)
            self._busy = False

    async def close(self, timeout: float = 10.0) -> None:
        """Let queued and running commits finish (bounded), then stop."""
        if self._task is not None:
            deadline = asyncio.get_running_loop().time() + timeout
            while (self._queue or self._busy) and not self._task.done():
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.005)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
