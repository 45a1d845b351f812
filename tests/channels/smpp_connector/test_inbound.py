"""Inbound (MO) messages: UCS-2 parts in any order, by UDH or SAR, joined and attributed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack, smpp_connector
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until
from tidings.core.clock import ManualClock

pytestmark = requires_smpp34

Stack = Callable[..., SmppStack]
Smsc = Callable[..., SmscProcess]
OWNED = "+3197010000001"
HANDSET = "+31612345678"
TEXT = "Ответ: да, подтверждаю бронирование на завтра. " * 4  # 188 UCS-2 units: 3 parts


def _inbound(stack: SmppStack) -> list[dict[str, object]]:
    listed = stack.tenant.get("/v1/messages", params={"status": "received"}).json()["data"]
    return list(listed)


@pytest.mark.parametrize("form", ["udh", "sar"])
def test_parts_out_of_order_are_joined_and_given_to_the_owner_of_the_number(
    smsc_factory: Smsc, stack_factory: Stack, form: str
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    assert stack.tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    wait_until(lambda: stack.status_of("op1")["bound"], message="bound")
    smsc.command(
        "mo", source=HANDSET[1:], destination=OWNED[1:], text=TEXT, form=form, order=[2, 0, 1]
    )
    for count in (1, 2, 3):
        assert smsc.wait_for(lambda e: e["event"] == "mo_sent", count=count)["command_status"] == 0
    (received,) = wait_until(lambda: _inbound(stack), message="the inbound message")
    assert received["body"] == TEXT
    assert (received["from"], received["to"]) == (HANDSET, OWNED)
    assert received["direction"] == "inbound"


def test_a_set_with_a_missing_part_is_given_up_after_the_timeout(
    smsc_factory: Smsc, stack_factory: Stack, clock: ManualClock
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port, reassembly_timeout_seconds=60),))
    assert stack.tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    wait_until(lambda: stack.status_of("op1")["bound"], message="bound")
    smsc.command("mo", source=HANDSET[1:], destination=OWNED[1:], text=TEXT, order=[0, 2])
    smsc.wait_for(lambda e: e["event"] == "mo_sent", count=2)
    wait_until(lambda: stack.status_of("op1")["inbound_sets_pending"] == 1, message="pending")
    clock.advance(timedelta(seconds=61))
    wait_until(
        lambda: stack.status_of("op1")["errors"].get("inbound_parts_timed_out") == 1,
        message="given up",
    )
    assert stack.status_of("op1")["inbound_sets_pending"] == 0
    assert _inbound(stack) == []
