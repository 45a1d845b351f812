"""Logs never carry the phone numbers, emails, IBANs or card numbers they would quote."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from tidings.core.logging import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The JSON log lines `configure_logging` writes, into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(json=True)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_library_and_own_log_lines_are_redacted(json_logs: io.StringIO) -> None:
    logging.getLogger("tidings.test").warning(
        "inbound from %s: %s", "+31612345678", "pay to NL91ABNA0417164300, mail me@example.org"
    )
    structlog.get_logger("tidings.test").info("card 4111 1111 1111 1111 was declined")
    try:
        raise ValueError("bad number +447911123456")
    except ValueError:
        logging.getLogger("tidings.test").exception("failed for +31612345678")
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "inbound from [phone]: pay to [iban], mail [email]",
        "card [card] was declined",
        "failed for [phone]",
    ]
    assert "ValueError: bad number [phone]" in lines[2]["exception"]
    raw = json.dumps(lines)
    for secret in ("612345678", "NL91", "me@example", "4111", "7911123456"):
        assert secret not in raw
