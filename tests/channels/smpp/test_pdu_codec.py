"""encode -> decode is the identity for every PDU type; construction rejects bad values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.channels.smpp.strategies import pdus
from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import CommandId, CommandStatus, MessageState, TlvTag
from tidings.channels.smpp.pdu import (
    PDU_CLASSES,
    BindTransceiver,
    BindTransceiverResp,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    Outbind,
    Pdu,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
    response_class,
)
from tidings.channels.smpp.tlv import NetworkErrorCode, Tlv

ALL_PDUS = st.one_of(*(pdus(cls) for cls in PDU_CLASSES))


@pytest.mark.parametrize("cls", PDU_CLASSES, ids=lambda cls: cls.command_id.name.lower())
@settings(max_examples=150)
@given(data=st.data())
def test_round_trip_every_pdu_type(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdus(cls))
    wire = encode(pdu)
    assert int.from_bytes(wire[:4], "big") == len(wire)
    assert int.from_bytes(wire[4:8], "big") == cls.command_id
    decoded = decode(wire)
    assert decoded == pdu
    assert type(decoded) is cls
    assert encode(decoded) == wire


def test_every_command_of_the_brief_is_covered() -> None:
    wanted = {
        "bind_transmitter", "bind_transmitter_resp", "bind_receiver", "bind_receiver_resp",
        "bind_transceiver", "bind_transceiver_resp", "unbind", "unbind_resp",
        "enquire_link", "enquire_link_resp", "generic_nack", "submit_sm", "submit_sm_resp",
        "deliver_sm", "deliver_sm_resp", "data_sm", "data_sm_resp", "query_sm",
        "query_sm_resp", "cancel_sm", "cancel_sm_resp", "outbind", "alert_notification",
    }  # fmt: skip
    assert wanted <= {cls.command_id.name.lower() for cls in PDU_CLASSES}


def test_known_bytes_enquire_link_and_generic_nack() -> None:
    assert encode(EnquireLink(sequence_number=12)) == bytes.fromhex(
        "00000010 00000015 00000000 0000000c"
    )
    nack = GenericNack(sequence_number=7, command_status=CommandStatus.ESME_RINVCMDID)
    assert encode(nack) == bytes.fromhex("00000010 80000000 00000003 00000007")


def test_known_bytes_submit_sm_with_tlvs() -> None:
    # The same PDU as encoded by smpp34 1.5.0 (SubmitSm(...).encode()).
    pdu = SubmitSm(
        sequence_number=7,
        source_addr="12345",
        destination_addr="31600000000",
        data_coding=8,
        short_message=b"hello",
        tlvs=(tlv.user_message_reference(42), Tlv(0x1403, b"\xaa")),
    )
    assert encode(pdu).hex() == (
        "0000004100000004000000000000000700000031323334350000003331363030303030303030"
        "000000000000000008000568656c6c6f02040002002a14030001aa"
    )


def test_bind_defaults_to_interface_version_34() -> None:
    bind = BindTransceiver(sequence_number=1, system_id="acme", password="secret")
    assert bind.interface_version == 0x34
    assert encode(bind)[-4:] == b"\x34\x00\x00\x00"


def test_error_response_omits_the_body_and_reads_back_as_defaults() -> None:
    resp = SubmitSmResp(sequence_number=3, command_status=CommandStatus.ESME_RTHROTTLED)
    assert len(encode(resp)) == 16
    assert decode(encode(resp)) == resp
    with_id = SubmitSmResp(sequence_number=3, command_status=0x58, message_id="x")
    assert len(encode(with_id)) == 18


def test_empty_deliver_sm_resp_from_a_sloppy_esme_is_accepted() -> None:
    assert decode(bytes.fromhex("00000010 80000005 00000000 00000009")) == DeliverSmResp(
        sequence_number=9
    )


def test_typed_tlv_accessors() -> None:
    pdu = DeliverSm(
        sequence_number=1,
        esm_class=0x04,
        tlvs=(
            tlv.receipted_message_id("abc123"),
            tlv.message_state(MessageState.DELIVERED),
            tlv.network_error_code(3, 0x0101),
            tlv.sar_msg_ref_num(513),
            tlv.sar_total_segments(3),
            tlv.sar_segment_seqnum(2),
            tlv.user_message_reference(7),
            tlv.message_payload(b"long body"),
            Tlv(0x1500, b"vendor"),
        ),
    )
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DeliverSm)
    assert decoded.receipted_message_id == "abc123"
    assert decoded.message_state is MessageState.DELIVERED
    assert decoded.network_error_code == NetworkErrorCode(3, 0x0101)
    assert (decoded.sar_msg_ref_num, decoded.sar_total_segments) == (513, 3)
    assert decoded.sar_segment_seqnum == 2
    assert decoded.user_message_reference == 7
    assert decoded.message_payload == b"long body"
    assert decoded.tlv(0x1500) == b"vendor"
    assert decoded.tlvs[-1] == Tlv(0x1500, b"vendor")


def test_receipted_message_id_without_nul_is_tolerated() -> None:
    pdu = DeliverSm(sequence_number=1, tlvs=(Tlv(TlvTag.RECEIPTED_MESSAGE_ID, b"abc"),))
    assert pdu.receipted_message_id == "abc"
    assert DeliverSm(sequence_number=1).message_state is None
    odd_state = DeliverSm(sequence_number=1, tlvs=(Tlv(TlvTag.MESSAGE_STATE, b"\x09"),))
    assert odd_state.message_state == 9


def test_bind_resp_carries_sc_interface_version() -> None:
    resp = BindTransceiverResp(
        sequence_number=1, system_id="Tidings", tlvs=(Tlv(TlvTag.SC_INTERFACE_VERSION, b"\x34"),)
    )
    assert decode(encode(resp)) == resp
    assert resp.sc_interface_version == 0x34


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BindTransceiver(sequence_number=1, system_id="x" * 16), "system_id"),
        (lambda: BindTransceiver(sequence_number=1, password="x" * 9), "password"),
        (lambda: SubmitSm(sequence_number=1, source_addr="1" * 21), "source_addr"),
        (lambda: DataSm(sequence_number=1, source_addr="1" * 65), "source_addr"),
        (lambda: SubmitSm(sequence_number=1, short_message=b"x" * 255), "short_message"),
        (lambda: SubmitSm(sequence_number=1, validity_period="000001000000000"), "validity"),
        (lambda: SubmitSm(sequence_number=1, esm_class=256), "esm_class"),
        (lambda: SubmitSm(sequence_number=1, service_type="a\0b"), "NUL"),
        (lambda: SubmitSm(sequence_number=1, source_addr="€"), "Latin-1"),
        (lambda: SubmitSm(sequence_number=-1), "sequence_number"),
        (lambda: GenericNack(sequence_number=1, command_status=1 << 32), "command_status"),
        (lambda: QuerySmResp(sequence_number=1, final_date="1"), "final_date"),
        (lambda: Outbind(sequence_number=1, system_id=3), "str"),  # type: ignore[arg-type]
        (lambda: Tlv(TlvTag.SAR_TOTAL_SEGMENTS, b"\x00\x01"), "sar_total_segments"),
        (lambda: Tlv(0x1_0000, b""), "16 bits"),
        (lambda: Tlv(0x1400, b"x" * 0x10000), "65535"),
        (lambda: SubmitSm(sequence_number=1, tlvs=[Tlv(1, b"")]), "tuple"),  # type: ignore[arg-type]
    ],
)
def test_construction_rejects_values_that_cannot_go_on_the_wire(
    build: object, message: str
) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


def test_response_class() -> None:
    assert response_class(SubmitSm) is SubmitSmResp
    assert response_class(EnquireLink).command_id == CommandId.ENQUIRE_LINK_RESP
    with pytest.raises(ValueError, match="outbind"):
        response_class(Outbind)
