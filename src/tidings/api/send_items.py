"""The common batch item, checked without pydantic.

Validating 10,000 items with the `SendMessage` model cost more than a tenth of the batch
accept: per item a model, a Python validator call per text field, then a MessageRequest.
`plain_request` takes only items that are plainly valid (the fields a send usually has,
JSON types as the model wants them, within its limits) and returns None for anything
else, which the model then validates as before: errors, and every unusual form (a
`send_at`, `from_`, a float for an integer), always come from the model. The checks here
are the model's own (tests/api/test_send_items.py compares the two).
"""

from __future__ import annotations

import re
from typing import Any

from tidings.domain.consent import TRANSACTIONAL
from tidings.pipeline.accept import MessageRequest

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # tidings.api.schemas.Strict refuses them
_KNOWN = frozenset(
    {"to", "from", "body", "channel", "validity_seconds", "status_callback", "reference", "purpose"}
)


def _text(value: object, shortest: int, longest: int) -> bool:
    """A string of allowed length without control characters or lone surrogates."""
    return (
        type(value) is str
        and shortest <= len(value) <= longest
        and _CONTROL.search(value) is None
        and _is_unicode(value)
    )


def _optional_text(item: dict[str, Any], name: str, longest: int) -> bool:
    value = item.get(name)
    return value is None or _text(value, 0, longest)


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_request(item: object) -> MessageRequest | None:
    """The request of a plainly valid item as `SendMessage` reads it; None: ask the model."""
    if type(item) is not dict or not _KNOWN.issuperset(item):
        return None
    body = item.get("body")
    validity = item.get("validity_seconds")
    if not (
        _text(item.get("to"), 1, 64)
        and _text(item.get("from"), 1, 64)
        and type(body) is str
        and len(body) <= 20_000
        and _is_unicode(body)
        and _text(item.get("channel", "sms"), 0, 16)
        and _text(item.get("purpose", TRANSACTIONAL), 0, 64)
        and _optional_text(item, "status_callback", 2000)
        and _optional_text(item, "reference", 128)
        and (validity is None or type(validity) is int)
    ):
        return None
    return MessageRequest(
        to=item["to"],
        sender=item["from"],
        body=body,
        channel=item.get("channel", "sms"),
        validity_seconds=validity,
        status_callback=item.get("status_callback"),
        reference=item.get("reference"),
        purpose=item.get("purpose", TRANSACTIONAL),
    )
