"""One SMPP session over TCP (or TLS): bind, requests with their responses, enquire_link, unbind.

The session owns the socket. It matches responses to requests by sequence number, keeps
at most `window` requests unanswered, answers the peer's enquire_link and unbind itself,
and hands every deliver_sm (and data_sm) to `on_deliver`, whose caller answers it with
`respond()` when it is ready — for a receipt, only once it is durably recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Literal

from tidings.channels.smpp.constants import CommandStatus
from tidings.channels.smpp.errors import PduError
from tidings.channels.smpp.framing import PduReader
from tidings.channels.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Request,
    Response,
    Unbind,
    UnbindResp,
    encode,
    error_response,
)
from tidings.channels.smpp_connector.options import SmppOptions
from tidings.pipeline.throttle import Window

log = logging.getLogger("tidings.smpp")

SessionMode = Literal["transceiver", "transmitter", "receiver"]
MAX_SEQUENCE = 0x7FFFFFFF


class SessionClosed(ConnectionError):
    """The session ended (closed by either side) before the request was answered."""


class BindRefused(ConnectionError):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"bind refused with {status_name(status)}")


def status_name(status: int) -> str:
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


DeliverHandler = Callable[["SmppSession", DeliverSm | DataSm], None]


class SmppSession:
    def __init__(self, options: SmppOptions, mode: SessionMode, on_deliver: DeliverHandler) -> None:
        self.options = options
        self.mode = mode
        self._on_deliver = on_deliver
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._outgoing: list[bytes] = []  # written, not yet handed to the transport
        # sequence -> (the answer to come, when to give up on it); in the order sent, so
        # in the order of the deadlines.
        self._pending: dict[int, tuple[asyncio.Future[Response], float]] = {}
        self._window = Window(options.window)
        self._sequence = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._last_heard = 0.0
        self.closed = asyncio.Event()
        self.bound = False
        self.peer_system_id = ""
        self.enquire_links = 0  # answered enquire_link of ours

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # --- open ----------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and bind; raises BindRefused, OSError or TimeoutError."""
        context: ssl.SSLContext | None = None
        if self.options.tls:
            context = ssl.create_default_context(cafile=self.options.tls_ca_file or None)
            if not self.options.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        timeout = self.options.response_timeout_seconds
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.options.host, self.options.port, ssl=context), timeout
        )
        self._last_heard = asyncio.get_running_loop().time()
        self._tasks.append(asyncio.create_task(self._read_loop(), name="smpp-read"))
        self._tasks.append(asyncio.create_task(self._watchdog_loop(), name="smpp-timeouts"))
        bind_class = {
            "transceiver": BindTransceiver,
            "transmitter": BindTransmitter,
            "receiver": BindReceiver,
        }[self.mode]
        try:
            response = await self.request(
                bind_class(
                    sequence_number=0,
                    system_id=self.options.system_id,
                    password=self.options.password,
                    system_type=self.options.system_type,
                    addr_ton=self.options.addr_ton,
                    addr_npi=self.options.addr_npi,
                    address_range=self.options.address_range,
                ),
                bound_required=False,
            )
        except BaseException:
            await self.close()
            raise
        if response.command_status != CommandStatus.ESME_ROK:
            await self.close()
            raise BindRefused(response.command_status)
        self.peer_system_id = getattr(response, "system_id", "")
        self.bound = True
        self._tasks.append(asyncio.create_task(self._keepalive_loop(), name="smpp-enquire"))

    # --- requests --------------------------------------------------------------------
    def _next_sequence(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    async def request(self, pdu: Request, *, bound_required: bool = True) -> Response:
        """Send a request and return its response (GenericNack included).

        Raises SessionClosed when the session ends first and TimeoutError when the
        peer does not answer in `response_timeout_seconds` (the session is then closed:
        a peer that loses responses cannot be trusted with the window).
        """
        if self.closed.is_set() or (bound_required and not self.bound):
            raise SessionClosed("the session is not bound")
        await self._window.acquire()
        sequence = self._next_sequence()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        self._pending[sequence] = (future, loop.time() + self.options.response_timeout_seconds)
        try:
            self._write(encode(pdu, sequence))
            return await future  # the watchdog fails it with TimeoutError
        except TimeoutError:
            log.warning("%s: no response to %s; closing", self.mode, type(pdu).__name__)
            await self.close()
            raise
        finally:
            self._pending.pop(sequence, None)
            self._window.release()

    def respond(self, pdu: Response) -> None:
        """Answer a request of the peer; dropped when the session has ended (the peer
        then still owes itself the answer and sends the request again)."""
        if not self.closed.is_set():
            self._write(encode(pdu))

    def _write(self, data: bytes) -> None:
        """Queue a PDU for the socket. PDUs written in one turn of the event loop (the
        submits of a claimed batch, the answers to a batch of recorded receipts) go out
        in one send: a system call per PDU cost more CPU than the rest of its submit."""
        if self._writer is None or self._writer.is_closing():
            raise SessionClosed("the connection is closed")
        self._outgoing.append(data)
        if len(self._outgoing) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        data, self._outgoing = self._outgoing, []
        if data and self._writer is not None and not self._writer.is_closing():
            self._writer.write(b"".join(data))

    # --- reading ---------------------------------------------------------------------
    async def _read_loop(self) -> None:
        assert self._reader is not None
        framer = PduReader()
        loop = asyncio.get_running_loop()
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                self._last_heard = loop.time()
                for item in framer.feed(chunk):
                    if isinstance(item, PduError):
                        if self._handle_error(item):
                            return
                        continue
                    if self._handle(item):
                        return
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.info("%s: connection lost: %r", self.mode, exc)
        finally:
            self._mark_closed()

    def _handle_error(self, error: PduError) -> bool:
        answer = error_response(error)
        if answer is not None:
            with contextlib.suppress(SessionClosed):
                self._write(encode(answer))
        if error.fatal:
            log.warning("%s: the peer's stream cannot be framed: %s", self.mode, error)
            return True
        return False

    def _handle(self, pdu: Pdu) -> bool:
        """Returns True when the session must end."""
        if isinstance(pdu, Response):
            waiting = self._pending.get(pdu.sequence_number)
            if waiting is not None and not waiting[0].done():
                waiting[0].set_result(pdu)
            elif isinstance(pdu, GenericNack):
                log.warning("%s: generic_nack %s", self.mode, status_name(pdu.command_status))
            return False
        if isinstance(pdu, EnquireLink):
            self.respond(EnquireLinkResp(sequence_number=pdu.sequence_number))
            return False
        if isinstance(pdu, Unbind):
            self.respond(UnbindResp(sequence_number=pdu.sequence_number))
            self.bound = False
            return True
        if isinstance(pdu, DeliverSm | DataSm):
            self._on_deliver(self, pdu)
            return False
        assert isinstance(pdu, Request)
        self.respond(
            GenericNack(
                sequence_number=pdu.sequence_number, command_status=CommandStatus.ESME_RINVCMDID
            )
        )
        return False

    async def _watchdog_loop(self) -> None:
        """Fail requests unanswered after `response_timeout_seconds` with TimeoutError
        (one timer for the session instead of one per request)."""
        timeout = self.options.response_timeout_seconds
        loop = asyncio.get_running_loop()
        while not self.closed.is_set():
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for future, deadline in self._pending.values():
                if deadline > now:
                    break
                if not future.done():
                    future.set_exception(TimeoutError())

    # --- keep-alive --------------------------------------------------------------------
    async def _keepalive_loop(self) -> None:
        interval = self.options.enquire_link_seconds
        loop = asyncio.get_running_loop()
        while not self.closed.is_set():
            await asyncio.sleep(interval)
            if loop.time() - self._last_heard < interval:
                continue
            try:
                await self.request(EnquireLink(sequence_number=0))
            except (SessionClosed, TimeoutError):
                return
            self.enquire_links += 1

    # --- closing -----------------------------------------------------------------------
    async def unbind(self) -> None:
        """Unbind politely (waiting for unbind_resp up to the response timeout), then close."""
        if self.bound and not self.closed.is_set():
            self.bound = False
            with contextlib.suppress(SessionClosed, TimeoutError, OSError):
                await self.request(Unbind(sequence_number=0), bound_required=False)
        await self.close()

    async def close(self) -> None:
        self._mark_closed()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks = []
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

    def _mark_closed(self) -> None:
        if self.closed.is_set():
            return
        self.bound = False
        self.closed.set()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(SessionClosed("the session ended before the response"))
        if self._writer is not None and not self._writer.is_closing():
            self._flush()  # what was written before the end still goes out
            self._writer.close()
