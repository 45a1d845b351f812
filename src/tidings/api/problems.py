"""RFC 9457 problem+json for every error; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tidings.core.errors import TidingsError

log = logging.getLogger("tidings.api")
PROBLEM = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "type": f"https://tidings.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **(extra or {}),
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_problem(errors: list[dict[str, Any]]) -> Response:
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(
            400,
            "malformed_json",
            "Malformed JSON",
            "the request body is not valid JSON; send a JSON object with "
            "Content-Type: application/json",
        )
    items = []
    for error in errors:
        field = _field(tuple(error.get("loc", ())))
        message = error.get("msg", "invalid")
        if error.get("type") == "extra_forbidden":
            message = "is not a known field; remove it"
        elif error.get("type") == "missing":
            message = "is required"
        items.append({"field": field, "message": message})
    first = items[0] if items else {"field": "body", "message": "invalid"}
    return problem(
        422,
        "validation_error",
        "Validation failed",
        f"'{first['field']}' {first['message']}",
        {"errors": items},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(TidingsError)
    async def tidings_error(_: Request, exc: TidingsError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.extra, headers)

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, exc: RequestValidationError) -> Response:
        return validation_problem(list(exc.errors()))

    @app.exception_handler(ValidationError)
    async def model_validation(_: Request, exc: ValidationError) -> Response:
        return validation_problem([dict(e) for e in exc.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        detail = (
            "no such endpoint; see /openapi.json" if exc.status_code == 404 else str(exc.detail)
        )
        return problem(exc.status_code, code, str(exc.detail), detail)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal_error",
            "Internal error",
            "something failed on our side; the request id identifies it in our logs",
        )
