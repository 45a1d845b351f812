"""Errors that reach a user: a stable code, an HTTP status and a message saying what to fix."""

from __future__ import annotations

from typing import Any


class TidingsError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}


class InvalidInput(TidingsError):
    status = 400
    code = "invalid_request"
    title = "Invalid request"


class NotFound(TidingsError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(TidingsError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(TidingsError):
    status = 401
    code = "invalid_api_key"
    title = "Unauthorized"


class Forbidden(TidingsError):
    status = 403
    code = "insufficient_scope"
    title = "Forbidden"


class ConfigError(TidingsError):
    code = "invalid_config"
    title = "Invalid configuration"
