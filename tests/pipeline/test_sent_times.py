"""A message is `sent` when the connector accepted it, not when that outcome was committed:
outcomes are committed in batches, and a receipt can come in between. Its `sent_at` and
its parts' `submitted_at` are the connector's answer; the history records when Tidings
wrote it down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from tests.support import accept_one
from tidings.core.clock import ManualClock, to_utc
from tidings.runtime import Runtime
from tidings.store.tables import message_events, message_parts, messages


def test_sent_at_and_submitted_at_are_when_the_connector_answered(
    runtime: Runtime, clock: ManualClock
) -> None:
    accept_one(runtime)
    [job] = runtime.dispatcher._claim(10)
    answered = clock.now()
    asyncio.run(runtime.dispatcher._send(job))
    assert job.result is not None and job.result.outcome == "accepted"
    clock.advance(timedelta(milliseconds=20))  # the outcome waits for others to commit with
    committed = clock.now()
    runtime.dispatcher._commit([job])

    message_id = job.message.id
    with runtime.db.read() as conn:
        sent_at = conn.execute(select(messages.c.sent_at).where(messages.c.id == message_id))
        [part] = conn.execute(
            select(message_parts.c.submitted_at, message_parts.c.done_at).where(
                message_parts.c.message_id == message_id
            )
        ).all()
        recorded = conn.execute(
            select(message_events.c.at).where(
                message_events.c.message_id == message_id, message_events.c.status == "sent"
            )
        ).scalar_one()
    assert to_utc(sent_at.scalar_one()) == answered
    assert to_utc(part.submitted_at) == answered and part.done_at is None
    assert to_utc(recorded) == committed
