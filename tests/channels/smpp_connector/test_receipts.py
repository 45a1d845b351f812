"""Receipts: early, text-only, per part, never sent, and after a restart."""

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
TO = "+31612345678"
LONG = "".join(f"{i:04d} GSM text, " for i in range(30))  # 3 parts


@pytest.mark.parametrize("form", ["tlv", "text"])
def test_receipts_sent_before_the_submit_response_are_matched(
    smsc_factory: Smsc, stack_factory: Stack, form: str
) -> None:
    smsc = smsc_factory(receipts="before", receipt_form=form)
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    ids = [stack.send(TO, f"early receipt {i}") for i in range(3)]
    wait_until(
        lambda: all(stack.message(i)["status"] == "delivered" for i in ids), message="delivered"
    )
    for message_id in ids:
        history = [h["status"] for h in stack.message(message_id)["status_history"]]
        assert history[-2:] == ["sent", "delivered"]
    # Each receipt was answered, and only after it was recorded.
    receipts = [smsc.wait_for(lambda e: e["event"] == "receipt", count=n) for n in (1, 2, 3)]
    assert {r["command_status"] for r in receipts} == {0}


def test_a_multipart_message_is_undelivered_when_one_part_fails(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory(undeliverable=[2])
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    message_id = stack.send(TO, LONG)
    wait_until(lambda: stack.message(message_id)["status"] == "undelivered", message="undelivered")
    message = stack.message(message_id)
    assert [(p["part_number"], p["status"]) for p in message["parts"]][1] == (2, "undelivered")
    assert message["parts"][1]["error_code"] == "UNDELIV:001"
    assert message["error_code"] == "UNDELIV:001"
    assert message["error_message"] == "part 2 of 3: undelivered"
    wait_until(lambda: all(p["done_at"] for p in stack.message(message_id)["parts"]))


def test_a_multipart_message_is_delivered_only_when_every_part_is(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory(no_receipt=["31612345678"])
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    message_id = stack.send(TO, LONG)
    wait_until(lambda: len(stack.message(message_id)["parts"]) == 3, message="three parts sent")
    parts = stack.message(message_id)["parts"]
    for part in parts[:2]:
        smsc.command(
            "receipt", message_id=part["connector_message_id"], source=TO[1:], destination="Acme"
        )
    wait_until(
        lambda: (
            [p["status"] for p in stack.message(message_id)["parts"]]
            == ["delivered", "delivered", "sent"]
        ),
        message="two parts delivered",
    )
    assert stack.message(message_id)["status"] == "sent"
    smsc.command(
        "receipt", message_id=parts[2]["connector_message_id"], source=TO[1:], destination="Acme"
    )
    wait_until(lambda: stack.message(message_id)["status"] == "delivered", message="delivered")


def test_without_a_receipt_a_message_stays_sent_or_expires_after_its_validity(
    smsc_factory: Smsc, stack_factory: Stack, clock: ManualClock
) -> None:
    smsc = smsc_factory(no_receipt=["31612345678"])
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    silent = stack.send(TO, "no receipt for me")
    response = stack.tenant.post(
        "/v1/messages",
        {"from": "Acme", "to": TO, "body": "valid for a minute", "validity_seconds": 60},
    )
    assert response.status_code == 202, response.text
    short_lived = response.json()["id"]
    answered = stack.send("+31612345670", "a receipt for me")
    wait_until(lambda: stack.message(answered)["status"] == "delivered", message="delivered")
    wait_until(lambda: stack.message(short_lived)["status"] == "sent", message="sent")
    message = stack.message(silent)
    assert message["status"] == "sent"
    assert [p["status"] for p in message["parts"]] == ["sent"]
    assert message["parts"][0]["done_at"] is None

    assert stack.runtime.validity.sweep() == 0  # within the validity and its grace
    clock.advance(timedelta(minutes=12))
    assert stack.runtime.validity.sweep() == 1
    expired = stack.message(short_lived)
    assert (expired["status"], expired["error_code"]) == ("expired", "no_receipt")
    assert stack.message(silent)["status"] == "sent"  # no validity: it waits for a receipt


def test_a_receipt_after_a_restart_finds_its_message(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory(no_receipt=["31612345678"])
    config = (smpp_connector("op1", smsc.port),)
    first = stack_factory(config)
    message_id = first.send(TO, "receipt after restart")
    wait_until(lambda: first.message(message_id)["status"] == "sent", message="sent")
    operator_id = first.message(message_id)["parts"][0]["connector_message_id"]
    first.client.__exit__(None, None, None)
    first.runtime.close()
    smsc.wait_for(lambda e: e["event"] == "unbound")

    second = stack_factory(config)  # the same database, a new process's worth of state
    wait_until(lambda: second.status_of("op1")["bound"], message="bound again")
    smsc.command("receipt", message_id=operator_id, source=TO[1:], destination="Acme")
    first.tenant.client = second.client
    wait_until(lambda: first.message(message_id)["status"] == "delivered", message="delivered")
