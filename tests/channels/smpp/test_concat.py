"""Long messages: split in every form, carried through the codec, and joined again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.channels.smpp import tlv
from tidings.channels.smpp.concat import ConcatMethod, MessagePart, split_message
from tidings.channels.smpp.constants import EsmClass
from tidings.channels.smpp.pdu import DataSm, DeliverSm, SubmitSm, decode, encode
from tidings.channels.smpp.reassembly import InboundPart, Reassembler, inbound_part
from tidings.channels.smpp.udh import (
    ConcatInfo,
    InformationElement,
    UdhError,
    UserDataHeader,
    split_udh,
)
from tidings.domain.encoding import ESCAPE, GSM7_BASIC, GSM7_EXTENSION, encode_gsm7

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GSM_CHARS = st.sampled_from([c for c in GSM7_BASIC if c != "\x1b"] + list(GSM7_EXTENSION))
GSM_TEXT = st.text(GSM_CHARS, max_size=1400)
UNICODE_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from("😀👍🏽€ß"), max_size=700
)
CONCAT_METHODS = [ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR]

# Octets of user data per part (after any UDH) for each form, GSM-7 then UCS-2.
LIMITS = {
    ConcatMethod.UDH8: (153, 134),
    ConcatMethod.UDH16: (152, 132),
    ConcatMethod.SAR: (152, 132),
}


def carry(parts: tuple[MessagePart, ...], *, shuffle_seed: int = 0) -> list[InboundPart]:
    """Put each part in a deliver_sm, through encode/decode, and read it as an inbound part."""
    received = []
    for sequence, part in enumerate(parts, start=1):
        pdu = DeliverSm(
            sequence_number=sequence,
            source_addr="31612345678",
            destination_addr="4242",
            esm_class=part.esm_class,
            data_coding=part.data_coding,
            short_message=part.short_message,
            tlvs=part.tlvs,
        )
        decoded = decode(encode(pdu))
        assert isinstance(decoded, DeliverSm)
        received.append(inbound_part(decoded))
    random.Random(shuffle_seed).shuffle(received)
    return received


def join(parts: tuple[MessagePart, ...], shuffle_seed: int = 0) -> str:
    reassembler = Reassembler(timedelta(minutes=5))
    results = [reassembler.add(part, T0) for part in carry(parts, shuffle_seed=shuffle_seed)]
    assert all(result is None for result in results[:-1])
    final = results[-1]
    assert final is not None
    assert final.parts == len(parts)
    assert reassembler.pending == 0
    return final.text


def user_data(part: MessagePart) -> bytes:
    if part.esm_class & EsmClass.UDHI:
        return split_udh(part.short_message)[1]
    return part.short_message


@pytest.mark.parametrize("method", [*CONCAT_METHODS, ConcatMethod.PAYLOAD])
@settings(max_examples=150)
@given(text=GSM_TEXT, reference=st.integers(0, 255), seed=st.integers(0, 1000))
def test_gsm7_round_trip(method: ConcatMethod, text: str, reference: int, seed: int) -> None:
    parts = split_message(text, method, reference=reference)
    assert {part.data_coding for part in parts} == {0}
    assert join(parts, seed) == text
    assert "".join(part.text for part in parts) == text
    septets = len(encode_gsm7(text))
    if method is ConcatMethod.PAYLOAD:
        assert len(parts) == 1 and parts[0].tlvs[0].value == encode_gsm7(text)
    elif septets <= 160:
        assert len(parts) == 1 and parts[0].short_message == encode_gsm7(text)
    else:
        for part in parts:
            data = user_data(part)
            assert 0 < len(data) <= LIMITS[method][0]
            assert data[-1] != ESCAPE, "an escape sequence was cut"
            assert len(part.short_message) <= 254


@pytest.mark.parametrize("method", [*CONCAT_METHODS, ConcatMethod.PAYLOAD])
@settings(max_examples=150)
@given(text=UNICODE_TEXT, reference=st.integers(0, 255), seed=st.integers(0, 1000))
def test_ucs2_round_trip(method: ConcatMethod, text: str, reference: int, seed: int) -> None:
    parts = split_message(text, method, reference=reference, encoding="ucs2")
    assert join(parts, seed) == text
    if method is ConcatMethod.PAYLOAD or len(text.encode("utf-16-be")) <= 140:
        assert len(parts) == 1
        return
    for part in parts:
        data = user_data(part)
        assert 0 < len(data) <= LIMITS[method][1] and len(data) % 2 == 0
        data.decode("utf-16-be")  # strict: raises on a cut surrogate pair
        assert part.data_coding == 8


def test_gsm7_extension_char_at_the_boundary_moves_to_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 20  # the escape would be septet 153 of part 1
    parts = split_message(text, ConcatMethod.UDH8, reference=7)
    assert [len(user_data(p)) for p in parts] == [152, 22]
    assert parts[0].text == "a" * 152
    assert parts[1].text == "€" + "b" * 20
    assert join(parts) == text


def test_gsm7_extension_char_just_fitting() -> None:
    text = "a" * 151 + "€" + "b" * 20  # ESC + code are septets 152 and 153
    parts = split_message(text, ConcatMethod.UDH8, reference=7)
    assert [len(user_data(p)) for p in parts] == [153, 20]


def test_gsm7_single_part_limit_counts_extension_chars_twice() -> None:
    assert len(split_message("a" * 158 + "{", ConcatMethod.UDH8, reference=0)) == 1
    assert len(split_message("a" * 159 + "{", ConcatMethod.UDH8, reference=0)) == 2


def test_ucs2_emoji_at_the_boundary_is_not_cut() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10  # the pair would be units 67 and 68
    parts = split_message(text, ConcatMethod.UDH8, reference=1)
    assert [len(user_data(p)) for p in parts] == [132, 24]
    assert parts[1].text.startswith("😀")
    assert join(parts) == text
    sixteen = split_message("ж" * 65 + "😀" + "ж" * 10, ConcatMethod.UDH16, reference=300)
    assert [len(user_data(p)) for p in sixteen] == [130, 24]


def test_ucs2_limits() -> None:
    assert len(split_message("ж" * 70, ConcatMethod.UDH8, reference=0)) == 1
    parts = split_message("ж" * 71, ConcatMethod.UDH8, reference=0)
    assert [len(user_data(p)) for p in parts] == [134, 8]


def test_udh8_header_layout() -> None:
    parts = split_message("x" * 200, ConcatMethod.UDH8, reference=0xAB)
    assert parts[0].short_message[:6] == bytes([0x05, 0x00, 0x03, 0xAB, 0x02, 0x01])
    assert parts[1].short_message[:6] == bytes([0x05, 0x00, 0x03, 0xAB, 0x02, 0x02])
    assert all(part.esm_class == 0x40 and part.tlvs == () for part in parts)


def test_udh16_header_layout() -> None:
    parts = split_message("x" * 200, ConcatMethod.UDH16, reference=0x1234)
    assert parts[0].short_message[:7] == bytes([0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01])


def test_sar_parts_carry_tlvs_and_no_udh() -> None:
    parts = split_message("x" * 200, ConcatMethod.SAR, reference=0x1234)
    assert parts[1].tlvs == (
        tlv.sar_msg_ref_num(0x1234),
        tlv.sar_total_segments(2),
        tlv.sar_segment_seqnum(2),
    )
    assert parts[1].esm_class == 0
    assert parts[0].short_message == b"x" * 152


def test_payload_goes_in_one_data_sm() -> None:
    (part,) = split_message("héllo wörld " * 100, ConcatMethod.PAYLOAD, reference=0)
    pdu = DataSm(sequence_number=1, data_coding=part.data_coding, tlvs=part.tlvs)
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DataSm)
    message = Reassembler(timedelta(seconds=1)).add(inbound_part(decoded), T0)
    assert message is not None and message.text == "héllo wörld " * 100


@pytest.mark.parametrize(
    ("text", "method", "reference", "error"),
    [
        ("x" * 200, ConcatMethod.UDH8, 256, "8 bits"),
        ("x" * 200, ConcatMethod.SAR, 70000, "16 bits"),
        ("x" * 153 * 256, ConcatMethod.UDH8, 1, "255"),
        ("x" * 70000, ConcatMethod.PAYLOAD, 0, "65535"),
    ],
)
def test_split_refuses(text: str, method: ConcatMethod, reference: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        split_message(text, method, reference=reference)


def test_forcing_gsm7_on_unicode_text_fails() -> None:
    with pytest.raises(ValueError, match="GSM"):
        split_message("😀", ConcatMethod.UDH8, reference=0, encoding="gsm7")


# -- UDH parsing ------------------------------------------------------------------------


def test_split_udh_keeps_other_elements() -> None:
    header = UserDataHeader(
        (InformationElement(0x05, b"\x0b\x84\x23\xf0"), InformationElement(0x00, b"\x09\x03\x02"))
    )
    parsed, rest = split_udh(header.encode() + b"body")
    assert parsed == header
    assert parsed.concat == ConcatInfo(9, 3, 2)
    assert rest == b"body"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x05\x00\x03\x01",  # header longer than the data
        b"\x01\x00",  # element header cut short
        b"\x03\x00\x05\x01",  # element overruns the header
        b"\x04\x00\x02\x01\x02",  # 8-bit concat with 2 octets
        b"\x05\x00\x03\x01\x02\x03",  # part 3 of 2
        b"\x05\x00\x03\x01\x00\x00",  # part 0 of 0
        b"\x06\x08\x04\x00\x01\x02\x00",  # 16-bit, part 0
    ],
)
def test_malformed_udh(data: bytes) -> None:
    with pytest.raises(UdhError):
        split_udh(data)


def test_inbound_part_refuses_partial_sar() -> None:
    pdu = DeliverSm(sequence_number=1, tlvs=(tlv.sar_msg_ref_num(1),))
    with pytest.raises(UdhError, match="all three"):
        inbound_part(pdu)
    bad = DeliverSm(
        sequence_number=1,
        tlvs=(tlv.sar_msg_ref_num(1), tlv.sar_total_segments(2), tlv.sar_segment_seqnum(3)),
    )
    with pytest.raises(UdhError, match="part 3 of 2"):
        inbound_part(bad)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_udh_parser_on_garbage_raises_only_udh_error(data: bytes) -> None:
    try:
        header, rest = split_udh(data)
    except UdhError:
        return
    assert header.encode() + rest == data


# -- the reassembler --------------------------------------------------------------------


def part(seq: int, total: int = 3, ref: int = 1, payload: bytes = b"", dc: int = 0) -> InboundPart:
    return InboundPart("a", "b", dc, payload or bytes([0x30 + seq]), ConcatInfo(ref, total, seq))


def test_single_part_messages_come_straight_back() -> None:
    reassembler = Reassembler(timedelta(seconds=10))
    message = reassembler.add(InboundPart("a", "b", 0, b"hi"), T0)
    assert message is not None and message.text == "hi" and reassembler.pending == 0


def test_duplicates_are_ignored_and_sets_are_keyed_by_addresses_and_reference() -> None:
    reassembler = Reassembler(timedelta(seconds=10))
    assert reassembler.add(part(2), T0) is None
    assert reassembler.add(part(2, payload=b"X"), T0) is None
    assert reassembler.add(part(1, ref=2), T0) is None
    assert reassembler.add(InboundPart("c", "b", 0, b"1", ConcatInfo(1, 3, 1)), T0) is None
    assert reassembler.add(part(3), T0) is None
    message = reassembler.add(part(1), T0)
    assert message is not None and message.text == "123"
    assert reassembler.pending == 2


def test_incomplete_sets_expire_after_the_timeout() -> None:
    reassembler = Reassembler(timedelta(seconds=60))
    reassembler.add(part(1), T0)
    reassembler.add(part(3), T0 + timedelta(seconds=30))
    assert reassembler.expire(T0 + timedelta(seconds=59)) == []
    (expired,) = reassembler.expire(T0 + timedelta(seconds=60))
    assert (expired.reference, expired.total, expired.started) == (1, 3, T0)
    assert expired.parts == ((1, b"1"), (3, b"3"))
    assert reassembler.pending == 0
    assert reassembler.add(part(2), T0 + timedelta(seconds=61)) is None


def test_a_late_part_starts_a_new_set_and_the_old_one_is_reported() -> None:
    reassembler = Reassembler(timedelta(seconds=60))
    reassembler.add(part(1, total=2), T0)
    assert reassembler.add(part(2, total=2), T0 + timedelta(minutes=2)) is None
    (expired,) = reassembler.expire(T0 + timedelta(minutes=2))
    assert expired.parts == ((1, b"1"),)
    assert reassembler.pending == 1


def test_a_reused_reference_with_another_total_replaces_the_set() -> None:
    reassembler = Reassembler(timedelta(seconds=60))
    reassembler.add(part(1, total=3), T0)
    assert reassembler.add(part(1, total=2), T0) is None
    message = reassembler.add(part(2, total=2), T0)
    assert message is not None and message.payload == b"12"
    assert [e.total for e in reassembler.expire(T0)] == [3]


def test_pending_sets_are_bounded() -> None:
    reassembler = Reassembler(timedelta(hours=1), max_pending=100)
    for reference in range(1000):
        reassembler.add(part(1, ref=reference), T0)
    assert reassembler.pending == 100
    given_up = reassembler.expire(T0)
    assert len(given_up) == 100
    assert given_up[-1].reference == 899


def test_binary_data_coding_has_no_text() -> None:
    message = Reassembler(timedelta(seconds=1)).add(InboundPart("a", "b", 4, b"\x00"), T0)
    assert message is not None
    with pytest.raises(ValueError, match="not a text coding"):
        _ = message.text


@pytest.mark.parametrize(
    ("kwargs", "error"), [({"timeout": timedelta(0)}, "positive"), ({"max_pending": 0}, "1")]
)
def test_reassembler_arguments(kwargs: dict[str, object], error: str) -> None:
    arguments: dict[str, object] = {"timeout": timedelta(seconds=1), **kwargs}
    with pytest.raises(ValueError, match=error):
        Reassembler(**arguments)  # type: ignore[arg-type]


# -- interop: smpplib's splitter --------------------------------------------------------


@settings(max_examples=150)
@given(
    text=st.one_of(
        st.text(GSM_CHARS, min_size=1, max_size=1000),
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=400),
    ).filter(lambda text: not {"§", "`", "\x1b"} & set(text))
    # smpplib's GSM table has "`" at 0x5F, where TS 23.038 has "§", and cannot encode "§";
    # ESC (0x1B) is GSM-7's escape to the extension table, never a character of its own.
)
def test_smpplib_udh_parts_join_with_us(text: str) -> None:
    """smpplib cuts at fixed sizes, escapes and surrogate pairs included; joining the raw
    octets before decoding still gives the text back."""
    gsm = pytest.importorskip("smpplib.gsm")
    parts, data_coding, esm_class = gsm.make_parts(text)
    reassembler = Reassembler(timedelta(minutes=1))
    results = []
    for short_message in parts:
        pdu = SubmitSm(
            sequence_number=1,
            esm_class=esm_class,
            data_coding=data_coding,
            short_message=short_message,
        )
        results.append(reassembler.add(inbound_part(pdu), T0))
    final = results[-1]
    assert final is not None and final.text == text
