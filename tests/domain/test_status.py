from __future__ import annotations

import itertools

import pytest

from tidings.domain.status import FINAL, STATUSES, can_move, is_final


@pytest.mark.parametrize(
    "path",
    [
        ["queued", "sending", "sent", "delivered"],
        ["scheduled", "queued", "sending", "sent", "undelivered"],
        ["queued", "sending", "queued", "sending", "failed"],
        ["scheduled", "canceled"],
        ["queued", "expired"],
        ["queued", "sending", "sent", "expired"],
    ],
)
def test_normal_lifecycles_are_allowed(path: list[str]) -> None:
    assert all(can_move(a, b) for a, b in itertools.pairwise(path))


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_never_move(final: str) -> None:
    assert is_final(final)
    assert not any(can_move(final, target) for target in STATUSES)


def test_a_late_receipt_cannot_revive_a_failed_message() -> None:
    assert not can_move("failed", "delivered")
    assert not can_move("delivered", "undelivered")


def test_sent_messages_cannot_be_canceled_or_requeued() -> None:
    assert not can_move("sent", "canceled")
    assert not can_move("sent", "queued")
    assert not can_move("sending", "canceled")
