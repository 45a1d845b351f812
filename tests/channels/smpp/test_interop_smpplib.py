"""Interop with smpplib (an independent, pure-Python SMPP 3.4 implementation).

Both directions, for every PDU type smpplib knows: our bytes parsed by smpplib give the
same fields, and smpplib's bytes for the same fields decode with us to the same PDU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.channels.smpp.strategies import ASCII_PRINTABLE, U32
from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import TlvTag
from tidings.channels.smpp.fields import SPEC_KEY, CString, Integer, ShortMessage
from tidings.channels.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    QuerySm,
    Response,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    decode,
    encode,
)
from tidings.channels.smpp.tlv import Tlv

smpp = pytest.importorskip("smpplib.smpp")


class _SequenceSource:
    """smpplib asks its client for sequence numbers; the tests set them by hand."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


# Our tag -> (smpplib's name, how smpplib holds the value).
_TLV_NAMES: dict[int, tuple[str, str]] = {
    TlvTag.USER_MESSAGE_REFERENCE: ("user_message_reference", "u16"),
    TlvTag.SAR_MSG_REF_NUM: ("sar_msg_ref_num", "u16"),
    TlvTag.SAR_TOTAL_SEGMENTS: ("sar_total_segments", "u8"),
    TlvTag.SAR_SEGMENT_SEQNUM: ("sar_segment_seqnum", "u8"),
    TlvTag.SOURCE_PORT: ("source_port", "u16"),
    TlvTag.DESTINATION_PORT: ("destination_port", "u16"),
    TlvTag.MESSAGE_PAYLOAD: ("message_payload", "bytes"),
    TlvTag.RECEIPTED_MESSAGE_ID: ("receipted_message_id", "cstr"),
    TlvTag.MESSAGE_STATE: ("message_state", "u8"),
    TlvTag.NETWORK_ERROR_CODE: ("network_error_code", "bytes"),
}
_MESSAGE_TLVS = (
    TlvTag.USER_MESSAGE_REFERENCE,
    TlvTag.SAR_MSG_REF_NUM,
    TlvTag.SAR_TOTAL_SEGMENTS,
    TlvTag.SAR_SEGMENT_SEQNUM,
    TlvTag.SOURCE_PORT,
    TlvTag.DESTINATION_PORT,
    TlvTag.MESSAGE_PAYLOAD,
)
_RECEIPT_TLVS = (TlvTag.RECEIPTED_MESSAGE_ID, TlvTag.MESSAGE_STATE, TlvTag.NETWORK_ERROR_CODE)

# Our class -> (smpplib's command name, the TLV tags smpplib reads for it).
CASES: dict[type[Pdu], tuple[str, tuple[int, ...]]] = {
    BindTransmitter: ("bind_transmitter", ()),
    BindReceiver: ("bind_receiver", ()),
    BindTransceiver: ("bind_transceiver", ()),
    BindTransmitterResp: ("bind_transmitter_resp", ()),
    BindReceiverResp: ("bind_receiver_resp", ()),
    BindTransceiverResp: ("bind_transceiver_resp", ()),
    Unbind: ("unbind", ()),
    UnbindResp: ("unbind_resp", ()),
    EnquireLink: ("enquire_link", ()),
    EnquireLinkResp: ("enquire_link_resp", ()),
    GenericNack: ("generic_nack", ()),
    SubmitSm: ("submit_sm", _MESSAGE_TLVS),
    SubmitSmResp: ("submit_sm_resp", ()),
    DeliverSm: ("deliver_sm", _MESSAGE_TLVS + _RECEIPT_TLVS),
    DeliverSmResp: ("deliver_sm_resp", ()),
    DataSm: ("data_sm", _MESSAGE_TLVS + _RECEIPT_TLVS),
    DataSmResp: ("data_sm_resp", ()),
    QuerySm: ("query_sm", ()),
    AlertNotification: ("alert_notification", ()),
}


# smpplib sizes these C-strings as 21 octets where SMPP 3.4 says 65 (§4.7.1, §4.12.1);
# it truncates longer values, so the shared tests stay within its limit.
_SMPPLIB_SIZES: dict[tuple[type[Pdu], str], int] = {
    (DataSm, "source_addr"): 21,
    (DataSm, "destination_addr"): 21,
    (AlertNotification, "source_addr"): 21,
    (AlertNotification, "esme_addr"): 21,
}


def _tlv_value(tag: int) -> st.SearchStrategy[Tlv]:
    kind = _TLV_NAMES[tag][1]
    if kind == "u8":
        return st.integers(0, 0xFF).map(lambda v: Tlv(tag, v.to_bytes(1, "big")))
    if kind == "u16":
        return st.integers(0, 0xFFFF).map(lambda v: Tlv(tag, v.to_bytes(2, "big")))
    if kind == "cstr":
        return st.text(ASCII_PRINTABLE, min_size=1, max_size=64).map(tlv.receipted_message_id)
    if tag == TlvTag.NETWORK_ERROR_CODE:
        return st.binary(min_size=3, max_size=3).map(lambda v: Tlv(tag, v))
    return st.binary(min_size=1, max_size=300).map(lambda v: Tlv(tag, v))


def interop_pdus(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    """PDUs within what smpplib can express: ASCII strings, one TLV per tag (by tag)."""
    name, tags = CASES[cls]
    kwargs: dict[str, Any] = {"sequence_number": st.integers(1, 0x7FFFFFFF)}
    if issubclass(cls, Response):
        kwargs["command_status"] = U32
    for field in dataclasses.fields(cls):
        spec = field.metadata.get(SPEC_KEY)
        if isinstance(spec, Integer):
            kwargs[field.name] = st.integers(0, 0xFF)
        elif isinstance(spec, CString):
            sizes = spec.sizes or range(_SMPPLIB_SIZES.get((cls, field.name), spec.max_size))
            kwargs[field.name] = st.sampled_from(sorted(sizes)).flatmap(
                lambda n: st.text(ASCII_PRINTABLE, min_size=n, max_size=n)
            )
        elif isinstance(spec, ShortMessage):
            kwargs[field.name] = st.binary(max_size=spec.max_size)
    if name.startswith("bind_") and not name.endswith("_resp"):
        kwargs["interface_version"] = st.just(0x34)  # smpplib always writes 3.4
    if tags:
        kwargs["tlvs"] = st.lists(st.sampled_from(tags), unique=True, max_size=len(tags)).flatmap(
            lambda chosen: st.tuples(*(_tlv_value(tag) for tag in sorted(chosen)))
        )
    return st.builds(cls, **kwargs).filter(_smpplib_accepts)


def _smpplib_accepts(pdu: Pdu) -> bool:
    """smpplib refuses short_message with message_payload, and query_sm without an id."""
    if isinstance(pdu, SubmitSm | DeliverSm):
        return not (pdu.short_message and pdu.message_payload)
    if isinstance(pdu, QuerySm):
        return bool(pdu.message_id)
    return True


def _to_smpplib(pdu: Pdu) -> Any:
    name, _ = CASES[type(pdu)]
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(pdu):
        if SPEC_KEY not in field.metadata or field.name == "tlvs":
            continue
        kwargs[field.name] = getattr(pdu, field.name)
    for item in getattr(pdu, "tlvs", ()):
        tlv_name, kind = _TLV_NAMES[item.tag]
        if kind in ("u8", "u16"):
            kwargs[tlv_name] = int.from_bytes(item.value, "big")
        elif kind == "cstr":
            kwargs[tlv_name] = item.value[:-1].decode("ascii")
        else:
            kwargs[tlv_name] = item.value
    if isinstance(pdu, Response):
        kwargs["status"] = pdu.command_status
    reference = smpp.make_pdu(name, client=_SequenceSource(), **kwargs)
    reference.sequence = pdu.sequence_number
    return reference


def _fields_seen_by_smpplib(reference: Any, like: Pdu) -> dict[str, Any]:
    """smpplib's parse result in our field names and types (it gives bytes and Nones)."""
    seen: dict[str, Any] = {"sequence_number": reference.sequence}
    if isinstance(like, Response):
        seen["command_status"] = reference.status
    for field in dataclasses.fields(like):
        spec = field.metadata.get(SPEC_KEY)
        if spec is None or field.name == "tlvs":
            continue
        value = getattr(reference, field.name, None)
        if isinstance(spec, CString):
            seen[field.name] = (value or b"").decode("ascii")
        elif isinstance(spec, ShortMessage):
            seen[field.name] = value or b""
        else:
            seen[field.name] = value or 0
    tlvs: list[Tlv] = []
    for tag, (tlv_name, kind) in sorted(_TLV_NAMES.items()):
        value = getattr(reference, tlv_name, None)
        if value is None or tag not in CASES[type(like)][1]:
            continue
        if kind in ("u8", "u16"):
            tlvs.append(Tlv(tag, value.to_bytes(1 if kind == "u8" else 2, "big")))
        elif kind == "cstr":
            tlvs.append(Tlv(tag, value + b"\0"))
        else:
            tlvs.append(Tlv(tag, value))
    if CASES[type(like)][1]:
        seen["tlvs"] = tuple(tlvs)
    return seen


def _our_fields(pdu: Pdu) -> dict[str, Any]:
    fields = {f.name: getattr(pdu, f.name) for f in dataclasses.fields(pdu)}
    if "tlvs" in fields and not CASES[type(pdu)][1]:
        del fields["tlvs"]
    return fields


@pytest.mark.parametrize("cls", list(CASES), ids=lambda cls: CASES[cls][0])
@settings(max_examples=60)
@given(data=st.data())
def test_our_bytes_read_by_smpplib(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(interop_pdus(cls))
    reference = smpp.parse_pdu(encode(pdu), client=_SequenceSource())
    assert reference.command == CASES[cls][0]
    assert _fields_seen_by_smpplib(reference, pdu) == _our_fields(pdu)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda cls: CASES[cls][0])
@settings(max_examples=60)
@given(data=st.data())
def test_smpplib_bytes_read_by_us(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(interop_pdus(cls))
    # TLVs are unordered (SMPP 3.4 §5.3) and smpplib writes them in its own order.
    assert _tlvs_by_tag(decode(_to_smpplib(pdu).generate())) == _tlvs_by_tag(pdu)


def _tlvs_by_tag(pdu: Pdu) -> Pdu:
    if not hasattr(pdu, "tlvs"):
        return pdu
    return dataclasses.replace(pdu, tlvs=tuple(sorted(pdu.tlvs, key=lambda item: item.tag)))  # type: ignore[call-arg]


def test_smpplib_receipt_with_tlvs_reads_as_a_receipt() -> None:
    reference = smpp.make_pdu(
        "deliver_sm",
        client=_SequenceSource(),
        source_addr="31612345678",
        destination_addr="Acme",
        esm_class=0x04,
        short_message=b"id:0A1B2C sub:001 dlvrd:001 submit date:2601011200 "
        b"done date:2601011201 stat:DELIVRD err:000 text:Hello",
        receipted_message_id="0A1B2C",
        message_state=2,
        network_error_code=b"\x03\x00\x00",
    )
    reference.sequence = 99
    pdu = decode(reference.generate())
    assert isinstance(pdu, DeliverSm)
    assert pdu.receipted_message_id == "0A1B2C"
    assert pdu.message_state == 2
    assert pdu.network_error_code == (3, 0)
    assert pdu.sequence_number == 99
