"""One TCP connection from an ESME: framing, binding, requests and deliver_sm to it.

Reading never waits on the work a request causes: submits run as tasks, at most
`window` at a time per session, after which reading pauses (TCP pushes back). Anything
undecodable is answered as SMPP 3.4 §4.3 says; a stream that cannot be framed, too many
bad PDUs or an enquire_link flood closes the connection. Nothing a peer sends can raise
out of here into the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from tidings.channels.smpp.constants import INTERFACE_VERSION_34, CommandStatus, TlvTag
from tidings.channels.smpp.errors import PduError
from tidings.channels.smpp.framing import PduReader
from tidings.channels.smpp.pdu import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    DataSm,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    Request,
    Response,
    SubmitSm,
    Unbind,
    UnbindResp,
    encode,
    error_response,
    response_class,
)
from tidings.channels.smpp.tlv import Tlv
from tidings.smpp_server.credentials import Credential

if TYPE_CHECKING:
    from tidings.smpp_server.server import SmppServer

log = logging.getLogger("tidings.smpp")
S = CommandStatus
SERVER_SYSTEM_ID = "Tidings"
_READ_SIZE = 65536
_MAX_SEQUENCE = 0x7FFFFFFF
_BindAnswer = type[BindTransmitterResp] | type[BindReceiverResp] | type[BindTransceiverResp]
_BIND_ANSWERS: dict[type[Request], _BindAnswer] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


class _Budget:
    """A token bucket on the loop's monotonic time: `rate` a second, `rate` at once."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._tokens = rate
        self._stamp = asyncio.get_running_loop().time()

    def take(self) -> bool:
        now = asyncio.get_running_loop().time()
        self._tokens = min(self._rate, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Session:
    def __init__(
        self, server: SmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._server = server
        self._limits = server.limits
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.address: str = peer[0] if isinstance(peer, tuple) else str(peer)
        self.credential: Credential | None = None
        self.receives = False
        self.transmits = False
        self._frames = PduReader(self._limits.max_command_length)
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._window = asyncio.Semaphore(self._limits.window)
        self._tasks: set[asyncio.Task[None]] = set()
        self._enquire_links = _Budget(self._limits.enquire_links_per_second)
        self._throttled_enquire_links = 0
        self._bad_pdus = 0
        self.closing = False

    # -- the read loop ---------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._read_loop()
        except (TimeoutError, ConnectionError, OSError):
            pass
        except Exception:
            log.exception("SMPP session from %s failed", self.address)
        finally:
            await self._teardown()

    async def _read_loop(self) -> None:
        while not self.closing:
            limit = (
                self._limits.bind_timeout if self.credential is None else self._limits.idle_timeout
            )
            data = await asyncio.wait_for(self._reader.read(_READ_SIZE), limit)
            if not data:
                return
            for item in self._frames.feed(data):
                if isinstance(item, PduError):
                    self._on_bad_pdu(item)
                else:
                    await self._dispatch(item)
                if self.closing:
                    return
            await asyncio.wait_for(self._writer.drain(), self._limits.idle_timeout)

    def _on_bad_pdu(self, error: PduError) -> None:
        answer = error_response(error)
        if answer is not None:
            self.send(answer)
        self._bad_pdus += 1
        if error.fatal or self._bad_pdus > self._limits.max_bad_pdus:
            log.warning("SMPP session from %s closed: %s", self.address, error.message[:200])
            self.closing = True

    async def _dispatch(self, pdu: Pdu) -> None:
        if isinstance(pdu, Response):
            future = self._pending.pop(pdu.sequence_number, None)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        if isinstance(pdu, EnquireLink):
            self._enquire_link(pdu)
        elif isinstance(pdu, BindTransmitter | BindReceiver | BindTransceiver):
            await self._bind(pdu)
        elif isinstance(pdu, Unbind):
            self.send(UnbindResp(sequence_number=pdu.sequence_number))
            self.closing = True
        elif self.credential is None:
            self._refuse(pdu, S.ESME_RINVBNDSTS)
        elif isinstance(pdu, SubmitSm | DataSm):
            if not self.transmits:
                self._refuse(pdu, S.ESME_RINVBNDSTS)
            elif not self._server.throttle(self.credential):
                self._refuse(pdu, S.ESME_RTHROTTLED)
            else:
                await self._spawn(self._submit(pdu))
        elif isinstance(pdu, QuerySm | CancelSm):
            await self._spawn(self._query_or_cancel(pdu))
        else:
            self.send(
                GenericNack(sequence_number=pdu.sequence_number, command_status=S.ESME_RINVCMDID)
            )

    def _enquire_link(self, pdu: EnquireLink) -> None:
        if self._enquire_links.take():
            self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
            return
        self._throttled_enquire_links += 1
        self.send(
            GenericNack(sequence_number=pdu.sequence_number, command_status=S.ESME_RTHROTTLED)
        )
        if self._throttled_enquire_links > self._limits.max_throttled_enquire_links:
            log.warning("SMPP session from %s closed: enquire_link flood", self.address)
            self.closing = True

    def _refuse(self, pdu: Pdu, status: int) -> None:
        try:
            answer = response_class(type(pdu))  # type: ignore[arg-type]
        except ValueError:
            self.send(GenericNack(sequence_number=pdu.sequence_number, command_status=status))
            return
        self.send(answer(sequence_number=pdu.sequence_number, command_status=status))

    # -- binding ---------------------------------------------------------------------

    async def _bind(self, pdu: BindTransmitter | BindReceiver | BindTransceiver) -> None:
        answer = _BIND_ANSWERS[type(pdu)]
        if self.credential is not None:
            self.send(answer(sequence_number=pdu.sequence_number, command_status=S.ESME_RALYBND))
            return
        credential, status = await self._server.authenticate(self, pdu.system_id, pdu.password)
        if credential is None:
            self.send(answer(sequence_number=pdu.sequence_number, command_status=status))
            self.closing = True
            return
        self.credential = credential
        self.receives = not isinstance(pdu, BindTransmitter)
        self.transmits = not isinstance(pdu, BindReceiver)
        self.send(
            answer(
                sequence_number=pdu.sequence_number,
                system_id=SERVER_SYSTEM_ID,
                tlvs=(Tlv(TlvTag.SC_INTERFACE_VERSION, bytes((INTERFACE_VERSION_34,))),),
            )
        )
        log.info(
            "SMPP %s bound from %s as %s",
            credential.system_id,
            self.address,
            pdu.command_name.removeprefix("bind_"),
        )
        self._server.bound(self)

    # -- requests that do work -------------------------------------------------------

    async def _spawn(self, work: Any) -> None:
        await self._window.acquire()
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._window.release()

    async def _submit(self, pdu: SubmitSm | DataSm) -> None:
        assert self.credential is not None
        try:
            answer = await self._server.submits.handle(self.credential, pdu)
        except Exception:
            log.exception("SMPP %s from %s failed", pdu.command_name, self.address)
            self._refuse(pdu, S.ESME_RSYSERR)
            return
        self.send(answer)

    async def _query_or_cancel(self, pdu: QuerySm | CancelSm) -> None:
        assert self.credential is not None
        try:
            answer = await self._server.query_or_cancel(self.credential, pdu)
        except Exception:
            log.exception("SMPP %s from %s failed", pdu.command_name, self.address)
            self._refuse(pdu, S.ESME_RSYSERR)
            return
        self.send(answer)

    # -- writing ---------------------------------------------------------------------

    def send(self, pdu: Pdu) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(encode(pdu))

    async def deliver(self, fields: dict[str, Any]) -> Response:
        """Send one deliver_sm and wait for the ESME's answer (ConnectionError if it goes)."""
        if self.closing or self._writer.is_closing():
            raise ConnectionError("the session is closing")
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        sequence = self._sequence
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        self.send(DeliverSm(sequence_number=sequence, **fields))
        try:
            return await asyncio.wait_for(future, self._limits.response_timeout)
        finally:
            self._pending.pop(sequence, None)

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            self._writer.close()

    async def _teardown(self) -> None:
        self.closing = True
        self._server.unbound(self)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the ESME went away"))
        self._pending.clear()
        if self._tasks:  # submits under way are committed; their answers can still go out
            await asyncio.wait(set(self._tasks), timeout=self._limits.response_timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.drain(), 1.0)
        with contextlib.suppress(Exception):
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
