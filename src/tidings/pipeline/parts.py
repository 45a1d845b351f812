"""A multipart message's status from its parts' receipts."""

from __future__ import annotations

from collections.abc import Sequence

PART_FAILURES = ("undelivered", "failed", "expired")


def message_status_from_parts(statuses: Sequence[str]) -> str | None:
    """`delivered` once every part is; the first final failure of any part; else None
    (parts still `sent`: the message waits for the rest)."""
    for status in statuses:
        if status in PART_FAILURES:
            return status
    if statuses and all(status == "delivered" for status in statuses):
        return "delivered"
    return None
