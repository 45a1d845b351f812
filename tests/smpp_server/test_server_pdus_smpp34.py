"""Property tests with smpp34's codec (in a child process) for what the SMPP server sends
and receives: its deliver_sm (receipts, long inbound messages in UDH parts) read by smpp34,
and long submit_sm encoded by smpp34 (UDH-8, UDH-16, SAR) joined by the server's path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.smpp.smpp34_process import Smpp34Codec, requires_smpp34
from tidings.channels.smpp.concat import ConcatMethod, split_message
from tidings.channels.smpp.constants import EsmClass
from tidings.channels.smpp.pdu import DeliverSm, SubmitSm, decode, encode
from tidings.channels.smpp.reassembly import Reassembler, inbound_part
from tidings.channels.smpp.receipt import parse_receipt
from tidings.domain.encoding import GSM7_BASIC
from tidings.smpp_server.outbox import RECEIPT_STATES, _inbound, _receipt

pytestmark = requires_smpp34
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
texts = st.one_of(
    st.text(st.sampled_from(sorted(set(GSM7_BASIC) - {"\x1b"})), min_size=1, max_size=700),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFFFF, exclude_categories=("Cs",)),
        min_size=1,
        max_size=400,
    ),
)
numbers = st.integers(10**9, 10**12 - 1).map(lambda n: f"+{n}")


@pytest.fixture(scope="module")
def smpp34() -> Iterator[Smpp34Codec]:
    codec = Smpp34Codec()
    yield codec
    assert codec.close() == 0


def _view(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("type") == "DeliverSm", answer
    fields: dict[str, Any] = answer["fields"]
    return fields


@SETTINGS
@given(text=texts, sender=numbers, recipient=numbers, reference=st.integers(0, 255))
def test_inbound_deliver_sm_parts_read_by_smpp34_join_to_the_text(
    smpp34: Smpp34Codec, text: str, sender: str, recipient: str, reference: int
) -> None:
    joiner = Reassembler(timeout=timedelta(minutes=1))
    whole = None
    for sequence, fields in enumerate(_inbound(sender, recipient, text, reference), start=1):
        ours = DeliverSm(sequence_number=sequence, **fields)
        seen = _view(smpp34.decode(encode(ours)))
        assert seen["source_addr"] == sender[1:]
        assert seen["destination_addr"] == recipient[1:]
        assert (seen["esm_class"], seen["data_coding"]) == (ours.esm_class, ours.data_coding)
        message = bytes.fromhex(seen["short_message"])
        assert message == ours.short_message
        # Rebuild the PDU from what smpp34 saw, and join the parts as a handset would.
        rebuilt = DeliverSm(
            sequence_number=sequence,
            source_addr=seen["source_addr"],
            destination_addr=seen["destination_addr"],
            esm_class=seen["esm_class"],
            data_coding=seen["data_coding"],
            short_message=message,
        )
        whole = joiner.add(inbound_part(rebuilt), NOW)
    assert whole is not None
    assert whole.text == text


@SETTINGS
@given(status=st.sampled_from(sorted(RECEIPT_STATES)), handset=numbers)
def test_receipt_deliver_sm_read_by_smpp34(smpp34: Smpp34Codec, status: str, handset: str) -> None:
    message = SimpleNamespace(id="msg_01kjmma2g0erhbbdp6bfwkhw57", created_at=NOW)
    fields = _receipt(message, {"status": status, "at": "2026-03-01T12:05:00Z"}, "Acme", handset)
    seen = _view(smpp34.decode(encode(DeliverSm(sequence_number=5, **fields))))
    assert seen["esm_class"] == EsmClass.DELIVERY_RECEIPT
    tlvs = dict((tag, bytes.fromhex(value)) for tag, value in seen["tlvs"])
    assert tlvs[0x001E] == message.id.encode() + b"\0"
    assert tlvs[0x0427] == bytes((RECEIPT_STATES[status][1],))
    parsed = parse_receipt(bytes.fromhex(seen["short_message"]).decode("ascii"))
    assert parsed.message_id == message.id
    assert parsed.stat == RECEIPT_STATES[status][0]
    assert parsed.submit_date == datetime(2026, 3, 1, 12, 0)
    assert parsed.done_date == datetime(2026, 3, 1, 12, 5)


@SETTINGS
@given(
    text=texts,
    method=st.sampled_from([ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR]),
    reference=st.integers(0, 255),
    order=st.randoms(use_true_random=False),
)
def test_long_submits_encoded_by_smpp34_join_in_the_server(
    smpp34: Smpp34Codec, text: str, method: ConcatMethod, reference: int, order: Any
) -> None:
    parts = list(split_message(text, method, reference=reference))
    order.shuffle(parts)
    joiner = Reassembler(timeout=timedelta(minutes=1))
    whole = None
    for sequence, part in enumerate(parts, start=1):
        data = smpp34.encode(
            "submit_sm",
            {
                "sequence_number": sequence,
                "source_addr": "Acme",
                "destination_addr": "31612345678",
                "source_addr_ton": 5,
                "esm_class": part.esm_class,
                "data_coding": part.data_coding,
                "registered_delivery": 1,
                "short_message": part.short_message.hex(),
                "tlvs": [[item.tag, item.value.hex()] for item in part.tlvs],
            },
        )
        pdu = decode(data)
        assert isinstance(pdu, SubmitSm)
        whole = joiner.add(inbound_part(pdu), NOW) or whole
    assert whole is not None
    assert whole.text == text
