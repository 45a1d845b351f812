"""Delivery receipt text: real-world samples, tolerance, and build -> parse round trips."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import MessageState
from tidings.channels.smpp.pdu import DeliverSm, SubmitSm, decode, encode
from tidings.channels.smpp.receipt import (
    DeliveryReceipt,
    ReceiptParseError,
    ReceiptStat,
    format_receipt,
    is_receipt,
    parse_receipt,
    receipt_from_pdu,
)


def test_the_spec_example_layout() -> None:
    receipt = parse_receipt(
        "id:1234567890 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 "
        "stat:DELIVRD err:000 text:Hello World"
    )
    assert receipt == DeliveryReceipt(
        message_id="1234567890",
        stat=ReceiptStat.DELIVRD,
        submitted=1,
        delivered=1,
        submit_date=datetime(2006, 10, 19, 10, 18),
        done_date=datetime(2006, 10, 19, 10, 18),
        error="000",
        text="Hello World",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Kannel's fake SMSC / many aggregators: capital Text, uppercase hex id.
        (
            "id:0A3F21B7 sub:001 dlvrd:001 submit date:2403151230 done date:2403151231 "
            "stat:DELIVRD err:000 Text:Your code is 1234",
            DeliveryReceipt(
                "0A3F21B7",
                ReceiptStat.DELIVRD,
                1,
                1,
                datetime(2024, 3, 15, 12, 30),
                datetime(2024, 3, 15, 12, 31),
                "000",
                "Your code is 1234",
            ),
        ),
        # Dates with seconds, underscores, no text.
        (
            "id:c449ab9744f47b6af1879e49e75e4f40 sub:001 dlvrd:000 submit_date:240101120000 "
            "done_date:240101120501 stat:UNDELIV err:034",
            DeliveryReceipt(
                "c449ab9744f47b6af1879e49e75e4f40",
                ReceiptStat.UNDELIV,
                1,
                0,
                datetime(2024, 1, 1, 12, 0, 0),
                datetime(2024, 1, 1, 12, 5, 1),
                "034",
                None,
            ),
        ),
        # Upper-case keys, double spaces, long state name, odd field order.
        (
            "ID:77  STAT:DELIVERED   SUB:1 DLVRD:1  ERR:0  SUBMIT DATE:2501011200",
            DeliveryReceipt(
                "77", ReceiptStat.DELIVRD, 1, 1, datetime(2025, 1, 1, 12, 0), None, "0", None
            ),
        ),
        # Only id and stat, lower-case stat.
        ("id:abc stat:expired", DeliveryReceipt("abc", ReceiptStat.EXPIRED)),
        # A state no one defined is kept as sent.
        ("id:abc stat:FAILED err:069", DeliveryReceipt("abc", "FAILED", error="069")),
        # Text that looks like fields stays text.
        (
            "id:9 stat:ENROUTE text:id:1 stat:DELIVRD",
            DeliveryReceipt("9", ReceiptStat.ENROUTE, text="id:1 stat:DELIVRD"),
        ),
        # A broken date does not sink the receipt.
        (
            "id:9 submit date:9913451299 done date:abc stat:REJECTD",
            DeliveryReceipt("9", ReceiptStat.REJECTD),
        ),
    ],
)
def test_real_world_samples(text: str, expected: DeliveryReceipt) -> None:
    assert parse_receipt(text) == expected


@pytest.mark.parametrize("stat", list(ReceiptStat))
def test_every_state(stat: ReceiptStat) -> None:
    assert parse_receipt(f"id:1 stat:{stat.value}").stat is stat


@pytest.mark.parametrize("text", ["", "hello there", "sub:001 stat:DELIVRD", "id: stat:X"])
def test_not_a_receipt(text: str) -> None:
    with pytest.raises(ReceiptParseError):
        parse_receipt(text)


receipts = st.builds(
    DeliveryReceipt,
    message_id=st.text(st.sampled_from("0123456789abcdefABCDEF-_"), min_size=1, max_size=64),
    stat=st.none() | st.sampled_from(list(ReceiptStat)),
    submitted=st.none() | st.integers(0, 999),
    delivered=st.none() | st.integers(0, 999),
    submit_date=st.none()
    | st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    done_date=st.none()
    | st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    error=st.none() | st.text(st.sampled_from("0123456789"), min_size=3, max_size=3),
    text=st.none() | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
)


@given(receipts)
def test_format_then_parse_is_the_identity(receipt: DeliveryReceipt) -> None:
    text = receipt.text.lstrip() if receipt.text is not None else None
    assert parse_receipt(format_receipt(receipt)) == DeliveryReceipt(
        receipt.message_id,
        receipt.stat,
        receipt.submitted,
        receipt.delivered,
        receipt.submit_date,
        receipt.done_date,
        receipt.error,
        text,
    )


def test_format_matches_the_appendix_layout() -> None:
    receipt = DeliveryReceipt(
        message_id="msg_01J0",
        stat=ReceiptStat.DELIVRD,
        submitted=1,
        delivered=1,
        submit_date=datetime(2026, 1, 2, 3, 4),
        done_date=datetime(2026, 1, 2, 3, 5),
        error="000",
        text="A message longer than twenty characters",
    )
    assert format_receipt(receipt) == (
        "id:msg_01J0 sub:001 dlvrd:001 submit date:2601020304 done date:2601020305 "
        "stat:DELIVRD err:000 text:A message longer tha"
    )


def test_format_refuses_an_id_with_spaces() -> None:
    with pytest.raises(ValueError, match="spaces"):
        format_receipt(DeliveryReceipt("a b"))


def test_receipt_from_deliver_sm_prefers_the_tlvs() -> None:
    pdu = DeliverSm(
        sequence_number=1,
        esm_class=0x04,
        short_message=b"id:123 sub:001 dlvrd:001 submit_date:2401011200 stat:ENROUTE err:000",
        tlvs=(tlv.receipted_message_id("7B"), tlv.message_state(MessageState.DELIVERED)),
    )
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DeliverSm) and is_receipt(decoded)
    receipt = receipt_from_pdu(decoded)
    assert receipt.message_id == "7B"
    assert receipt.stat is ReceiptStat.DELIVRD
    assert receipt.submit_date == datetime(2024, 1, 1, 12, 0)


def test_receipt_from_tlvs_only() -> None:
    pdu = DeliverSm(
        sequence_number=1,
        esm_class=0x04,
        tlvs=(tlv.receipted_message_id("7B"), tlv.message_state(MessageState.UNDELIVERABLE)),
    )
    assert receipt_from_pdu(pdu) == DeliveryReceipt("7B", ReceiptStat.UNDELIV)
    with pytest.raises(ReceiptParseError):
        receipt_from_pdu(DeliverSm(sequence_number=1, esm_class=0x04, short_message=b"x"))


def test_receipt_text_reads_as_ascii_whatever_the_data_coding() -> None:
    pdu = DeliverSm(
        sequence_number=1,
        esm_class=0x04,
        data_coding=0,
        short_message=b"id:a_b stat:DELIVRD done_date:2401011200",
    )
    receipt = receipt_from_pdu(pdu)
    assert (receipt.message_id, receipt.done_date) == ("a_b", datetime(2024, 1, 1, 12))
    ucs2 = DeliverSm(
        sequence_number=1,
        esm_class=0x04,
        data_coding=8,
        short_message="id:x stat:EXPIRED".encode("utf-16-be"),
    )
    assert receipt_from_pdu(ucs2) == DeliveryReceipt("x", ReceiptStat.EXPIRED)


def test_is_receipt() -> None:
    assert is_receipt(DeliverSm(sequence_number=1, esm_class=0x04))
    assert is_receipt(DeliverSm(sequence_number=1, esm_class=0x44))
    assert not is_receipt(DeliverSm(sequence_number=1, esm_class=0x40))
    assert not is_receipt(SubmitSm(sequence_number=1))


def _by_the_pdu_readers(pdu: DeliverSm) -> DeliveryReceipt:
    """receipt_from_pdu as the PDU's typed TLV readers spell it out, for comparison."""
    body = pdu.message_payload if pdu.message_payload is not None else pdu.short_message
    tlv_id = pdu.receipted_message_id
    try:
        receipt = parse_receipt(body.decode("latin-1"))
    except ReceiptParseError:
        if not tlv_id:
            raise
        receipt = DeliveryReceipt(message_id=tlv_id)
    state = pdu.message_state
    stat = receipt.stat
    if isinstance(state, MessageState):
        stat = {
            MessageState.ENROUTE: ReceiptStat.ENROUTE,
            MessageState.DELIVERED: ReceiptStat.DELIVRD,
            MessageState.EXPIRED: ReceiptStat.EXPIRED,
            MessageState.DELETED: ReceiptStat.DELETED,
            MessageState.UNDELIVERABLE: ReceiptStat.UNDELIV,
            MessageState.ACCEPTED: ReceiptStat.ACCEPTD,
            MessageState.UNKNOWN: ReceiptStat.UNKNOWN,
            MessageState.REJECTED: ReceiptStat.REJECTD,
        }[state]
    return DeliveryReceipt(
        tlv_id or receipt.message_id,
        stat,
        receipt.submitted,
        receipt.delivered,
        receipt.submit_date,
        receipt.done_date,
        receipt.error,
        receipt.text,
    )


receipt_tlvs = st.lists(
    st.one_of(
        st.builds(tlv.receipted_message_id, st.text("0123456789abcdef", max_size=20)),
        st.builds(tlv.message_state, st.integers(0, 255)),
        st.builds(tlv.message_payload, st.sampled_from([b"", b"id:p1 stat:REJECTD", b"x"])),
        st.builds(tlv.user_message_reference, st.integers(0, 0xFFFF)),
    ),
    max_size=5,
)


@given(st.none() | receipts, st.sampled_from([b"", b"x", b"id: stat:DELIVRD"]), receipt_tlvs)
def test_receipt_from_pdu_reads_its_tlvs_as_the_pdu_does(
    receipt: DeliveryReceipt | None, other_text: bytes, tlvs: list[tlv.Tlv]
) -> None:
    text = format_receipt(receipt).encode() if receipt is not None else other_text
    pdu = DeliverSm(sequence_number=1, esm_class=0x04, short_message=text, tlvs=tuple(tlvs))
    try:
        expected = _by_the_pdu_readers(pdu)
    except ReceiptParseError:
        with pytest.raises(ReceiptParseError):
            receipt_from_pdu(pdu)
        return
    assert receipt_from_pdu(pdu) == expected
