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
    return Response(_dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _dumps(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:
        # A problem may quote the request (a field name, an unknown scope): text with a lone
        # surrogate, which JSON can escape but UTF-8 cannot hold, is shown escaped instead.
        return orjson.dumps(_escaped(body))


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


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


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable, `detail` says what to fix.",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the request field at fault"},
        "errors": {
            "type": "array",
            "description": "every field at fault (validation_error: field, message) or every "
            "refused item of a batch (batch_rejected: index, code, field, detail)",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "index": {"type": "integer"},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Describe the errors as they are: every 4xx answer is a problem, not FastAPI's default
    `HTTPValidationError` (which this API never sends)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    answer = {
        "description": "A problem: the request was refused; `code` says why",
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for item in openapi.get("paths", {}).values():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if "HTTPValidationError" in str(responses.get("422")):
                del responses["422"]
            if {"security", "parameters", "requestBody"} & set(operation):
                responses["4XX"] = answer
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi


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
