"""Structured JSON logs through structlog, for our loggers and the libraries' alike."""

from __future__ import annotations

import logging
import sys

import structlog

from tidings.domain.pii import redact

# Fields of a log event whose text may quote personal data (a message body, an error text).
_FREE_TEXT = ("event", "exception", "detail", "error")


def redact_personal_data(
    _: object, __: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Replace phone numbers, emails, IBANs and card numbers in free text by their kind."""
    for key in _FREE_TEXT:
        value = event.get(key)
        if isinstance(value, str) and value:
            event[key] = redact(value)[0]
    return event


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks become text (and are redacted too) in JSON; the console prints them itself.
    tail: list[structlog.types.Processor] = [
        *([structlog.processors.format_exc_info] if json else []),
        redact_personal_data,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
