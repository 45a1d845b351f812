"""The API's one middleware: request ids, a cap on request body size, the access log, and
the direct routes.

One pure ASGI layer in front of FastAPI's own stack, rather than one layer per concern:
each layer costs a call, a closure or two and a copy of every response start per request.

Direct routes are endpoints that read their own request (`Request` is their only
parameter), given by method and exact path. The front calls them itself, with the app's
exception handlers, instead of through FastAPI's routing, middleware and dependency
solving, which cost more than the accept behind `POST /v1/messages`. They stay declared
FastAPI routes for the OpenAPI document, and for requests the front does not take (under a
root path); tests/api/test_direct_routes.py holds both ways to the same answers.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.accounts.access_log import AccessLog
from tidings.accounts.service import Principal

PRINCIPAL_STATE = "principal"  # set by tidings.api.deps.ApiKey once a key is verified
Endpoint = Callable[[Request], Awaitable[Response]]


class Front:
    def __init__(
        self,
        app: ASGIApp,
        api: Starlette,
        access_log: AccessLog,
        max_body_bytes: int,
        upload_paths: dict[str, int] | None = None,
        direct: Mapping[tuple[str, str], Endpoint] | None = None,
    ) -> None:
        self.app = app  # FastAPI's own stack
        self.api = api  # for its exception handlers and state
        self.access_log = access_log
        self.max_body = max_body_bytes
        self.upload_paths = upload_paths or {}  # paths that take file uploads, and their cap
        self.direct: dict[tuple[str, str], Endpoint] = dict(direct or {})  # by (method, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id: str | None = None
        length: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"x-request-id" and request_id is None:
                request_id = value.decode("latin-1")
            elif key == b"content-length" and length is None:
                length = value
        request_id = (request_id or os.urandom(8).hex())[:64]
        id_header = (b"x-request-id", request_id.encode())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        max_body = self.upload_paths.get(scope["path"], self.max_body)
        status = 500
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400: once the body
            # was cut off, drop whatever the app answers and send the 413 below instead.
            nonlocal started, status
            if too_large and not started:
                return
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            await send(message)

        try:
            if length is not None and length.isdigit() and int(length) > max_body:
                too_large = True
            else:
                endpoint = None
                if not scope.get("root_path"):
                    endpoint = self.direct.get((scope["method"], scope["path"]))
                if endpoint is None:
                    await self.app(scope, limited_receive, send_with_id)
                else:
                    await self._call_direct(endpoint, scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            pass
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            if too_large and not started:
                status = 413
            caller = state.get(PRINCIPAL_STATE)
            if isinstance(caller, Principal):
                route_path = getattr(scope.get("route"), "path", scope["path"])
                client = scope.get("client")
                self.access_log.record(
                    caller.account_id,
                    caller.key_id,
                    scope["method"],
                    str(route_path),
                    status,
                    client[0] if client else None,
                )
        if too_large and not started:
            await _too_large(send, id_header, max_body)

    async def _call_direct(
        self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """What Starlette's routing and exception middleware do for the route, without them."""
        scope["app"] = self.api
        scope["endpoint"] = endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except _BodyTooLarge:
            raise
        except Exception as exc:
            await self._error(request, exc, send)
            return
        await response(scope, receive, send)

    async def _error(self, request: Request, exc: Exception, send: Send) -> None:
        """Answer with the app's handler for the exception; an exception without one of its
        own is answered by the handler of `Exception` and raised again, as Starlette's
        ServerErrorMiddleware does (the server logs it)."""
        handlers: dict[Any, Callable[..., Any]] = self.api.exception_handlers
        handler = None
        if isinstance(exc, HTTPException) and exc.status_code != 500:
            handler = handlers.get(exc.status_code)
        if handler is None:
            mro = type(exc).__mro__
            handler = next((handlers[c] for c in mro if c is not Exception and c in handlers), None)
        unhandled = handler is None
        if handler is None:
            handler = handlers.get(Exception) or handlers.get(500)
            if handler is None:
                raise exc
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        await response(request.scope, request.receive, send)
        if unhandled:
            raise exc


async def _too_large(send: Send, id_header: tuple[bytes, bytes], max_body: int) -> None:
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
                id_header,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
