"""A lease that runs out while its message is still being submitted by the same worker (a
stalled peer, a clock that jumped) lets that worker claim the message back: it must not
start a second submit of it, and it still stops cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support import accept_one
from tidings.channels.base import OutboundMessage, SendResult
from tidings.core.clock import ManualClock, to_utc
from tidings.runtime import Runtime
from tidings.store import messages as message_store
from tidings.store.tables import dispatch_queue


class HeldPeer:
    """A connector whose submits wait until the test lets them through."""

    def __init__(self) -> None:
        self.submits: list[str] = []
        self.release = asyncio.Event()

    async def send(self, message: OutboundMessage) -> SendResult:
        self.submits.append(message.id)
        await self.release.wait()
        return SendResult("accepted", connector_message_id=f"held-{len(self.submits)}")


@pytest.fixture
def peer(runtime: Runtime) -> HeldPeer:
    """Every connector of the runtime's dispatcher replaced by one held peer."""
    held = HeldPeer()
    for slot in runtime.dispatcher._slots.values():
        slot.connector = held  # type: ignore[assignment]
    return held


async def _until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_message_claimed_back_by_its_own_worker_is_submitted_once(
    runtime: Runtime, clock: ManualClock, peer: HeldPeer
) -> None:
    message_id = accept_one(runtime)
    dispatcher = runtime.dispatcher

    async def scenario() -> None:
        running = asyncio.create_task(dispatcher.run())
        await _until(lambda: peer.submits)
        clock.advance(timedelta(seconds=runtime.settings.lease_seconds + 1))
        dispatcher.wake()
        # The worker claims its own message back within a few polls.
        await _until(lambda: _leased_until(runtime) > clock.now())
        await asyncio.sleep(0.2)
        assert len(peer.submits) == 1
        peer.release.set()
        await _until(lambda: _status(runtime, message_id) == "sent")
        await asyncio.wait_for(dispatcher.stop(), 10)
        await running

    asyncio.run(scenario())
    assert peer.submits == [message_id]


def _status(runtime: Runtime, message_id: str) -> str:
    with runtime.db.read() as conn:
        state = message_store.lock_states(conn, [message_id], for_update=False)
    return str(state[message_id].status)


def _leased_until(runtime: Runtime) -> datetime:
    with runtime.db.read() as conn:
        until = conn.execute(select(func.max(dispatch_queue.c.lease_until))).scalar_one()
    return to_utc(until)


def test_the_worker_stops_even_when_its_last_outcomes_cannot_be_recorded(
    runtime: Runtime, peer: HeldPeer, caplog: pytest.LogCaptureFixture
) -> None:
    accept_one(runtime)
    dispatcher = runtime.dispatcher

    def fails(jobs: object) -> None:
        raise RuntimeError("the database went away")

    async def no_flushes() -> None:  # outcomes wait for the commit at stop
        await asyncio.Event().wait()

    dispatcher._flush_loop = no_flushes  # type: ignore[method-assign]
    dispatcher._commit = fails  # type: ignore[method-assign]

    async def scenario() -> None:
        running = asyncio.create_task(dispatcher.run())
        await _until(lambda: peer.submits)
        peer.release.set()
        await _until(lambda: dispatcher._done)
        await asyncio.wait_for(dispatcher.stop(), 20)
        await running

    asyncio.run(scenario())
    assert "recording the last dispatch outcomes failed at stop" in caplog.text
