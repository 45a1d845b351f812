"""Where webhooks may be sent: public addresses, and the networks the operator allows.

An account chooses the URLs its webhooks are POSTed to. Without a check, an account could
make the platform call addresses that only the platform can reach: the database's host, a
cloud metadata service, an admin page on the loopback (server-side request forgery).

The check runs twice:
- when a URL is set, on the address or name written in it, so that the caller gets an
  error at once;
- at every connection, on each address the name resolves to. The socket is opened to the
  address that was checked, so a name that resolves elsewhere the second time (DNS
  rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx

from tidings.core.errors import InvalidInput
from tidings.core.networks import Network, is_address, refusal

# (host, port) -> the addresses it resolves to, as text
Resolver = Callable[[str, int], Awaitable[list[str]]]

SETTING = "[pipeline] webhook_allowed_networks"


class DestinationRefused(Exception):
    """A webhook's host is, or resolves to, an address webhooks may not reach."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class WebhookDestinations:
    def __init__(
        self, allowed_networks: Iterable[Network] = (), resolver: Resolver = system_resolver
    ) -> None:
        self._allowed = tuple(allowed_networks)
        self._resolve = resolver
        self._last_passed = ""  # the messages of a batch mostly share one callback

    def refusal(self, address: str) -> str | None:
        """The kind of address it is ("a private address") when webhooks may not go there,
        or None when they may."""
        return refusal(address, self._allowed)

    def check_url(self, url: str, field: str, *, code: str) -> None:
        """A URL webhooks may be sent to, else InvalidInput naming `field`: `code` when it
        is no http(s) URL, `destination_not_allowed` when its host may not be reached."""
        if url == self._last_passed:
            return
        parts = _split(url)
        if parts is None:
            raise InvalidInput(
                f"'{field}' must be an http:// or https:// URL with a host, of at most 2000 "
                "characters, like 'https://hooks.example.com/tidings'",
                code=code,
                extra={"field": field},
            )
        host = parts.hostname or ""
        address = _written_address(host)
        if address is None:
            reason = None  # a name: its addresses are checked when a webhook is sent
        else:
            kind = self.refusal(address)
            reason = None if kind is None else f"{host} is {kind}"
        if reason is not None:
            raise InvalidInput(
                f"'{field}': {reason}, which webhooks may not reach; use a public address, "
                f"or ask the operator to allow that network ({SETTING})",
                code="destination_not_allowed",
                extra={"field": field},
            )
        self._last_passed = url

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`; DestinationRefused when any of them
        may not be reached (a name with one private address among public ones is refused:
        which one a connection would take is not for the account to choose)."""
        if is_address(host):
            found = [host]
        else:
            try:
                found = await self._resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in found:
            kind = self.refusal(address)
            if kind is not None:
                where = (
                    f"{address} is {kind}"
                    if address == host
                    else f"{host} resolves to {address}, {kind}"
                )
                raise DestinationRefused(
                    f"{where}, which webhooks may not reach ({SETTING} allows it)"
                )
        return found

    def transport(self) -> httpx.AsyncBaseTransport:
        """An HTTP transport whose every connection goes through `addresses`."""
        return _GuardedTransport(_GuardedBackend(self))


def _written_address(host: str) -> str | None:
    """The address a URL's host stands for without asking DNS: an address as written, an
    IPv4 address in a legacy form the resolver takes too (`127.1`, `0x7f000001`,
    `2130706433`), or the loopback for `localhost` and its subdomains (RFC 6761)."""
    if is_address(host):
        return host
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "127.0.0.1"
    try:
        return socket.inet_ntoa(socket.inet_aton(name))
    except OSError:
        return None


def _split(url: str) -> SplitResult | None:
    if len(url) > 2000 or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, destinations: WebhookDestinations) -> None:
        self._destinations = destinations
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                found = await self._destinations.addresses(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from exc
        failure: Exception | None = None
        for address in found:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections `_GuardedBackend` makes
    (httpx builds its pool without a way to pass a network backend). TLS still verifies
    the URL's host name: only the TCP connection is made to the checked address."""

    def __init__(self, backend: _GuardedBackend) -> None:
        ssl_context = httpx.create_ssl_context()  # loaded once, for both pools
        super().__init__(verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,  # httpx's defaults
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )
