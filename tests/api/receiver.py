"""A real HTTP webhook receiver on 127.0.0.1 (an ephemeral port), served from a thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value

    @property
    def delivery_id(self) -> str:
        return self.headers["x-tidings-delivery"]


class Receiver:
    """Records every POST; answers with `status` (settable while running)."""

    def __init__(self) -> None:
        self.status = 200
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = receiver.status
                with receiver._lock:
                    receiver._requests.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, answer)
                    )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def events(self, event: str | None = None) -> list[Received]:
        return [r for r in self.requests if event is None or r.payload["event"] == event]

    def attempts(self, delivery_id: str) -> list[Received]:
        return [r for r in self.requests if r.delivery_id == delivery_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
