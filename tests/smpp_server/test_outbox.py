"""Receipts and inbound messages as deliver_sm: at once to a bound receiver, else durably
waiting in the outbox and delivered in order when the account binds again."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.smpp_server.conftest import Esme, Login, ServerThread, make_login
from tests.support import wait_until
from tidings.channels.smpp.constants import CommandStatus, EsmClass, MessageState
from tidings.channels.smpp.pdu import BindReceiver, BindTransmitter, DeliverSm, SubmitSm
from tidings.channels.smpp.reassembly import Reassembler, inbound_part
from tidings.channels.smpp.receipt import ReceiptStat, is_receipt, receipt_from_pdu
from tidings.runtime import Runtime
from tidings.store import smpp as smpp_store
from tidings.store.tables import smpp_outbox, smpp_receipt_requests

S = CommandStatus
RECEIPT_TEXT = re.compile(
    r"^id:(msg_\w{26}) sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} "
    r"stat:DELIVRD err:000$"
)


def submit(esme: Esme, body: bytes, registered_delivery: int = 1) -> str:
    resp = esme.request(
        SubmitSm(
            sequence_number=esme.next_sequence(),
            source_addr="Acme",
            source_addr_ton=5,
            destination_addr="31612345678",
            dest_addr_ton=1,
            registered_delivery=registered_delivery,
            short_message=body,
        )
    )
    assert resp.command_status == S.ESME_ROK
    message_id: str = resp.message_id  # type: ignore[attr-defined]
    return message_id


def outbox(runtime: Runtime) -> list[Any]:
    with runtime.db.read() as conn:
        return list(conn.execute(select(smpp_outbox).order_by(smpp_outbox.c.id)))


def delivered(runtime: Runtime, login: Login, ids: list[str]) -> bool:
    return all(runtime.queries.get(login.account_id, i)["status"] == "delivered" for i in ids)


def test_a_receipt_reaches_the_transceiver_that_asked(
    connect: Any, login: Login, runtime: Runtime
) -> None:
    esme = connect()
    esme.bind(login)
    message_id = submit(esme, b"with receipt")
    receipt = esme.deliver_sm()
    assert is_receipt(receipt)
    assert receipt.esm_class == EsmClass.DELIVERY_RECEIPT
    match = RECEIPT_TEXT.match(receipt.short_message.decode("ascii"))
    assert match is not None, receipt.short_message
    assert match.group(1) == message_id
    assert receipt.receipted_message_id == message_id
    assert receipt.message_state == MessageState.DELIVERED
    assert (receipt.source_addr, receipt.source_addr_ton) == ("31612345678", 1)
    assert (receipt.destination_addr, receipt.dest_addr_ton) == ("Acme", 5)
    parsed = receipt_from_pdu(receipt)
    assert (parsed.message_id, parsed.stat) == (message_id, ReceiptStat.DELIVRD)
    wait_until(lambda: not outbox(runtime), message="the outbox emptied")
    with runtime.db.read() as conn:
        assert not list(conn.execute(select(smpp_receipt_requests)))


def test_no_receipt_unless_asked_and_failure_only_skips_deliveries(
    connect: Any, login: Login, runtime: Runtime
) -> None:
    esme = connect()
    esme.bind(login, BindTransmitter)
    ids = [submit(esme, b"none", 0), submit(esme, b"on failure only", 2)]
    wait_until(lambda: delivered(runtime, login, ids), message="delivered")
    assert outbox(runtime) == []
    with runtime.db.read() as conn:
        assert not list(conn.execute(select(smpp_receipt_requests)))


def test_receipts_wait_durably_and_arrive_in_order_after_a_restart(
    connect: Any, login: Login, runtime: Runtime, smpp: ServerThread
) -> None:
    transmitter = connect()
    transmitter.bind(login, BindTransmitter)
    ids = [submit(transmitter, f"message {n}".encode()) for n in range(5)]
    wait_until(lambda: delivered(runtime, login, ids), message="delivered")
    waiting = wait_until(lambda: len(outbox(runtime)) == 5 and outbox(runtime))
    assert sorted(row.message_id for row in waiting) == sorted(ids)
    transmitter.close()
    smpp.call(smpp.stop_server())  # nothing is held in memory: a new server finds them
    smpp.call(smpp.start_server())
    receiver = Esme(smpp.port)
    try:
        assert receiver.bind(login, BindReceiver).command_status == S.ESME_ROK
        got = [receiver.deliver_sm().receipted_message_id for _ in ids]
        assert got == [row.message_id for row in waiting]  # the order they were written
        wait_until(lambda: not outbox(runtime), message="the outbox emptied")
    finally:
        receiver.close()


def test_an_unanswered_deliver_sm_is_sent_again_on_the_next_bind(
    connect: Any, login: Login, runtime: Runtime
) -> None:
    first = connect()
    first.bind(login)
    message_id = submit(first, b"receipt lost on the way")
    unanswered = first.deliver_sm(answer=False)
    assert unanswered.receipted_message_id == message_id
    first.close()
    wait_until(lambda: outbox(runtime) and outbox(runtime)[0].lease_until is None)
    second = connect()
    second.bind(login, BindReceiver)
    assert second.deliver_sm().receipted_message_id == message_id
    wait_until(lambda: not outbox(runtime), message="the outbox emptied")


def test_inbound_messages_arrive_as_deliver_sm_long_ones_in_udh_parts(
    connect: Any, login: Login, runtime: Runtime, smpp: ServerThread
) -> None:
    runtime.numbers.add(login.account_id, "+14155550100")
    simulator: Any = runtime.connectors["sim"]
    long_text = "Ответ клиента: спасибо за сообщение! " * 6
    for sender, body in (("+31612345678", "STOP"), ("+31687654321", long_text)):
        smpp.loop.call_soon_threadsafe(simulator.inject_inbound, sender, "+14155550100", body)
    esme = connect()
    esme.bind(login, BindReceiver)
    short = esme.deliver_sm()
    assert not is_receipt(short)
    assert (short.source_addr, short.destination_addr) == ("31612345678", "14155550100")
    assert short.short_message == b"STOP"
    joiner = Reassembler(timeout=timedelta(minutes=1))
    whole = None
    while whole is None:
        part: DeliverSm = esme.deliver_sm()
        assert part.esm_class & EsmClass.UDHI
        whole = joiner.add(inbound_part(part), runtime.clock.now())
    assert whole.parts >= 3
    assert whole.text == long_text
    wait_until(lambda: not outbox(runtime), message="the outbox emptied")


def test_inbound_for_an_account_without_smpp_credentials_is_not_queued(
    runtime: Runtime, smpp: ServerThread
) -> None:
    account = runtime.accounts.create_account("HTTP only")["account_id"]
    runtime.numbers.add(account, "+14155550199")
    login = make_login(runtime)  # some other account uses SMPP
    runtime.numbers.add(login.account_id, "+14155550198")
    simulator: Any = runtime.connectors["sim"]
    smpp.loop.call_soon_threadsafe(simulator.inject_inbound, "+31612345678", "+14155550199", "a")
    smpp.loop.call_soon_threadsafe(simulator.inject_inbound, "+31612345678", "+14155550198", "b")
    wait_until(lambda: len(outbox(runtime)) == 1, message="one outbox entry")
    assert outbox(runtime)[0].account_id == login.account_id
    with runtime.db.read() as conn:
        assert smpp_store.outbox_depth(conn, account) == 0
