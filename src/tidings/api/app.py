"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

import tidings
from tidings.accounts.access_log import AccessLog
from tidings.accounts.inquiries import InquiryService
from tidings.api import problems
from tidings.api.middleware import Front
from tidings.api.routers import (
    access_log,
    account,
    accounts_admin,
    admin_connectors,
    authority_requests,
    consent,
    contacts,
    health,
    holds,
    inquiries,
    messages,
    numbers,
    privacy,
    privacy_admin,
    retention,
    simulator,
    statements,
    users,
    webhooks,
)
from tidings.runtime import Runtime
from tidings.web import optout


class Api(FastAPI):
    """FastAPI with one front middleware before its own stack (tidings.api.middleware)."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack: its middleware, routing and dependencies."""
        await super().__call__(scope, receive, send)


def create_app(rt: Runtime, *, run_workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            await rt.start_workers()
        requests.start()
        try:
            yield
        finally:
            requests.stop()
            if run_workers:
                await rt.stop_workers()
            else:
                await rt.accept.close()  # commits under way finish; the API-only role too

    app = Api(
        title="Tidings",
        version=tidings.__version__,
        lifespan=lifespan,
        description="Business messaging with data protection built into its engine.",
    )
    app.state.runtime = rt
    requests = AccessLog(rt.db, rt.crypto, rt.clock)
    app.state.access_log = requests
    app.state.inquiries = InquiryService(rt.db, rt.crypto, rt.clock)
    problems.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document.setdefault("components", {}).setdefault("schemas", {}).update(messages.SCHEMAS)
            app.openapi_schema = problems.document(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for module in (
        messages,
        numbers,
        account,
        webhooks,
        simulator,
        health,
        privacy_admin,
        holds,
        consent,
        optout,
        retention,
        admin_connectors,
        privacy,
        contacts,
        users,
        accounts_admin,
        access_log,
        inquiries,
        statements,
        authority_requests,
    ):
        app.include_router(module.router)
    app.front = Front(
        app.framework,
        app,
        requests,
        max_body_bytes=rt.settings.max_request_bytes,
        upload_paths={contacts.IMPORTS_PATH: rt.settings.max_import_bytes},
        direct=messages.DIRECT,
    )
    return app
