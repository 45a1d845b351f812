"""Shared dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.core.errors import Unauthorized
from tidings.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An API key: tdk_...")


async def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


async def principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "send your API key as 'Authorization: Bearer tdk_...'", code="missing_api_key"
        )
    rt: Runtime = request.app.state.runtime
    caller = rt.accounts.cached_principal(credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(rt.accounts.authenticate, credentials.credentials)
    request.scope.setdefault("state", {})["principal"] = caller  # for the access log
    return caller


async def sender(caller: Principal = Depends(principal)) -> Principal:
    caller.require("messages:send")
    return caller


async def reader(caller: Principal = Depends(principal)) -> Principal:
    caller.require("messages:read")
    return caller


async def admin(caller: Principal = Depends(principal)) -> Principal:
    caller.require("admin")
    return caller


async def operator(caller: Principal = Depends(principal)) -> Principal:
    """The operator of the deployment: /v1/admin/* (connectors, routes, holds, registers)."""
    caller.require("operator")
    return caller
