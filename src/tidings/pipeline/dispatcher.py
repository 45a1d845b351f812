"""Dispatch: claim due work, route it, pace it per connector, submit, record the outcome.

A connector's window slot is held until the submit's outcome is committed, so a crash
re-sends at most `window` messages per connector: the ones handed over but not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.channels.base import Connector, OutboundMessage, SendResult
from tidings.core.clock import Clock, to_utc
from tidings.core.config import Settings
from tidings.core.crypto import BatchDecrypter, Crypto, KeyUnavailable
from tidings.domain.status import is_final
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.routing import Router
from tidings.pipeline.throttle import TokenBucket, Window
from tidings.pipeline.transitions import Change, StatusWriter
from tidings.store import messages as message_store
from tidings.store import parts as part_store
from tidings.store.database import Database
from tidings.store.messages import DispatchRow

log = logging.getLogger("tidings.dispatch")


class ConnectorSlot:
    """A connector with its pacing."""

    def __init__(self, connector: Connector, tps: float, window: int) -> None:
        self.connector = connector
        self.bucket = TokenBucket(tps)
        self.window = Window(window)
        # This connector's metric children, looked up once (labels() costs a lock and a
        # dict lookup per call, twice per message otherwise).
        self.inflight: Any = None
        self.dispatched: dict[str, Any] = {}


@dataclass(slots=True)
class Job:
    message: OutboundMessage
    attempts: int
    tried: list[str]
    result: SendResult | None = None
    connector: str | None = None
    slot: ConnectorSlot | None = None
    notes: list[str] = field(default_factory=list)
    # When the connector answered: the message's `sent_at` and its parts' `submitted_at`.
    # The outcome is committed later, with others, and a receipt may come in between.
    answered_at: datetime | None = None


def _decrypt(row: DispatchRow, decrypter: BatchDecrypter) -> OutboundMessage:
    account = row.account_id
    dec = decrypter.decrypt
    return OutboundMessage(
        id=row.id,
        channel=row.channel,
        sender=dec(account, "messages.sender", row.sender_enc or b""),
        to=dec(account, "messages.recipient", row.recipient_enc or b""),
        body=dec(account, "messages.body", row.body_enc) if row.body_enc else "",
        encoding=row.encoding,
        segments=row.segments,
        expires_at=to_utc(row.expires_at) if row.expires_at is not None else None,
    )


class Dispatcher:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        metrics: Metrics,
        writer: StatusWriter,
        router: Router,
        slots: Mapping[str, ConnectorSlot],
        settings: Settings,
        owner: str,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._metrics = metrics
        self._writer = writer
        self._router = router
        self._slots = slots
        self._settings = settings
        self._owner = owner
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._done: list[Job] = []
        self._pending: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._exited = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.poll_seconds = 0.05
        self.flush_seconds = 0.01
        # Outcomes are committed, and new work claimed, in batches: a transaction costs
        # about as much as tens of messages' rows, so a worker that committed each
        # handful of outcomes as it came spent most of its CPU on transactions. An outcome
        # waits at most `gather_seconds` for others; a claim waits, while submits are under
        # way, until it can take `claim_batch` messages.
        self.gather_seconds = 0.02
        capacity = sum(s.window.size for s in slots.values())
        self._max_pending = capacity + settings.dispatch_batch
        self.commit_batch = max(1, capacity // 2)
        self.claim_batch = max(1, min(settings.dispatch_batch, capacity // 4))
        self._first_done = 0.0  # loop time the oldest outcome in `_done` came

    # --- control ---------------------------------------------------------------
    def wake(self) -> None:
        """Thread-safe: new work was committed."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._db.is_sqlite:
            # One node owns an SQLite file: leases left by a crashed run are ours to take back.
            await asyncio.to_thread(self._release_leases)
        flusher = asyncio.create_task(self._flush_loop())
        renewer = asyncio.create_task(self._renew_loop())
        try:
            while not self._stopping:
                room = self._max_pending - len(self._pending)
                if room <= 0 or (room < self.claim_batch and self._pending):
                    self._progress.clear()
                    await self._progress.wait()
                    continue
                try:
                    jobs = await asyncio.to_thread(
                        self._claim, min(room, self._settings.dispatch_batch)
                    )
                except Exception:
                    log.exception("claiming work failed; retrying")
                    await asyncio.sleep(1.0)
                    continue
                if not jobs:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    continue
                for job in jobs:
                    if job.message.id in self._pending:
                        # Its lease ran out while its submit or outcome was still under way
                        # here (a stalled peer, a clock that jumped) and this claim took it
                        # back: the job under way finishes it; a second would send it twice.
                        continue
                    self._pending[job.message.id] = job
                    task = asyncio.create_task(self._send(job))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            try:
                # Let submits under way finish and their outcomes be committed before leaving.
                deadline = asyncio.get_running_loop().time() + 5.0
                while (self._tasks or self._done) and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
                flusher.cancel()
                renewer.cancel()
                if self._done:
                    await asyncio.to_thread(self._commit, self._take_done())
            except Exception:
                # Their leases run out and another run sends them again, as after a crash.
                log.exception("recording the last dispatch outcomes failed at stop")
            finally:
                self._exited.set()  # stop() waits for this, whatever happened

    async def stop(self) -> None:
        """Stop claiming, finish what is under way, and return once run() has ended."""
        self._stopping = True
        self._wake.set()
        self._progress.set()
        if self._loop is not None:
            await self._exited.wait()

    def _release_leases(self) -> None:
        with self._db.write() as conn:
            message_store.release_all_leases(conn, self._clock.now())

    # --- claim -----------------------------------------------------------------
    def _claim(self, limit: int) -> list[Job]:
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._settings.lease_seconds)
        jobs: list[Job] = []
        with self._db.write() as conn:
            work = message_store.claim_due(
                conn,
                now=now,
                limit=limit,
                owner=self._owner,
                lease_until=lease_until,
                skip_locked=not self._db.is_sqlite,
            )
            if not work:
                return []
            tried = {w.message_id: [t for t in w.tried_connectors.split(",") if t] for w in work}
            rows = message_store.load_for_dispatch(conn, list(tried))
            # One query for the keys of the whole claim, not one per subject.
            decrypter = self._crypto.batch(
                blob for row in rows for blob in (row.sender_enc, row.recipient_enc, row.body_enc)
            )
            changes: list[Change] = []
            finished: list[str] = []
            for row in rows:
                if is_final(row.status):
                    finished.append(row.id)
                    continue
                if row.expires_at is not None and to_utc(row.expires_at) <= now:
                    changes.append(
                        Change(
                            row.id,
                            "expired",
                            {
                                "error_code": "expired",
                                "error_message": "validity period ended before sending",
                            },
                        )
                    )
                    finished.append(row.id)
                    continue
                try:
                    message = _decrypt(row, decrypter)
                except KeyUnavailable:
                    changes.append(
                        Change(
                            row.id,
                            "failed",
                            {
                                "error_code": "data_erased",
                                "error_message": "the message data was erased before sending",
                            },
                        )
                    )
                    finished.append(row.id)
                    continue
                if row.status == "scheduled":
                    changes.append(Change(row.id, "queued"))
                if row.status != "sending":  # "sending" here: a run that crashed mid-submit
                    changes.append(Change(row.id, "sending", {"attempts": row.attempts + 1}))
                jobs.append(
                    Job(message=message, attempts=row.attempts + 1, tried=tried.get(row.id, []))
                )
            self._writer.apply(conn, changes, now, states={row.id: row for row in rows})
            message_store.finish_work(conn, finished)
        return jobs

    # --- send ------------------------------------------------------------------
    async def _send(self, job: Job) -> None:
        candidates = [
            c
            for c in self._router.candidates(job.message.to)
            if c in self._slots and c not in job.tried
        ]
        if not candidates:
            job.result = SendResult(
                "permanent",
                error_code="no_route",
                error_message="no connector routes this destination",
            )
            self._finish(job)
            return
        for name in candidates:
            slot = self._slots[name]
            await slot.window.acquire()
            if slot.inflight is None:
                slot.inflight = self._metrics.inflight.labels(name)
            slot.inflight.set(slot.window.in_flight)
            await slot.bucket.take()
            try:
                result = await slot.connector.send(job.message)
            except Exception as exc:
                log.warning("connector %s raised on submit: %r", name, exc)
                result = SendResult(
                    "temporary",
                    error_code="connector_error",
                    error_message=f"{type(exc).__name__}: {exc}",
                )
            counter = slot.dispatched.get(result.outcome)
            if counter is None:
                counter = slot.dispatched[result.outcome] = self._metrics.dispatched.labels(
                    name, result.outcome
                )
            counter.inc()
            job.tried.append(name)
            job.result, job.connector = result, name
            if result.outcome == "temporary" and name != candidates[-1]:
                job.notes.append(f"{name}: {result.error_code}; trying fallback")
                slot.window.release()
                continue
            job.slot = slot
            break
        self._finish(job)

    def _finish(self, job: Job) -> None:
        """The job's outcome is known: it waits in `_done` to be committed with others."""
        job.answered_at = self._clock.now()
        if not self._done:
            self._first_done = asyncio.get_running_loop().time()
        self._done.append(job)

    # --- commit outcomes ---------------------------------------------------------
    def _take_done(self) -> list[Job]:
        done, self._done = self._done, []
        return done

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._done:
                await asyncio.sleep(self.flush_seconds)
                continue
            wait = self._first_done + self.gather_seconds - loop.time()
            if wait > 0 and len(self._done) < self.commit_batch and not self._stopping:
                await asyncio.sleep(min(wait, self.flush_seconds))
                continue
            jobs = self._take_done()
            try:
                await asyncio.to_thread(self._commit, jobs)
            except Exception:
                log.exception("recording %d dispatch outcomes failed; will retry", len(jobs))
                self._done.extend(jobs)
                await asyncio.sleep(0.5)
                continue
            for job in jobs:
                if job.slot is not None:
                    job.slot.window.release()
                self._pending.pop(job.message.id, None)
            self._progress.set()

    def _commit(self, jobs: list[Job]) -> None:
        now = self._clock.now()
        changes: list[Change] = []
        finished: list[str] = []
        retry: list[dict[str, Any]] = []
        part_rows: list[dict[str, Any]] = []
        # Only a message tried before can have parts stored already.
        retried = [job.message.id for job in jobs if job.attempts > 1]
        for job in jobs:
            result = job.result
            assert result is not None
            answered = job.answered_at or now
            part_rows.extend(
                {
                    "message_id": job.message.id,
                    "part_number": part.number,
                    "connector": job.connector,
                    "connector_message_id": part.connector_message_id,
                    "status": part.status,
                    "error_code": part.error_code,
                    "submitted_at": answered,
                    "done_at": None if part.status == "sent" else answered,
                }
                for part in result.submitted()
            )
            detail = "; ".join(job.notes) or None
            if result.outcome == "accepted":
                changes.append(
                    Change(
                        job.message.id,
                        "sent",
                        {
                            "sent_at": answered,
                            "connector": job.connector,
                            "connector_message_id": result.connector_message_id,
                        },
                        detail,
                    )
                )
                finished.append(job.message.id)
            elif (
                result.outcome == "temporary"
                and job.attempts < self._settings.max_dispatch_attempts
            ):
                delay = self._backoff(job.attempts)
                changes.append(
                    Change(
                        job.message.id,
                        "queued",
                        {
                            "connector": job.connector,
                            "error_code": result.error_code,
                            "error_message": result.error_message,
                        },
                        f"temporary failure ({result.error_code}); retry in {delay:.0f}s",
                    )
                )
                retry.append(
                    {
                        "message_id": job.message.id,
                        "run_at": now + timedelta(seconds=delay),
                        "tried_connectors": "",
                    }
                )
            else:
                changes.append(
                    Change(
                        job.message.id,
                        "failed",
                        {
                            "connector": job.connector,
                            "error_code": result.error_code,
                            "error_message": result.error_message,
                        },
                        detail,
                    )
                )
                finished.append(job.message.id)
        with self._db.write() as conn:
            part_store.replace_parts(conn, part_rows, retried)
            self._writer.apply(conn, changes, now)
            message_store.finish_work(conn, finished)
            message_store.requeue(conn, retry)

    def _backoff(self, attempt: int) -> float:
        base = self._settings.retry_base_seconds * 2.0 ** (attempt - 1)
        return min(base, 3600.0) * random.uniform(0.5, 1.0)

    # --- leases ------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        interval = self._settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            ids = list(self._pending)
            if ids:
                try:
                    await asyncio.to_thread(self._renew, ids)
                except Exception:
                    log.exception("renewing leases failed")

    def _renew(self, ids: list[str]) -> None:
        until: datetime = self._clock.now() + timedelta(seconds=self._settings.lease_seconds)
        with self._db.write() as conn:
            message_store.renew_leases(conn, ids, self._owner, until)
