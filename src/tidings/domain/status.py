"""The message state machine: the one place that decides which transitions are allowed."""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal[
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "canceled",
    "received",
]

STATUSES: tuple[Status, ...] = get_args(Status)
FINAL: frozenset[str] = frozenset(
    {"delivered", "undelivered", "failed", "expired", "canceled", "received"}
)
CANCELABLE: frozenset[str] = frozenset({"scheduled", "queued"})

_NEXT: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"queued", "canceled", "expired"}),
    "queued": frozenset({"sending", "canceled", "expired", "failed"}),
    # sending -> queued is a temporary failure put back for a retry
    "sending": frozenset({"sent", "queued", "failed", "expired", "delivered", "undelivered"}),
    # a receipt may report an operator-side expiry or rejection after acceptance
    "sent": frozenset({"delivered", "undelivered", "failed", "expired"}),
}


def can_move(current: str, target: str) -> bool:
    """True when `current -> target` is a legal transition. Final states never move."""
    return target in _NEXT.get(current, frozenset())


def is_final(status: str) -> bool:
    return status in FINAL
