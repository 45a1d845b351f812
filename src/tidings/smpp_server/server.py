"""The SMPP server: listens, keeps the register of bound sessions per account, enforces
per-credential limits, and runs one outbox pump per account with a receiver bound."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from tidings.channels.smpp.constants import CommandStatus, MessageState
from tidings.channels.smpp.pdu import CancelSm, CancelSmResp, QuerySm, QuerySmResp, Response
from tidings.core.clock import Clock
from tidings.core.crypto import Crypto
from tidings.core.errors import TidingsError
from tidings.pipeline.queries import MessageQueries
from tidings.smpp_server.credentials import AccountCaps, Credential, CredentialService
from tidings.smpp_server.guard import FailedBinds
from tidings.smpp_server.limits import ServerLimits
from tidings.smpp_server.outbox import Delivery, OutboxWriter, build_deliveries
from tidings.smpp_server.session import Session
from tidings.smpp_server.submit import SubmitHandler
from tidings.smpp_server.times import format_smpp_time
from tidings.store import smpp as smpp_store
from tidings.store.database import Database

log = logging.getLogger("tidings.smpp")
S = CommandStatus
LEASE = timedelta(minutes=2)
RETRY_SECONDS = 1.0
MAX_ATTEMPTS = 20  # deliver_sm refused this often: the entry is dropped

QUERY_STATES: dict[str, MessageState] = {
    "scheduled": MessageState.ENROUTE,
    "queued": MessageState.ENROUTE,
    "sending": MessageState.ENROUTE,
    "sent": MessageState.ENROUTE,
    "delivered": MessageState.DELIVERED,
    "undelivered": MessageState.UNDELIVERABLE,
    "failed": MessageState.REJECTED,
    "expired": MessageState.EXPIRED,
    "canceled": MessageState.DELETED,
}


class _Rate:
    """Messages a second over all binds of one credential (loop time, not the Clock:
    this paces a socket, it decides nothing about messages)."""

    def __init__(self, rate: int) -> None:
        self.rate = float(rate)
        self._tokens = self.rate
        self._stamp: float | None = None

    def ready(self) -> bool:
        """Whether a message may go now (without taking it)."""
        now = asyncio.get_running_loop().time()
        if self._stamp is not None:
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return self._tokens >= 1.0

    def take(self) -> bool:
        if self.ready():
            self._tokens -= 1.0
            return True
        return False


class SmppServer:
    def __init__(
        self,
        *,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        credentials: CredentialService,
        submits: SubmitHandler,
        queries: MessageQueries,
        outbox: OutboxWriter,
        limits: ServerLimits | None = None,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self.credentials = credentials
        self.submits = submits
        self._queries = queries
        self.limits = limits or ServerLimits()
        self.failed_binds = FailedBinds(clock, self.limits)
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, list[Session]] = {}  # account id -> bound sessions
        self._rates: dict[str, _Rate] = {}  # credential id -> its rate
        self._account_rates: dict[str, _Rate] = {}  # account id -> the rate of all its binds
        self._account_caps: dict[str, AccountCaps | None] = {}  # account id -> newest caps
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._wakers: dict[str, asyncio.Event] = {}
        self._references: dict[str, int] = {}
        self._revalidator: asyncio.Task[None] | None = None
        outbox.listen(self._wake_threadsafe)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful with port 0)."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, host, port)
        self._revalidator = asyncio.create_task(self._revalidate(), name="smpp-revalidate")
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._revalidator is not None:
            self._revalidator.cancel()
        for sessions in list(self._sessions.values()):
            for session in list(sessions):
                await session.close()
        for task in list(self._pumps.values()):
            task.cancel()
        for task in list(self._connections):
            task.cancel()
        pending = [*self._pumps.values(), *self._connections]
        if self._revalidator is not None:
            pending.append(self._revalidator)
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await Session(self, reader, writer).run()
        finally:
            self._connections.discard(task)

    # -- binding ---------------------------------------------------------------------

    async def authenticate(
        self, session: Session, system_id: str, password: str
    ) -> tuple[Credential | None, int]:
        delay = self.failed_binds.delay(session.address)
        if delay:
            await asyncio.sleep(delay)  # a slow answer is the point: online guessing costs time
        credential = await asyncio.to_thread(self.credentials.authenticate, system_id, password)
        if credential is None:
            self.failed_binds.failed(session.address)
            log.warning(
                "SMPP bind refused: wrong system_id or password (system_id %r from %s)",
                system_id[:16],
                session.address,
            )
            return None, S.ESME_RINVPASWD
        in_use = sum(
            1
            for bound in self._sessions.get(credential.account_id, ())
            if bound.credential is not None and bound.credential.id == credential.id
        )
        if in_use >= credential.max_binds:
            log.warning("SMPP bind refused: %s already has %d binds", credential.system_id, in_use)
            return None, S.ESME_RBINDFAIL
        caps = credential.account_caps
        account_binds = sum(
            1
            for bound in self._sessions.get(credential.account_id, ())
            if bound.credential is not None
        )
        if caps is not None and account_binds >= caps.max_binds:
            log.warning(
                "SMPP bind refused: account %s already has %d binds (its cap)",
                credential.account_id,
                account_binds,
            )
            return None, S.ESME_RBINDFAIL
        return credential, S.ESME_ROK

    def bound(self, session: Session) -> None:
        assert session.credential is not None
        account = session.credential.account_id
        self._sessions.setdefault(account, []).append(session)
        self._account_caps[account] = session.credential.account_caps
        if session.receives:
            self._start_pump(account)

    def unbound(self, session: Session) -> None:
        if session.credential is None:
            return
        sessions = self._sessions.get(session.credential.account_id, [])
        if session in sessions:
            sessions.remove(session)
        if not sessions:
            self._sessions.pop(session.credential.account_id, None)
            self._account_caps.pop(session.credential.account_id, None)
            self._account_rates.pop(session.credential.account_id, None)

    def throttle(self, credential: Credential) -> bool:
        """Whether a submit may go now: within its credential's rate and its account's."""
        rate = self._rates.get(credential.id)
        if rate is None or rate.rate != credential.max_tps:
            rate = self._rates[credential.id] = _Rate(credential.max_tps)
        caps = self._account_caps.get(credential.account_id)
        if caps is None:
            return rate.take()
        shared = self._account_rates.get(credential.account_id)
        if shared is None or shared.rate != caps.max_tps:
            shared = self._account_rates[credential.account_id] = _Rate(caps.max_tps)
        return rate.ready() and shared.take() and rate.take()

    def sessions(self, account_id: str) -> list[Session]:
        return list(self._sessions.get(account_id, ()))

    def receiver(self, account_id: str) -> Session | None:
        """The session that gets the account's deliver_sm: the first bound receiver, so
        that they arrive in order."""
        for session in self._sessions.get(account_id, ()):
            if session.receives and not session.closing:
                return session
        return None

    async def _revalidate(self) -> None:
        while True:
            await asyncio.sleep(self.limits.revalidate_seconds)
            self.submits.expire()
            for account_id in list(self._sessions):
                try:
                    caps = await asyncio.to_thread(self.credentials.current_caps, account_id)
                except Exception:
                    log.exception("reading the SMPP caps of %s failed", account_id)
                    continue
                if account_id in self._sessions:
                    self._account_caps[account_id] = caps
            bound = {
                s.credential.id: s.credential
                for sessions in self._sessions.values()
                for s in sessions
                if s.credential is not None
            }
            for credential in bound.values():
                try:
                    active = await asyncio.to_thread(
                        self.credentials.is_active, credential.id, credential.system_id
                    )
                except Exception:
                    log.exception("checking SMPP credential %s failed", credential.id)
                    continue
                if not active:
                    for session in self.sessions(credential.account_id):
                        if (
                            session.credential is not None
                            and session.credential.id == credential.id
                        ):
                            log.warning("SMPP %s revoked: session closed", credential.system_id)
                            await session.close()

    # -- query_sm, cancel_sm -----------------------------------------------------------

    async def query_or_cancel(self, credential: Credential, pdu: QuerySm | CancelSm) -> Response:
        account = credential.account_id
        if isinstance(pdu, CancelSm):
            try:
                await asyncio.to_thread(self._queries.cancel, account, pdu.message_id)
            except TidingsError as error:
                log.info("SMPP cancel_sm of %s refused: %s", pdu.message_id[:65], error.detail)
                return CancelSmResp(
                    sequence_number=pdu.sequence_number, command_status=S.ESME_RCANCELFAIL
                )
            return CancelSmResp(sequence_number=pdu.sequence_number)
        try:
            message = await asyncio.to_thread(self._queries.get, account, pdu.message_id)
        except TidingsError:
            return QuerySmResp(
                sequence_number=pdu.sequence_number, command_status=S.ESME_RQUERYFAIL
            )
        state = QUERY_STATES.get(message["status"], MessageState.UNKNOWN)
        final_date = ""
        if state != MessageState.ENROUTE and message["status_history"]:
            final_date = format_smpp_time(_parse_iso(message["status_history"][-1]["at"]))
        return QuerySmResp(
            sequence_number=pdu.sequence_number,
            message_id=message["id"],
            final_date=final_date,
            message_state=int(state),
            error_code=0 if state in (MessageState.ENROUTE, MessageState.DELIVERED) else 1,
        )

    # -- the outbox pump ---------------------------------------------------------------

    def _wake_threadsafe(self, accounts: set[str]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake, accounts)

    def _wake(self, accounts: set[str]) -> None:
        for account in accounts:
            event = self._wakers.get(account)
            if event is not None:
                event.set()

    def _start_pump(self, account_id: str) -> None:
        task = self._pumps.get(account_id)
        if task is not None and not task.done():
            self._wakers[account_id].set()
            return
        self._wakers[account_id] = asyncio.Event()
        self._pumps[account_id] = asyncio.create_task(
            self._pump(account_id), name=f"smpp-outbox-{account_id}"
        )

    async def _pump(self, account_id: str) -> None:
        """Deliver the account's outbox in order while it has a receiver bound."""
        wake = self._wakers[account_id]
        try:
            while True:
                session = self.receiver(account_id)
                if session is None:
                    return
                wake.clear()
                try:
                    deliveries = await asyncio.to_thread(self._claim, account_id)
                except Exception:
                    log.exception("reading the SMPP outbox of %s failed", account_id)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if not deliveries:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.limits.outbox_poll)
                    continue
                if not await self._deliver(session, deliveries):
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            if self._pumps.get(account_id) is asyncio.current_task():
                del self._pumps[account_id]
                self._wakers.pop(account_id, None)
            if self.receiver(account_id) is not None:  # bound again as we were leaving
                self._start_pump(account_id)

    def _claim(self, account_id: str) -> list[Delivery]:
        now = self._clock.now()
        with self._db.write() as conn:
            rows = smpp_store.claim_outbox(
                conn,
                account_id,
                now=now,
                lease_until=now + LEASE,
                limit=self.limits.outbox_batch,
                skip_locked=not self._db.is_sqlite,
            )
            return build_deliveries(conn, self._crypto, rows, lambda: self._reference(account_id))

    def _reference(self, account_id: str) -> int:
        value = (self._references.get(account_id, 0) + 1) % 256
        self._references[account_id] = value
        return value

    async def _deliver(self, session: Session, deliveries: list[Delivery]) -> bool:
        """Send every PDU in order, then await the answers; True when all were accepted."""
        sent: list[tuple[Delivery, list[asyncio.Task[Response]]]] = []
        for delivery in deliveries:
            tasks = [asyncio.ensure_future(session.deliver(fields)) for fields in delivery.pdus]
            sent.append((delivery, tasks))
        done: list[int] = []
        failed: list[int] = []
        for delivery, tasks in sent:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            accepted = all(
                isinstance(r, Response) and r.command_status == S.ESME_ROK for r in results
            )
            if accepted:
                done.append(delivery.outbox_id)
            elif delivery.attempts >= MAX_ATTEMPTS:
                log.warning(
                    "SMPP outbox entry %s dropped after %d refused deliveries",
                    delivery.outbox_id,
                    delivery.attempts,
                )
                done.append(delivery.outbox_id)
            else:
                failed.append(delivery.outbox_id)
            if not accepted:
                problem: Any = next(
                    (r for r in results if not isinstance(r, Response) or r.command_status), None
                )
                log.info(
                    "SMPP deliver_sm for outbox entry %s not accepted: %r",
                    delivery.outbox_id,
                    problem,
                )
        await asyncio.to_thread(self._settle, done, failed)
        return not failed

    def _settle(self, done: list[int], failed: list[int]) -> None:
        with self._db.write() as conn:
            smpp_store.delete_outbox(conn, done)
            smpp_store.release_outbox(conn, failed)


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
