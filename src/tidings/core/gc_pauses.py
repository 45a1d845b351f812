"""Keep the cyclic garbage collector's pauses short in a long-running server.

A full collection walks every container object the process holds: here about 150,000
(modules, classes, functions, routes, caches), which took 40 to 80 ms on a busy 2-core machine,
a few times a minute under load: a stall of every request in flight, and the tail of the
latency. Objects that survived a collection are moved out of the collector's sight
(`gc.freeze`): at start, and then once a minute, so what it walks is only what the last
minute made. Frozen objects are still freed by reference counting; only a reference cycle
among them that becomes garbage would stay (the server's long-lived state has none that
it drops).
"""

from __future__ import annotations

import asyncio
import gc

PERIOD_SECONDS = 60.0
FIRST_SECONDS = 5.0  # after start-up work that runs once serving began (workers, lifespan)
# Python collects the youngest generation every 700 net new containers: in a server, every
# few dozen requests, each time walking everything the requests in flight hold. That was
# 9-18 us of CPU per single send; every 10,000 it is 1-3 us, in pauses of a few ms.
YOUNG_THRESHOLD = 10_000


def collect_young_less_often() -> None:
    """Raise the youngest generation's threshold (the older ones keep theirs)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def freeze_survivors() -> None:
    """Collect what is garbage now, then hide every survivor from later collections."""
    gc.collect()
    gc.freeze()


async def keep_freezing(period: float = PERIOD_SECONDS, first: float = FIRST_SECONDS) -> None:
    """Freeze the survivors after `first` seconds, then every `period` seconds (what requests
    created and kept: lazily imported modules, cache entries) until cancelled."""
    await asyncio.sleep(first)
    while True:
        freeze_survivors()
        await asyncio.sleep(period)
