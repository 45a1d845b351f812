"""HTTP on both ends of a gateway under test: a closed-loop load generator for its send API
and a sink for its delivery-receipt callbacks, both on one asyncio loop of this process.

Raw HTTP/1.1 over keep-alive connections (reopened when the server closes them), so that
the harness's own CPU per message stays small and is measured as this process's CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Intake:
    accepted: int = 0
    refused: int = 0
    first_refusal: str = ""
    seconds: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip().lower()
    keep = version == "HTTP/1.1" and headers.get("connection") != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(part[:-2] for part in parts)
    else:
        body, keep = await reader.read(), False
    return int(status), body, keep


async def send_all(
    host: str,
    port: int,
    target: Callable[[int], str],
    total: int,
    concurrency: int,
    accepted: Callable[[int, bytes], bool],
) -> Intake:
    """GET `target(n)` for n in range(total) over `concurrency` connections."""
    intake = Intake()
    next_number = 0
    started = time.perf_counter()

    async def connection() -> None:
        nonlocal next_number
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while next_number < total:
            n, next_number = next_number, next_number + 1
            request = f"GET {target(n)} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    writer.write(request)
                    status, body, keep = await _read_response(reader)
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    if attempt == 2:
                        status, body, keep = 0, f"{type(error).__name__}: {error}".encode(), False
            if accepted(status, body):
                intake.accepted += 1
            else:
                intake.refused += 1
                if not intake.first_refusal:
                    intake.first_refusal = f"{status} {body[:200]!r}"
            if not keep and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    intake.seconds = time.perf_counter() - started
    return intake


@dataclass
class Receipts:
    """Final delivery callbacks received, one per message id."""

    final_ids: set[str] = field(default_factory=set)
    callbacks: int = 0
    last_final_at: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class CallbackSink:
    """An HTTP server that answers every request `answer` and records the final receipts.

    `final(query)` returns the message id when the callback reports a final status.
    """

    def __init__(self, final: Callable[[dict[str, str]], str | None], answer: bytes) -> None:
        self.final = final
        self.answer = answer
        self.receipts = Receipts()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/dlr"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(self.answer)).encode()
            + b"\r\n\r\n"
            + self.answer
        )
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                close = lines[0].endswith("HTTP/1.0")
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                    elif name.strip().lower() == "connection":
                        close = value.strip().lower() == "close"
                body = await reader.readexactly(length) if length else b""
                query = dict(parse_qsl(urlsplit(path).query))
                if method == "POST" and body:
                    query.update(parse_qsl(body.decode("latin-1")))
                self._record(query)
                writer.write(response)
                if close:
                    await writer.drain()
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:  # the run is over: the loop cancels idle connections
            pass
        finally:
            writer.close()

    def _record(self, query: dict[str, str]) -> None:
        receipts = self.receipts
        receipts.callbacks += 1
        message_id = self.final(query)
        if message_id is not None and message_id not in receipts.final_ids:
            receipts.final_ids.add(message_id)
            receipts.last_final_at = time.perf_counter()
            receipts.changed.set()


async def wait_for_receipts(
    receipts: Receipts, expected: int, stall_timeout: float, deadline: float
) -> str:
    """Until `expected` final receipts, no new one for `stall_timeout` s, or the deadline.

    Returns "complete", "stalled" or "time limit".
    """
    while len(receipts.final_ids) < expected:
        now = time.perf_counter()
        if now >= deadline:
            return "time limit"
        receipts.changed.clear()
        try:
            await asyncio.wait_for(receipts.changed.wait(), min(stall_timeout, deadline - now))
        except TimeoutError:
            if time.perf_counter() < deadline:
                return "stalled"
    return "complete"
