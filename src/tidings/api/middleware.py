"""ASGI middleware: request ids and a cap on request body size."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestLimits:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, upload_paths: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.upload_paths = upload_paths or {}  # paths that take file uploads, and their cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or os.urandom(8).hex()
        request_id = request_id[:64]
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        max_body = self.upload_paths.get(scope.get("path", ""), self.max_body)
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            await self._too_large(send_with_id, max_body)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    too_large = True
                    raise _BodyTooLarge
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400: once the body
            # was cut off, drop whatever the app answers and send the 413 below instead.
            nonlocal started
            if too_large and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        if too_large and not started:
            await self._too_large(send_with_id, max_body)

    async def _too_large(self, send: Send, max_body: int) -> None:
        body = orjson.dumps(
            {
                "type": "https://tidings.dev/problems/request_too_large",
                "title": "Request too large",
                "status": 413,
                "code": "request_too_large",
                "detail": f"the request body is larger than {max_body} bytes; split it",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def _header(scope: MutableMapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
