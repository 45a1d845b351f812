"""Interop with smpp34 (an independent SMPP 3.4 codec written in Rust), both directions.

smpp34's Python codec has typed classes for submit_sm and deliver_sm; every other PDU it
decodes as RawPdu (header + body octets), which still checks our framing and header. It
runs in a child process: see smpp34_worker.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.smpp.smpp34_process import Smpp34Codec, requires_smpp34
from tests.channels.smpp.strategies import ASCII_PRINTABLE, any_tlvs
from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import CommandStatus, MessageState
from tidings.channels.smpp.errors import PduError
from tidings.channels.smpp.fields import SPEC_KEY, CString, Integer, ShortMessage
from tidings.channels.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
)
from tidings.channels.smpp.receipt import DeliveryReceipt, ReceiptStat, format_receipt
from tidings.channels.smpp.tlv import Tlv

pytestmark = requires_smpp34

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def smpp34() -> Iterator[Smpp34Codec]:
    codec = Smpp34Codec()
    yield codec
    exit_code = codec.close()
    assert exit_code == 0, f"the smpp34 codec worker exited with {exit_code}"


def message_pdus(cls: type[SubmitSm] | type[DeliverSm]) -> st.SearchStrategy[Pdu]:
    """Any valid PDU with ASCII strings (smpp34 holds C-strings as Rust Strings)."""
    kwargs: dict[str, Any] = {"sequence_number": st.integers(1, 0x7FFFFFFF)}
    for field in dataclasses.fields(cls):
        spec = field.metadata.get(SPEC_KEY)
        if isinstance(spec, Integer):
            kwargs[field.name] = st.integers(0, 0xFF)
        elif isinstance(spec, CString):
            sizes = spec.sizes or range(spec.max_size)
            kwargs[field.name] = st.sampled_from(sorted(sizes)).flatmap(
                lambda n: st.text(ASCII_PRINTABLE, min_size=n, max_size=n)
            )
        elif isinstance(spec, ShortMessage):
            kwargs[field.name] = st.binary(max_size=spec.max_size)
    kwargs["tlvs"] = st.lists(any_tlvs(), max_size=6).map(tuple)
    return st.builds(cls, **kwargs)


def _fields(pdu: SubmitSm | DeliverSm) -> dict[str, Any]:
    fields: dict[str, Any] = {
        f.name: getattr(pdu, f.name) for f in dataclasses.fields(pdu) if SPEC_KEY in f.metadata
    }
    fields["short_message"] = pdu.short_message.hex()
    fields["tlvs"] = [[item.tag, item.value.hex()] for item in pdu.tlvs]
    return fields


def _expected_view(pdu: SubmitSm | DeliverSm) -> dict[str, Any]:
    expected = _fields(pdu)
    expected.update(
        command_id=int(pdu.command_id),
        sequence_number=pdu.sequence_number,
        sm_length=len(pdu.short_message),
    )
    return expected


@pytest.mark.parametrize("cls", [SubmitSm, DeliverSm], ids=["submit_sm", "deliver_sm"])
@SETTINGS
@given(data=st.data())
def test_our_bytes_read_by_smpp34(
    smpp34: Smpp34Codec, cls: type[SubmitSm] | type[DeliverSm], data: st.DataObject
) -> None:
    pdu = data.draw(message_pdus(cls))
    assert isinstance(pdu, SubmitSm | DeliverSm)
    answer = smpp34.decode(encode(pdu))
    assert answer.get("type") == cls.__name__, answer
    assert answer["fields"] == _expected_view(pdu)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [(SubmitSm, "submit_sm"), (DeliverSm, "deliver_sm")],
    ids=["submit_sm", "deliver_sm"],
)
@SETTINGS
@given(data=st.data())
def test_smpp34_bytes_read_by_us(
    smpp34: Smpp34Codec, cls: type[SubmitSm] | type[DeliverSm], kind: str, data: st.DataObject
) -> None:
    pdu = data.draw(message_pdus(cls))
    assert isinstance(pdu, SubmitSm | DeliverSm)
    fields = _fields(pdu)
    fields["sequence_number"] = pdu.sequence_number
    assert decode(smpp34.encode(kind, fields)) == pdu


def test_receipt_deliver_sm_both_ways(smpp34: Smpp34Codec) -> None:
    text = format_receipt(
        DeliveryReceipt(
            message_id="0A1B2C3D",
            stat=ReceiptStat.DELIVRD,
            submitted=1,
            delivered=1,
            error="000",
            text="Hello",
        )
    ).encode("ascii")
    receipt = DeliverSm(
        sequence_number=31,
        source_addr="31612345678",
        destination_addr="Acme",
        esm_class=0x04,
        short_message=text,
        tlvs=(tlv.receipted_message_id("0A1B2C3D"), tlv.message_state(MessageState.DELIVERED)),
    )
    answer = smpp34.decode(encode(receipt))
    assert answer["type"] == "DeliverSm"
    assert bytes.fromhex(answer["fields"]["short_message"]) == text
    assert answer["fields"]["tlvs"] == [[0x001E, b"0A1B2C3D\0".hex()], [0x0427, "02"]]
    fields = _fields(receipt)
    fields["sequence_number"] = 31
    assert decode(smpp34.encode("deliver_sm", fields)) == receipt


@pytest.mark.parametrize(
    "pdu",
    [
        EnquireLink(sequence_number=1),
        EnquireLinkResp(sequence_number=0x7FFFFFFF),
        GenericNack(sequence_number=9, command_status=CommandStatus.ESME_RINVCMDID),
        BindTransceiver(sequence_number=2, system_id="acme", password="secret", system_type="VMA"),
        BindTransceiverResp(sequence_number=2, system_id="Tidings"),
        SubmitSmResp(sequence_number=3, message_id="msg_01J"),
        SubmitSmResp(sequence_number=4, command_status=CommandStatus.ESME_RTHROTTLED),
    ],
    ids=lambda pdu: pdu.command_name,
)
def test_other_pdus_frame_identically_in_smpp34(smpp34: Smpp34Codec, pdu: Pdu) -> None:
    wire = encode(pdu)
    answer = smpp34.decode(wire)
    assert answer["type"] == "RawPdu", answer
    assert answer["fields"] == {
        "command_length": len(wire),
        "command_id": int(pdu.command_id),
        "command_status": getattr(pdu, "command_status", 0),
        "sequence_number": pdu.sequence_number,
        "body": wire[16:].hex(),
    }


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("0000000f000000150000000000000001"),  # command_length below 16
        bytes.fromhex("0000001100000015000000000000000100"),  # enquire_link with a body
        bytes.fromhex("00000011000000150000000000000001"),  # command_length past the data
        bytes.fromhex("000000100000001500000000"),  # header cut short
    ],
)
def test_both_codecs_reject_bad_lengths(smpp34: Smpp34Codec, data: bytes) -> None:
    # smpp34 1.5.0 names a length mismatch ESME_RINVMSGLEN where SMPP 3.4 §5.1.3 says
    # ESME_RINVCMDLEN, and reads PDUs it has no class for as RawPdu without checking the
    # body, so it passes an enquire_link that carries one; we refuse it.
    with pytest.raises(PduError) as caught:
        decode(data)
    assert caught.value.command_status == CommandStatus.ESME_RINVCMDLEN
    answer = smpp34.decode(data)
    assert "error" in answer or answer["fields"]["body"], answer


def test_vendor_tlv_survives_both_codecs(smpp34: Smpp34Codec) -> None:
    pdu = SubmitSm(sequence_number=5, tlvs=(Tlv(0x1403, b"\xaa\xbb"), Tlv(0x3FFF, b"")))
    answer = smpp34.decode(encode(pdu))
    assert answer["fields"]["tlvs"] == [[0x1403, "aabb"], [0x3FFF, ""]]
