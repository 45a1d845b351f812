"""The SMPP server running on a runtime's pipeline in a thread of its own, and a raw ESME."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from tidings.channels.smpp.errors import PduError
from tidings.channels.smpp.framing import PduReader
from tidings.channels.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    Pdu,
    Response,
    encode,
)
from tidings.runtime import Runtime
from tidings.smpp_server.credentials import CredentialService
from tidings.smpp_server.limits import ServerLimits
from tidings.smpp_server.server import SmppServer

T = TypeVar("T")
TIMEOUT = 10.0


class ServerThread:
    """Pipeline workers and the SMPP server on one event loop in a background thread."""

    def __init__(self, runtime: Runtime, limits: ServerLimits) -> None:
        self.runtime = runtime
        self.limits = limits
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: SmppServer | None = None
        self.port = 0
        self.call(self._start())

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    async def _start(self) -> None:
        await self.runtime.start_workers()
        await self.start_server()

    async def start_server(self) -> None:
        self.server = self.runtime.smpp_server(self.limits)
        self.port = await self.server.start("127.0.0.1", 0)

    async def stop_server(self) -> None:
        assert self.server is not None
        await self.server.stop()

    async def _stop(self) -> None:
        await self.stop_server()
        await self.runtime.stop_workers()

    def close(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@pytest.fixture
def limits() -> ServerLimits:
    return ServerLimits(
        bind_timeout=5.0,
        failed_bind_delay=1.0,
        failed_bind_max_delay=2.0,
        revalidate_seconds=0.2,
        outbox_poll=0.05,
        response_timeout=5.0,
    )


@pytest.fixture
def smpp(runtime: Runtime, limits: ServerLimits) -> Iterator[ServerThread]:
    thread = ServerThread(runtime, limits)
    yield thread
    thread.close()


@dataclass
class Login:
    account_id: str
    credential_id: str
    system_id: str
    password: str


def make_login(runtime: Runtime, account_id: str | None = None, **limits: int) -> Login:
    account_id = account_id or runtime.accounts.create_account("Acme")["account_id"]
    created = CredentialService(runtime.db, runtime.clock).create(account_id, **limits)
    return Login(account_id, created["id"], created["system_id"], created["password"])


@pytest.fixture
def login(runtime: Runtime) -> Login:
    return make_login(runtime)


class Esme:
    """A raw ESME over a socket: our codec out, PduReader in, nothing answered for it."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = PduReader()
        self.queue: deque[Pdu | PduError] = deque()
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def send(self, pdu: Pdu) -> None:
        self.sock.sendall(encode(pdu))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Pdu:
        item = self.receive_any()
        assert item is not None, "the server closed the connection"
        assert not isinstance(item, PduError), item
        return item

    def receive_any(self) -> Pdu | PduError | None:
        """The next PDU, or None when the server closed the connection."""
        while not self.queue:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.queue.extend(self.reader.feed(data))
        return self.queue.popleft()

    def request(self, pdu: Pdu) -> Response:
        """Send and wait for the answer with the same sequence number (deliver_sm queued)."""
        self.send(pdu)
        held: list[Pdu] = []
        while True:
            item = self.receive()
            if isinstance(item, Response) and item.sequence_number == pdu.sequence_number:
                self.queue.extendleft(reversed(held))
                return item
            held.append(item)

    def bind(
        self, login: Login, kind: type[Any] = BindTransceiver, password: str | None = None
    ) -> Response:
        assert kind in (BindTransceiver, BindTransmitter, BindReceiver)
        return self.request(
            kind(
                sequence_number=self.next_sequence(),
                system_id=login.system_id,
                password=login.password if password is None else password,
            )
        )

    def deliver_sm(self, answer: bool = True) -> DeliverSm:
        item = self.receive()
        assert isinstance(item, DeliverSm), item
        if answer:
            self.send(DeliverSmResp(sequence_number=item.sequence_number))
        return item

    def closed(self) -> bool:
        """True once the server has closed the connection (reads what is left)."""
        try:
            while True:
                if self.receive_any() is None:
                    return True
        except (ConnectionError, OSError):
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def esmes(smpp: ServerThread) -> Iterator[list[Esme]]:
    opened: list[Esme] = []
    yield opened
    for esme in opened:
        esme.close()


@pytest.fixture
def connect(smpp: ServerThread, esmes: list[Esme]) -> Any:
    def open_one(timeout: float = TIMEOUT) -> Esme:
        esme = Esme(smpp.port, timeout)
        esmes.append(esme)
        return esme

    return open_one
