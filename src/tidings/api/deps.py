"""Shared dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.core.errors import Unauthorized
from tidings.runtime import Runtime


async def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


class ApiKey(HTTPBearer):
    """The caller of `Authorization: Bearer <API key>`, holding `scope` when one is named.

    One dependency that reads the header, authenticates and checks the scope (documented
    as the HTTP bearer scheme): a chain of dependencies costs more per request than the
    work they do."""

    def __init__(self, scope: str | None) -> None:
        super().__init__(
            auto_error=False, scheme_name="HTTPBearer", description="An API key: tdk_..."
        )
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        key = key.strip()
        if not key or scheme.lower() != "bearer":
            raise Unauthorized(
                "send your API key as 'Authorization: Bearer tdk_...'", code="missing_api_key"
            )
        rt: Runtime = request.app.state.runtime
        caller = rt.accounts.cached_principal(key)
        if caller is None:
            caller = await run_in_threadpool(rt.accounts.authenticate, key)
        request.scope.setdefault("state", {})["principal"] = caller  # for the access log
        if self.scope is not None:
            caller.require(self.scope)
        return caller


principal = ApiKey(None)
sender = ApiKey("messages:send")
reader = ApiKey("messages:read")
admin = ApiKey("admin")
# The operator of the deployment: /v1/admin/* (connectors, routes, holds, registers).
operator = ApiKey("operator")
