"""Messages through the SMPP connector to smpp34's Server in another process, and back."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack, smpp_connector
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until

pytestmark = requires_smpp34

Stack = Callable[..., SmppStack]
Smsc = Callable[..., SmscProcess]


@pytest.mark.parametrize("bind", ["transceiver", "pair"])
def test_a_message_is_submitted_and_its_receipt_makes_it_delivered(
    smsc_factory: Smsc, stack_factory: Stack, bind: str
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port, bind=bind, system_type="VMA"),))
    wait_until(lambda: stack.status_of("op1")["bound"], message="bound")
    binds = smsc.of("bind")
    assert sorted(b["command_id"] for b in binds) == ([9] if bind == "transceiver" else [1, 2])

    message_id = stack.send("+31612345678", "Hello from Tidings")
    wait_until(lambda: stack.message(message_id)["status"] == "delivered", message="delivered")

    submit = smsc.of("submit")[0]
    assert submit["destination_addr"] == "31612345678"
    assert submit["source_addr"] == "Acme" and submit["source_addr_ton"] == 5
    assert submit["data_coding"] == 0
    assert bytes.fromhex(submit["short_message"]) == b"Hello from Tidings"
    message = stack.message(message_id)
    assert [p["connector_message_id"] for p in message["parts"]] == ["smsc-1"]
    assert message["parts"][0]["status"] == "delivered"
    if bind == "transceiver":
        # The receipt was answered (after it was recorded) with ESME_ROK. smpp34's Server
        # answers a receiver session's deliver_sm_resp with generic_nack ESME_RINVCMDID
        # (its bug, docs/architecture.md), so the pair's receiver cannot be checked so.
        assert smsc.wait_for(lambda e: e["event"] == "receipt")["command_status"] == 0


def test_a_wrong_password_is_refused_and_retried_with_growing_delays(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory(password="right")
    stack = stack_factory(
        (smpp_connector("op1", smsc.port, password="wrong", reconnect_min_seconds=0.1),)
    )
    smsc.wait_for(lambda e: e["event"] == "bind_refused", count=5, timeout=15)
    times = [e["at"] for e in smsc.of("bind_refused")][:5]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # 0.1 s, then doubling (with up to 20 % jitter), capped at 0.4 s.
    assert gaps[2] > 1.5 * gaps[0], gaps
    assert max(gaps) < 0.4 + 0.3, gaps
    wait_until(lambda: stack.status_of("op1")["errors"].get("bind_ESME_RINVPASWD", 0) >= 5)
    status = stack.status_of("op1")
    assert status["bound"] is False and status["state"] == "refused"
    assert "ESME_RINVPASWD" in status["last_error"]
    message_id = stack.send("+31612345678", "waits for a bind")
    # Not bound: a temporary failure, the message goes back to the queue and is not lost.
    wait_until(
        lambda: stack.message(message_id)["error_code"] == "not_bound", timeout=15, message="retry"
    )
    assert stack.message(message_id)["status"] in ("queued", "sending")


def test_an_idle_session_is_kept_alive_with_enquire_link(
    smsc_factory: Smsc, stack_factory: Stack
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port, enquire_link_seconds=0.1),))
    wait_until(lambda: stack.status_of("op1")["enquire_links"] >= 3, message="enquire_links")
    status = stack.status_of("op1")
    assert status["bound"] is True and status["binds"] == 1
