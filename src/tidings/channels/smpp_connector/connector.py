"""The operator-side SMPP connector: Tidings binds to an SMSC as an ESME.

It keeps a transceiver session (or a transmitter + receiver pair) bound, reconnecting
with capped exponential backoff; submits each message as one or more submit_sm (long
texts by UDH, SAR or message_payload, as configured), paced to `tps` PDUs per second;
slows down when the SMSC says it is throttled or its queue is full; reports receipts,
acknowledged only once the pipeline has recorded them, and inbound messages, joined from
their parts in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from tidings.channels.base import (
    Connector,
    ConnectorEvents,
    Inbound,
    OutboundMessage,
    PartResult,
    Receipt,
    ReceiptStatus,
    SendResult,
)
from tidings.channels.smpp.concat import ConcatMethod, MessagePart, split_message
from tidings.channels.smpp.constants import CommandStatus, DataCoding
from tidings.channels.smpp.pdu import (
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
    SubmitSmResp,
)
from tidings.channels.smpp.reassembly import Reassembler, inbound_part
from tidings.channels.smpp.receipt import (
    ReceiptParseError,
    ReceiptStat,
    is_receipt,
    receipt_from_pdu,
)
from tidings.channels.smpp.udh import UdhError
from tidings.channels.smpp_connector.options import SmppOptions
from tidings.channels.smpp_connector.session import (
    BindRefused,
    SessionClosed,
    SessionMode,
    SmppSession,
    status_name,
)
from tidings.domain.encoding import Encoding

log = logging.getLogger("tidings.smpp")

S = CommandStatus
# The SMSC is overloaded: wait, then submit the same PDU again.
THROTTLE_STATUSES = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
# Worth another try later (this route or a fallback); every other status is final.
TEMPORARY_STATUSES = THROTTLE_STATUSES | {
    S.ESME_RSYSERR,
    S.ESME_RINVBNDSTS,
    S.ESME_RSUBMITFAIL,
    S.ESME_RX_T_APPN,
    S.ESME_RDELIVERYFAILURE,
    S.ESME_RUNKNOWNERR,
}

RECEIPT_STATUS: dict[str, ReceiptStatus] = {
    ReceiptStat.DELIVRD: "delivered",
    ReceiptStat.UNDELIV: "undelivered",
    ReceiptStat.UNKNOWN: "undelivered",
    ReceiptStat.EXPIRED: "expired",
    ReceiptStat.REJECTD: "failed",
    ReceiptStat.DELETED: "failed",
}

State = Literal["stopped", "connecting", "bound", "refused", "disconnected"]


class _Failure(Exception):
    def __init__(self, outcome: Literal["temporary", "permanent"], code: str, text: str) -> None:
        self.outcome = outcome
        self.code = code
        self.text = text
        super().__init__(text)


class SmppConnector(Connector):
    channel = "sms"

    def __init__(self, name: str, options: SmppOptions, now: Callable[[], datetime]) -> None:
        self.name = name
        self.options = options
        self._now = now
        self._events: ConnectorEvents | None = None
        modes: tuple[SessionMode, ...] = (
            ("transceiver",) if options.bind == "transceiver" else ("transmitter", "receiver")
        )
        self._modes = modes
        self._sessions: dict[SessionMode, SmppSession | None] = dict.fromkeys(modes)
        self._transmit_ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reassembler = Reassembler(timedelta(seconds=options.reassembly_timeout_seconds))
        self._reference = random.randrange(0, 256)
        self._paused_until = 0.0
        self._tokens = 1.0
        self._stamp: float | None = None
        self._submits: deque[float] = deque(maxlen=20_000)
        self.state: State = "stopped"
        self.binds = 0
        self.bind_failures = 0
        self.errors: Counter[str] = Counter()
        self.last_error: str | None = None

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self, events: ConnectorEvents) -> None:
        """Begin binding in the background: a peer that is down must not stop Tidings."""
        self._events = events
        self._stopping.clear()
        self.state = "connecting"
        self._tasks = [
            asyncio.create_task(self._supervise(mode), name=f"smpp-{self.name}-{mode}")
            for mode in self._modes
        ]
        self._tasks.append(asyncio.create_task(self._expire_loop(), name=f"smpp-{self.name}-mo"))

    async def stop(self) -> None:
        """Unbind every session (waiting for unbind_resp) and end the background tasks."""
        self._stopping.set()
        for mode, session in self._sessions.items():
            if session is not None:
                await session.unbind()
                self._sessions[mode] = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._transmit_ready.clear()
        self.state = "stopped"

    async def wait_bound(self, timeout: float) -> bool:
        """True once every session is bound (used by tests and the admin API)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.bound:
                return True
            await asyncio.sleep(0.01)
        return self.bound

    @property
    def bound(self) -> bool:
        return all(s is not None and s.bound for s in self._sessions.values())

    async def _supervise(self, mode: SessionMode) -> None:
        failures = 0
        while not self._stopping.is_set():
            session = SmppSession(self.options, mode, self._on_deliver)
            try:
                await session.open()
            except BindRefused as exc:
                self.bind_failures += 1
                self.errors[f"bind_{status_name(exc.status)}"] += 1
                self.last_error = f"{mode}: {exc}"
                self.state = "refused"
                log.warning("connector %s: %s bind refused: %s", self.name, mode, exc)
            except (OSError, TimeoutError, SessionClosed) as exc:
                self.bind_failures += 1
                self.errors["connect_failed"] += 1
                self.last_error = f"{mode}: cannot connect: {exc!r}"
                self.state = "disconnected"
                log.warning("connector %s: %s cannot connect: %r", self.name, mode, exc)
            else:
                failures = 0
                self.binds += 1
                self._sessions[mode] = session
                self.state = "bound" if self.bound else "connecting"
                if mode != "receiver":
                    self._transmit_ready.set()
                log.info("connector %s: bound as %s", self.name, mode)
                stopping = asyncio.create_task(self._stopping.wait())
                closed = asyncio.create_task(session.closed.wait())
                await asyncio.wait({stopping, closed}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                closed.cancel()
                if self._stopping.is_set():
                    return  # stop() unbinds
                if mode != "receiver":
                    self._transmit_ready.clear()
                self._sessions[mode] = None
                await session.close()
                self.errors["connection_lost"] += 1
                self.last_error = f"{mode}: connection lost"
                self.state = "disconnected"
            delay = min(
                self.options.reconnect_max_seconds,
                self.options.reconnect_min_seconds * 2.0**failures,
            ) * random.uniform(0.8, 1.0)
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    # --- submitting ----------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            parts = self._split(message)
        except ValueError as exc:
            return SendResult("permanent", error_code="encoding", error_message=str(exc))
        done: list[PartResult] = []
        for number, part in enumerate(parts, 1):
            try:
                message_id = await self._submit(message, part)
            except _Failure as failure:
                if not done:
                    return SendResult(
                        failure.outcome, error_code=failure.code, error_message=failure.text
                    )
                # Earlier parts are with the SMSC and cannot be taken back: the message
                # fails, and its parts say which went out.
                done.append(PartResult(number, None, "failed", failure.code))
                return SendResult(
                    "permanent",
                    connector_message_id=done[0].connector_message_id,
                    error_code=failure.code,
                    error_message=f"part {number} of {len(parts)}: {failure.text}",
                    parts=tuple(done),
                )
            done.append(PartResult(number, message_id, "sent"))
        return SendResult(
            "accepted", connector_message_id=done[0].connector_message_id, parts=tuple(done)
        )

    def _split(self, message: OutboundMessage) -> tuple[MessagePart, ...]:
        method = self.options.long_messages
        limit = 256 if method == ConcatMethod.UDH8 else 65536
        self._reference = (self._reference + 1) % limit
        encoding: Encoding = "ucs2" if message.encoding == "ucs2" else "gsm7"
        return split_message(message.body, method, reference=self._reference, encoding=encoding)

    def _pdu(self, message: OutboundMessage, part: MessagePart) -> SubmitSm:
        source_ton, source_npi, source = _sender_address(message.sender)
        data_coding = part.data_coding
        if data_coding == DataCoding.SMSC_DEFAULT:
            data_coding = self.options.gsm7_data_coding
        return SubmitSm(
            sequence_number=0,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=source,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=message.to.removeprefix("+"),
            esm_class=part.esm_class,
            registered_delivery=self.options.registered_delivery,
            validity_period=_absolute_time(message.expires_at),
            data_coding=data_coding,
            short_message=part.short_message,
            tlvs=part.tlvs,
        )

    async def _submit(self, message: OutboundMessage, part: MessagePart) -> str | None:
        pdu = self._pdu(message, part)
        retries = 0
        while True:
            session = await self._transmitter()
            await self._pace()
            try:
                response = await session.request(pdu)
            except (SessionClosed, TimeoutError, OSError) as exc:
                self.errors["connection_lost_in_flight"] += 1
                raise _Failure(
                    "temporary", "connection_lost", f"the SMSC connection ended: {exc}"
                ) from None
            status = response.command_status
            if status == S.ESME_ROK:
                self._submits.append(time.monotonic())
                if isinstance(response, SubmitSmResp):
                    return response.message_id or None
                return None
            name = status_name(status)
            self.errors[name] += 1
            if status in THROTTLE_STATUSES:
                self._paused_until = (
                    asyncio.get_running_loop().time() + self.options.throttle_pause_seconds
                )
                if retries < self.options.throttle_retries:
                    retries += 1
                    continue
            outcome: Literal["temporary", "permanent"] = (
                "temporary" if status in TEMPORARY_STATUSES else "permanent"
            )
            raise _Failure(outcome, name, f"submit_sm answered {name} (0x{status:08X})")

    async def _transmitter(self) -> SmppSession:
        mode: SessionMode = "transceiver" if "transceiver" in self._modes else "transmitter"
        session = self._sessions.get(mode)
        if session is not None and session.bound:
            return session
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._transmit_ready.wait(), self.options.response_timeout_seconds
            )
        session = self._sessions.get(mode)
        if session is None or not session.bound:
            raise _Failure("temporary", "not_bound", "no session bound to the SMSC")
        return session

    async def _pace(self) -> None:
        """`tps` submit_sm per second at most, and nothing while the SMSC asked us to wait."""
        loop = asyncio.get_running_loop()
        rate = self.options.tps
        while True:
            now = loop.time()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            if self._stamp is None:
                self._stamp = now
            capacity = max(1.0, rate * 0.05)
            self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / rate)

    # --- what the SMSC sends us ----------------------------------------------------------
    def _on_deliver(self, session: SmppSession, pdu: DeliverSm | DataSm) -> None:
        if isinstance(pdu, DeliverSm) and is_receipt(pdu):
            self._on_receipt(session, pdu)
            return
        status = self._on_mobile_originated(pdu)
        answer = DataSmResp if isinstance(pdu, DataSm) else DeliverSmResp
        session.respond(answer(sequence_number=pdu.sequence_number, command_status=status))

    def _on_receipt(self, session: SmppSession, pdu: DeliverSm) -> None:
        def acknowledge() -> None:
            session.respond(DeliverSmResp(sequence_number=pdu.sequence_number))

        try:
            receipt = receipt_from_pdu(pdu)
        except (ReceiptParseError, ValueError) as exc:
            self.errors["receipt_unreadable"] += 1
            log.warning("connector %s: unreadable receipt: %s", self.name, exc)
            acknowledge()
            return
        status = RECEIPT_STATUS.get(str(receipt.stat)) if receipt.stat is not None else None
        if status is None or self._events is None:
            acknowledge()  # an intermediate state (ENROUTE, ACCEPTD): nothing to record
            return
        error = None
        if status != "delivered":
            error = f"{receipt.stat}:{receipt.error}" if receipt.error else str(receipt.stat)
        self._events.receipt(
            Receipt(
                connector=self.name,
                connector_message_id=receipt.message_id,
                status=status,
                at=self._now(),
                error_code=error,
                recorded=acknowledge,
            )
        )

    def _on_mobile_originated(self, pdu: DeliverSm | DataSm) -> int:
        try:
            part = inbound_part(pdu)
        except UdhError as exc:
            self.errors["inbound_unreadable"] += 1
            log.warning("connector %s: unreadable inbound part: %s", self.name, exc)
            return int(S.ESME_RX_P_APPN)
        joined = self._reassembler.add(part, self._now())
        if joined is None:
            return int(S.ESME_ROK)
        try:
            text = joined.text
        except ValueError as exc:
            self.errors["inbound_binary"] += 1
            log.warning("connector %s: inbound message is not text: %s", self.name, exc)
            return int(S.ESME_ROK)
        if self._events is not None:
            self._events.inbound(
                Inbound(
                    connector=self.name,
                    channel=self.channel,
                    sender=_inbound_address(joined.source),
                    to=_inbound_address(joined.destination),
                    body=text,
                    at=self._now(),
                )
            )
        return int(S.ESME_ROK)

    async def _expire_loop(self) -> None:
        interval = min(1.0, self.options.reassembly_timeout_seconds / 2)
        while True:
            await asyncio.sleep(interval)
            for lost in self._reassembler.expire(self._now()):
                self.errors["inbound_parts_timed_out"] += 1
                log.warning(
                    "connector %s: gave up on an inbound message: %d of %d parts came",
                    self.name,
                    len(lost.parts),
                    lost.total,
                )

    # --- state -----------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        # Submits in the last second (monotonic time measures the interval; any thread).
        since = time.monotonic() - 1.0
        recent = sum(1 for t in list(self._submits) if t >= since)
        return {
            "name": self.name,
            "channel": self.channel,
            "type": "smpp",
            "state": self.state,
            "bound": self.bound,
            "sessions": {
                mode: bool(session is not None and session.bound)
                for mode, session in self._sessions.items()
            },
            "binds": self.binds,
            "bind_failures": self.bind_failures,
            "in_flight": sum(s.in_flight for s in self._sessions.values() if s is not None),
            "enquire_links": sum(s.enquire_links for s in self._sessions.values() if s is not None),
            "tps_now": float(recent),
            "tps_limit": self.options.tps,
            "errors": dict(self.errors),
            "last_error": self.last_error,
            "inbound_sets_pending": self._reassembler.pending,
        }


def _absolute_time(when: datetime | None) -> str:
    """SMPP absolute time (YYMMDDhhmmsstnnp) in UTC, or "" for the SMSC's default."""
    if when is None:
        return ""
    return f"{when.astimezone(UTC):%y%m%d%H%M%S}000+"


def _sender_address(sender: str) -> tuple[int, int, str]:
    """(TON, NPI, address): international for E.164, network-specific for a short code,
    alphanumeric (TON 5) for a name."""
    if sender.startswith("+") and sender[1:].isdigit():
        return 1, 1, sender[1:]
    if sender.isdigit():
        return 3, 0, sender
    return 5, 0, sender


def _inbound_address(address: str) -> str:
    if address.isdigit() and len(address) >= 8:
        return f"+{address}"
    return address
