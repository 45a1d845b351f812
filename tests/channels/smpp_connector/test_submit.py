"""Submitting: long messages and encodings, errors, throttling and a dropped connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack, smpp_connector
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until
from tidings.core.clock import ManualClock
from tidings.core.config import RouteConfig

pytestmark = requires_smpp34

Stack = Callable[..., SmppStack]
Smsc = Callable[..., SmscProcess]
TO = "+31612345678"
LONG_GSM = "".join(f"{i:04d} GSM text, " for i in range(30))  # 450 characters
LONG_UCS2 = "Привет, мир! " * 15  # 195 characters, not GSM-7


def _submits(smsc: SmscProcess, count: int) -> list[dict[str, object]]:
    smsc.wait_for(lambda e: e["event"] == "submit", count=count)
    return smsc.of("submit")


def _delivered(stack: SmppStack, message_id: str) -> dict[str, object]:
    wait_until(lambda: stack.message(message_id)["status"] == "delivered", message="delivered")
    return stack.message(message_id)


@pytest.mark.parametrize("method", ["udh8", "udh16"])
def test_long_gsm7_text_goes_as_udh_parts_each_with_its_receipt(
    smsc_factory: Smsc, stack_factory: Stack, method: str
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port, long_messages=method),))
    message_id = stack.send(TO, LONG_GSM)
    message = _delivered(stack, message_id)
    submits = _submits(smsc, 3)
    assert len(submits) == 3
    header = bytes.fromhex(str(submits[0]["short_message"]))[: 6 if method == "udh8" else 7]
    joined = b""
    for seqnum, submit in enumerate(submits, 1):
        assert submit["esm_class"] == 0x40 and submit["data_coding"] == 0
        octets = bytes.fromhex(str(submit["short_message"]))
        if method == "udh8":
            assert octets[:3] == b"\x05\x00\x03" and octets[4:6] == bytes([3, seqnum])
        else:
            assert octets[:3] == b"\x06\x08\x04" and octets[5:7] == bytes([3, seqnum])
        assert octets[: len(header) - 1] == header[:-1]  # one reference for the set
        joined += octets[len(header) :]
    assert joined.decode("ascii") == LONG_GSM
    assert [p["part_number"] for p in message["parts"]] == [1, 2, 3]  # type: ignore[index]
    assert {p["status"] for p in message["parts"]} == {"delivered"}  # type: ignore[union-attr]
    assert len({p["connector_message_id"] for p in message["parts"]}) == 3  # type: ignore[union-attr]


def test_long_ucs2_text_goes_as_sar_parts(smsc_factory: Smsc, stack_factory: Stack) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port, long_messages="sar"),))
    message_id = stack.send(TO, LONG_UCS2)
    _delivered(stack, message_id)
    submits = _submits(smsc, 3)
    assert len(submits) == 3
    text = b""
    for seqnum, submit in enumerate(submits, 1):
        assert submit["data_coding"] == 8 and submit["esm_class"] == 0
        tlvs = {tag: bytes.fromhex(value) for tag, value in submit["tlvs"]}  # type: ignore[attr-defined]
        assert tlvs[0x020E] == bytes([3]) and tlvs[0x020F] == bytes([seqnum])
        text += bytes.fromhex(str(submit["short_message"]))
    assert text.decode("utf-16-be") == LONG_UCS2


def test_message_payload_carries_the_whole_text_in_one_pdu(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory()
    stack = stack_factory(
        (smpp_connector("op1", smsc.port, long_messages="payload", gsm7_data_coding=1),)
    )
    message_id = stack.send(TO, LONG_GSM, sender="+3197010000000")
    message = _delivered(stack, message_id)
    (submit,) = _submits(smsc, 1)
    assert submit["short_message"] == "" and submit["data_coding"] == 1
    assert (submit["source_addr"], submit["source_addr_ton"]) == ("3197010000000", 1)
    tlvs = dict(submit["tlvs"])  # type: ignore[call-overload]
    assert bytes.fromhex(tlvs[0x0424]).decode("ascii") == LONG_GSM
    assert len(message["parts"]) == 1  # type: ignore[arg-type]


def test_a_permanent_error_fails_the_message_with_the_smpp_status(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory(reject={"31612345679": 0x0B})
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    message_id = stack.send("+31612345679", "to a number the operator refuses")
    wait_until(lambda: stack.message(message_id)["status"] == "failed", message="failed")
    message = stack.message(message_id)
    assert message["error_code"] == "ESME_RINVDSTADR"
    assert "0x0000000B" in message["error_message"]
    assert stack.status_of("op1")["errors"]["ESME_RINVDSTADR"] == 1


def test_a_temporary_error_goes_to_the_fallback_route(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    first = smsc_factory(reject={"31612345678": 0x08})
    second = smsc_factory()
    stack = stack_factory(
        (smpp_connector("op1", first.port), smpp_connector("op2", second.port)),
        (RouteConfig("+31", "op1", 10), RouteConfig("+31", "op2", 5)),
    )
    message_id = stack.send(TO, "fallback please")
    message = _delivered(stack, message_id)
    assert message["parts"][0]["connector"] == "op2"  # type: ignore[index]
    assert any("ESME_RSYSERR" in (h.get("detail") or "") for h in message["status_history"])  # type: ignore[union-attr]
    assert len(first.of("submit")) == 1 and len(second.of("submit")) == 1


def test_throttling_slows_down_and_retries_until_delivered(
    smsc_factory: Smsc, stack_factory: Stack, clock: ManualClock
) -> None:
    # 5 throttled answers: the connector retries the PDU 3 times after a pause, then gives
    # the message back to the queue (temporary), and the next attempt gets through.
    smsc = smsc_factory(throttle=5)
    stack = stack_factory((smpp_connector("op1", smsc.port, throttle_retries=3),))
    message_id = stack.send(TO, "slow down")
    wait_until(
        lambda: stack.message(message_id)["error_code"] == "ESME_RTHROTTLED", message="requeued"
    )
    assert stack.message(message_id)["status"] == "queued"
    clock.advance(timedelta(minutes=5))
    _delivered(stack, message_id)
    times = smsc.of("submit")
    assert len(times) == 6
    assert stack.status_of("op1")["errors"]["ESME_RTHROTTLED"] == 5


def test_a_dropped_connection_loses_nothing_in_the_window(
    smsc_factory: Smsc, stack_factory: Stack, clock: ManualClock
) -> None:
    smsc = smsc_factory(drop_at=3, receipts="after")
    stack = stack_factory((smpp_connector("op1", smsc.port, window=10),))
    response = stack.tenant.post(
        "/v1/messages/batch",
        {"messages": [{"from": "Acme", "to": f"+3161234{i:04d}", "body": "m"} for i in range(10)]},
    )
    assert response.status_code == 202, response.text
    ids = [item["id"] for item in response.json()["messages"]]
    smsc.wait_for(lambda e: e["event"] == "dropped")
    wait_until(lambda: stack.status_of("op1")["binds"] >= 2, message="bound again")

    def settled() -> bool:
        statuses = [stack.message(i)["status"] for i in ids]
        return all(s in ("delivered", "queued", "sent") for s in statuses)

    try:
        wait_until(settled, message="every message delivered or queued for a retry")
    except AssertionError:
        raise AssertionError(
            [(stack.message(i)["status"], stack.message(i)["error_code"]) for i in ids],
            smsc.events,
        ) from None
    clock.advance(timedelta(minutes=5))
    wait_until(
        lambda: all(stack.message(i)["status"] == "delivered" for i in ids),
        timeout=20,
        message="all delivered",
    )
    assert stack.status_of("op1")["errors"]["connection_lost"] >= 1
