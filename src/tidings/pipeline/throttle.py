"""Per-connector pacing: a token bucket for messages per second, a window for in-flight submits."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class TokenBucket:
    def __init__(self, rate: float, burst_seconds: float = 0.05) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_seconds)
        self._tokens = self.capacity
        self._stamp: float | None = None

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self._stamp is None:
                self._stamp = now
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / self.rate)


class Window:
    """At most `size` holders at once; the others wait in order (first come, first served).

    Not asyncio.Semaphore: taking a free slot here is a counter and no await, which
    matters at one acquire per message; a release hands its slot to the oldest waiter.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_flight < self.size and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # release() passes its slot on: in_flight stays as it is
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, but cancelled before taking it: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_flight -= 1
