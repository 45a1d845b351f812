"""The webhook sender against receivers an account controls, which may be hostile.

Where webhooks may go: public addresses, and the networks the operator allows. An account
that could name 127.0.0.1, 10.0.0.5 or 169.254.169.254 as its webhook URL could make Tidings
call services only Tidings can reach. URLs are refused when they are set (an address or
loopback name in the URL) and connections when they are made (every address a name resolves
to). The socket goes to the address that was checked.

What comes back: only the answer's status is read, within one deadline for the whole
exchange, so an endless body or a dripping answer cannot hold or flood the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api.receiver import Receiver
from tests.conftest import make_settings
from tidings.core.clock import ManualClock
from tidings.core.config import Settings
from tidings.core.errors import InvalidInput
from tidings.core.networks import parse_networks, refusal
from tidings.pipeline.transitions import webhook_row
from tidings.pipeline.webhook_destinations import Resolver, WebhookDestinations
from tidings.pipeline.webhooks import WebhookSender
from tidings.runtime import Runtime
from tidings.store import webhooks as webhook_store
from tidings.store.tables import webhook_deliveries

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata services
    "100.64.0.1": "reserved",  # carrier-grade NAT
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "::1": "loopback",
    "fe80::1%eth0": "link-local",
    "fd00::1": "private",
    "::ffff:127.0.0.1": "loopback",  # IPv4 in IPv6 clothes
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
}


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_addresses_that_are_not_public_are_refused_with_their_kind(address: str) -> None:
    kind = refusal(address)
    assert kind is not None and REFUSED[address] in kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(address) is None


def test_an_allowed_network_opens_its_addresses_and_no_others() -> None:
    allowed = parse_networks(["10.0.0.0/8", "fd00::/8"])
    assert refusal("10.1.2.3", allowed) is None
    assert refusal("::ffff:10.1.2.3", allowed) is None
    assert refusal("fd00::1", allowed) is None
    assert refusal("127.0.0.1", allowed) is not None
    assert refusal("192.168.1.1", allowed) is not None


def test_a_network_that_is_not_one_is_named() -> None:
    with pytest.raises(ValueError, match="'ten'"):
        parse_networks(["10.0.0.0/8", "ten"])


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "https:///path",
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https://hooks example.com/x",
        "http://exa\nmple.com/hook",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com/" + "x" * 2000,
    ],
)
def test_a_url_that_is_no_http_url_with_a_host_is_refused_naming_the_field(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        WebhookDestinations().check_url(url, "url", code="invalid_url")
    assert caught.value.code == "invalid_url"
    assert caught.value.extra == {"field": "url"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://LOCALHOST:9000/hook",
        "http://api.localhost/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hook",
    ],
)
def test_a_url_naming_a_private_address_or_the_loopback_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        WebhookDestinations().check_url(url, "status_callback", code="invalid_status_callback")
    assert caught.value.code == "destination_not_allowed"
    assert caught.value.extra == {"field": "status_callback"}
    assert "webhook_allowed_networks" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/tidings",
        "http://user:secret@hooks.example.com:8443/x?account=1",
        "https://93.184.216.34/hook",
    ],
)
def test_public_urls_pass(url: str) -> None:
    WebhookDestinations().check_url(url, "url", code="invalid_url")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost:8080/hook"])
def test_a_url_in_an_allowed_network_passes(url: str) -> None:
    WebhookDestinations(parse_networks(["127.0.0.0/8"])).check_url(url, "url", code="invalid_url")


# --- at delivery: the addresses a name resolves to ----------------------------------------

NAME = "hooks.example.test"  # resolved by the test's resolver only


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", webhook_allowed_networks=())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _resolver(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        assert host == NAME
        return list(addresses)

    return resolve


def _deliver(
    runtime: Runtime,
    clock: ManualClock,
    url: str,
    destinations: WebhookDestinations,
    timeout_seconds: float = 5,
) -> str:
    """One delivery to `url`, sent by one round of a sender that connects through
    `destinations`; returns its id."""
    account = runtime.accounts.create_account("Acme")["account_id"]
    row = webhook_row(
        runtime.crypto,
        account,
        None,
        "message.status",
        url,
        {"event": "message.status", "status": "delivered"},
        clock.now(),
    )
    with runtime.db.write() as conn:
        webhook_store.insert_deliveries(conn, [row])
    sender = WebhookSender(
        runtime.db,
        runtime.crypto,
        clock,
        runtime.metrics,
        timeout_seconds=timeout_seconds,
        max_age_seconds=24 * 3600,
        destinations=destinations,
    )

    async def one_round() -> None:
        try:
            assert await sender.run_once() == 1
        finally:
            await sender.close()

    asyncio.run(one_round())
    delivery_id: str = row["id"]
    return delivery_id


def _named(receiver: Receiver) -> str:
    """The receiver's URL with NAME for its host."""
    return receiver.url.replace("127.0.0.1", NAME)


def _state(runtime: Runtime, delivery_id: str) -> tuple[str, int, str | None]:
    with runtime.db.read() as conn:
        row = conn.execute(
            webhook_deliveries.select().where(webhook_deliveries.c.id == delivery_id)
        ).one()
    return row.state, row.attempts, row.last_error


def test_a_name_that_resolves_to_the_loopback_is_refused_and_dead_lettered_at_once(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    destinations = WebhookDestinations(resolver=_resolver("127.0.0.1"))
    delivery = _deliver(runtime, clock, _named(receiver), destinations)
    state, attempts, error = _state(runtime, delivery)
    assert (state, attempts) == ("dead", 1)  # no retries for 24 hours: nothing would change
    assert error is not None and f"{NAME} resolves to 127.0.0.1, a loopback address" in error
    assert receiver.requests == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    """Which address a connection would take is not the account's to choose (a DNS answer
    that mixes a public address with an internal one)."""
    resolver = _resolver("93.184.216.34", "10.0.0.5")
    delivery = _deliver(runtime, clock, _named(receiver), WebhookDestinations(resolver=resolver))
    state, _, error = _state(runtime, delivery)
    assert state == "dead" and error is not None and "10.0.0.5, a private address" in error
    assert receiver.requests == []


def test_in_an_allowed_network_the_connection_goes_to_the_checked_address(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    """NAME exists nowhere but in the test's resolver: the receiver can only have been
    reached through the address that was checked, and it still sees the URL's host."""
    destinations = WebhookDestinations(parse_networks(["127.0.0.0/8"]), _resolver("127.0.0.1"))
    delivery = _deliver(runtime, clock, _named(receiver), destinations)
    assert _state(runtime, delivery) == ("delivered", 1, None)
    (request,) = receiver.requests
    assert request.headers["host"].startswith(f"{NAME}:")
    assert request.delivery_id == delivery


# --- what comes back ------------------------------------------------------------------------

LOOPBACK = WebhookDestinations(parse_networks(["127.0.0.0/8"]))


class RawReceiver:
    """A TCP server on the loopback that reads one request and answers with `answer`,
    which writes to the socket as it likes; counts the bytes it wrote."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hooks"
        self.sent = 0
        self._answer = answer
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            with contextlib.suppress(OSError):  # the sender hung up: that is the point
                self._answer(connection)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(timeout=10)


def test_an_endless_answer_body_is_not_read(runtime: Runtime, clock: ManualClock) -> None:
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    receiver: RawReceiver

    def endless(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while receiver.sent < 1 << 30:
            connection.sendall(chunk)
            receiver.sent += len(chunk)

    receiver = RawReceiver(endless)
    try:
        started = time.monotonic()
        delivery = _deliver(runtime, clock, receiver.url, LOOPBACK)
        assert time.monotonic() - started < 4
        assert _state(runtime, delivery) == ("delivered", 1, None)
    finally:
        receiver.close()
    assert receiver.sent < 64 << 20  # it stopped when the sender hung up, not at 1 GiB


def test_an_answer_that_drips_in_ends_at_the_deadline(runtime: Runtime, clock: ManualClock) -> None:
    """Each byte comes well within the timeout, so only a deadline for the whole exchange
    ends it; the headers alone would take 30 s."""

    def drip(connection: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 300:
            connection.sendall(bytes([byte]))
            time.sleep(0.1)

    receiver = RawReceiver(drip)
    try:
        started = time.monotonic()
        delivery = _deliver(runtime, clock, receiver.url, LOOPBACK, timeout_seconds=1)
        assert time.monotonic() - started < 4
    finally:
        receiver.close()
    state, attempts, error = _state(runtime, delivery)
    assert (state, attempts, error) == ("pending", 1, "no answer within 1 s")  # retried later


# --- sharing the sender between accounts ---------------------------------------------------


def test_an_account_whose_receiver_never_answers_holds_only_its_own_share(
    runtime: Runtime, clock: ManualClock, receiver: Receiver
) -> None:
    """Account X's 60 deliveries go to a receiver that takes the connection and never
    answers; account Y's one delivery comes after them. X gets at most its share of the
    sender's slots, and Y's delivery goes at once, not after X's time out."""
    black_hole = socket.create_server(("127.0.0.1", 0), backlog=256)  # never accepts
    silent = f"http://127.0.0.1:{black_hole.getsockname()[1]}/hooks"
    x = runtime.accounts.create_account("X")["account_id"]
    y = runtime.accounts.create_account("Y")["account_id"]
    payload = {"event": "message.status", "status": "delivered"}
    stalled = [
        webhook_row(runtime.crypto, x, None, "message.status", silent, payload, clock.now())
        for _ in range(60)
    ]
    clock.advance(timedelta(seconds=1))
    (waiting,) = [
        webhook_row(runtime.crypto, y, None, "message.status", receiver.url, payload, clock.now())
    ]
    with runtime.db.write() as conn:
        webhook_store.insert_deliveries(conn, [*stalled, waiting])
    sender = WebhookSender(
        runtime.db,
        runtime.crypto,
        clock,
        runtime.metrics,
        timeout_seconds=3,
        max_age_seconds=24 * 3600,
        destinations=LOOPBACK,
    )

    def leased(account: str) -> int:
        with runtime.db.read() as conn:
            query = select(func.count()).where(
                webhook_deliveries.c.account_id == account,
                webhook_deliveries.c.lease_until.is_not(None),
                webhook_deliveries.c.state == "pending",
            )
            return int(conn.execute(query).scalar_one())

    async def scenario() -> tuple[float, int]:
        running = asyncio.create_task(sender.run())
        started = time.monotonic()
        try:
            while not receiver.requests:
                assert time.monotonic() - started < 10, "Y's delivery never went"
                await asyncio.sleep(0.02)
            return time.monotonic() - started, await asyncio.to_thread(leased, x)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await sender.close()

    try:
        waited, x_in_flight = asyncio.run(scenario())
    finally:
        black_hole.close()
    assert waited < 2.5  # before X's first deliveries time out (3 s)
    assert x_in_flight == sender.per_account == 10
    assert _state(runtime, waiting["id"]) == ("delivered", 1, None)
