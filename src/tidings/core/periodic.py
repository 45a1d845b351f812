"""A job that `serve` runs every `interval` seconds, in a thread (its statements block)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("tidings.periodic")


class PeriodicJob:
    """Runs `job(stopping)` one interval after the start and every interval after that.

    `job` gets the event that `stop()` sets, so a long job can end after the step under
    way; an error is logged and the next run carries on."""

    def __init__(self, name: str, interval: float, job: Callable[[threading.Event], None]) -> None:
        self._name = name
        self._interval = interval
        self._job = job
        self._stopping = threading.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            if self._stopping.is_set():
                return
            try:
                await asyncio.to_thread(self._job, self._stopping)
            except Exception:
                log.exception("%s failed; the next run carries on", self._name)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
