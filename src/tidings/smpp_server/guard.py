"""Failed binds per peer address: after a few, each further bind from there is answered
more slowly, so guessing passwords online costs time. Time comes from the Clock."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from tidings.core.clock import Clock
from tidings.smpp_server.limits import ServerLimits

MAX_ADDRESSES = 10_000


class FailedBinds:
    def __init__(self, clock: Clock, limits: ServerLimits) -> None:
        self._clock = clock
        self._limits = limits
        self._window = timedelta(seconds=limits.failed_bind_window)
        self._failures: dict[str, deque[datetime]] = {}

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(address, deque(maxlen=64)).append(self._clock.now())

    def recent(self, address: str) -> int:
        times = self._failures.get(address)
        if not times:
            return 0
        cutoff = self._clock.now() - self._window
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self._failures[address]
        return len(times)

    def delay(self, address: str) -> float:
        """Seconds to wait before answering a bind from ``address``."""
        excess = self.recent(address) - self._limits.failed_binds_free
        if excess < 0:
            return 0.0
        return min(self._limits.failed_bind_delay * 2.0**excess, self._limits.failed_bind_max_delay)
