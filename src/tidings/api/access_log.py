"""ASGI middleware recording each authenticated API request in the access log."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.accounts.access_log import AccessLog
from tidings.accounts.service import Principal

PRINCIPAL_STATE = "principal"  # set by tidings.api.deps.principal once a key is verified


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            caller = scope.get("state", {}).get(PRINCIPAL_STATE)
            if isinstance(caller, Principal):
                route = scope.get("route")
                client = scope.get("client")
                self.access_log.record(
                    caller.account_id,
                    caller.key_id,
                    scope["method"],
                    str(getattr(route, "path", scope["path"])),
                    status,
                    client[0] if client else None,
                )
