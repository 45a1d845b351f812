"""Per-connector pacing: a token bucket for messages per second, a window for in-flight submits."""

from __future__ import annotations

import asyncio


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
    """At most `size` submits whose result is not yet durably recorded."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = asyncio.Semaphore(size)
        self.in_flight = 0

    async def acquire(self) -> None:
        await self._free.acquire()
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._free.release()
