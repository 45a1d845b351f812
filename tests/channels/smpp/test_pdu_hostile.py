"""Whatever a peer sends, decode and PduReader answer with a PDU or a PduError, nothing else."""

from __future__ import annotations

import contextlib
import struct
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.channels.smpp.strategies import pdus
from tidings.channels.smpp import pdu as pdu_module
from tidings.channels.smpp.constants import CommandId, CommandStatus
from tidings.channels.smpp.errors import PduError, UnknownCommandError
from tidings.channels.smpp.framing import PduReader
from tidings.channels.smpp.pdu import (
    PDU_CLASSES,
    BindTransceiver,
    BindTransceiverResp,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    decode,
    encode,
    error_response,
)

S = CommandStatus
ALL_PDUS = st.one_of(*(pdus(cls) for cls in PDU_CLASSES))


def frame(command_id: int, body: bytes, sequence: int = 42, status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def decode_error(data: bytes) -> PduError:
    with pytest.raises(PduError) as caught:
        decode(data)
    return caught.value


SUBMIT_HEAD = b"\0" + b"\1\1" + b"123\0" + b"\1\1" + b"456\0" + b"\0\0\0" + b"\0" + b"\0"
SUBMIT_TAIL = b"\0\0\0\0"  # registered_delivery, replace_if_present, data_coding, default id


def submit_body(short_message: bytes = b"hi", tlvs: bytes = b"") -> bytes:
    return SUBMIT_HEAD + SUBMIT_TAIL + bytes((len(short_message),)) + short_message + tlvs


def test_the_hand_built_submit_body_is_valid() -> None:
    pdu = decode(frame(CommandId.SUBMIT_SM, submit_body()))
    assert isinstance(pdu, SubmitSm)
    assert (pdu.source_addr, pdu.destination_addr, pdu.short_message) == ("123", "456", b"hi")


@pytest.mark.parametrize(
    ("data", "status", "fatal"),
    [
        (b"", S.ESME_RINVCMDLEN, True),
        (b"\0\0\0\x10\0\0\0\x15", S.ESME_RINVCMDLEN, True),
        (frame(CommandId.ENQUIRE_LINK, b"")[:-1], S.ESME_RINVCMDLEN, True),
        (frame(CommandId.ENQUIRE_LINK, b"") + b"\0", S.ESME_RINVCMDLEN, True),
        (b"\xff\xff\xff\xff" + frame(CommandId.ENQUIRE_LINK, b"")[4:], S.ESME_RINVCMDLEN, True),
    ],
)
def test_a_command_length_that_disagrees_with_the_data(
    data: bytes, status: int, fatal: bool
) -> None:
    error = decode_error(data)
    assert (error.command_status, error.fatal) == (status, fatal)


def test_unknown_command_id_is_answered_with_generic_nack() -> None:
    error = decode_error(frame(0x00000999, b"whatever", sequence=77))
    assert isinstance(error, UnknownCommandError)
    assert error.command_status == S.ESME_RINVCMDID
    assert (error.sequence_number, error.fatal) == (77, False)
    assert error_response(error) == GenericNack(sequence_number=77, command_status=S.ESME_RINVCMDID)


def test_submit_multi_is_not_supported_and_says_so() -> None:
    error = decode_error(frame(CommandId.SUBMIT_MULTI, b"\0" * 20))
    assert isinstance(error, UnknownCommandError)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (submit_body()[:-1], S.ESME_RINVMSGLEN, "sm_length"),
        (SUBMIT_HEAD, S.ESME_RINVCMDLEN, "ends inside"),
        (b"\0\1\1" + b"1" * 10, S.ESME_RINVCMDLEN, "no NUL terminator before the end"),
        (b"\0\1\1" + b"1" * 30 + b"\0" + submit_body()[9:], S.ESME_RINVSRCADR, "source_addr"),
        (b"LONGSERVICE\0" + submit_body()[1:], S.ESME_RINVSERTYP, "service_type"),
        (
            SUBMIT_HEAD[:-2] + b"12345\0" + b"\0" + SUBMIT_TAIL + b"\0",
            S.ESME_RINVSCHED,
            "schedule_delivery_time",
        ),
        (submit_body(b"x" * 255), S.ESME_RINVMSGLEN, "at most 254"),
        (submit_body(tlvs=b"\x02\x04\x00"), S.ESME_RINVOPTPARSTREAM, "cut short"),
        (submit_body(tlvs=b"\x02\x04\x00\x09\x00"), S.ESME_RINVOPTPARSTREAM, "remain"),
        (submit_body(tlvs=b"\x02\x04\x00\x01\x05"), S.ESME_RINVPARLEN, "user_message_reference"),
    ],
)
def test_bad_submit_sm_bodies(body: bytes, status: int, needle: str) -> None:
    error = decode_error(frame(CommandId.SUBMIT_SM, body, sequence=5))
    assert error.command_status == status, error
    assert needle in str(error)
    assert (error.sequence_number, error.command_id, error.fatal) == (5, CommandId.SUBMIT_SM, False)


def test_bad_body_of_a_request_is_answered_with_its_response() -> None:
    error = decode_error(frame(CommandId.SUBMIT_SM, b"\0\1\1" + b"1" * 30 + b"\0" + b"\0" * 20))
    assert error_response(error) == SubmitSmResp(
        sequence_number=42, command_status=S.ESME_RINVSRCADR
    )


def test_truncated_body_is_answered_with_generic_nack() -> None:
    error = decode_error(frame(CommandId.SUBMIT_SM, SUBMIT_HEAD))
    assert error_response(error) == GenericNack(
        sequence_number=42, command_status=S.ESME_RINVCMDLEN
    )


def test_bad_bind_bodies() -> None:
    too_long_id = frame(CommandId.BIND_TRANSCEIVER, b"x" * 16 + b"\0pw\0\0\x34\0\0\0")
    error = decode_error(too_long_id)
    assert error.command_status == S.ESME_RINVSYSID
    too_long_password = frame(CommandId.BIND_TRANSCEIVER, b"id\0" + b"p" * 9 + b"\0\0\x34\0\0\0")
    assert decode_error(too_long_password).command_status == S.ESME_RINVPASWD
    missing_range_nul = frame(CommandId.BIND_TRANSCEIVER, b"id\0pw\0\0\x34\0\0")
    assert decode_error(missing_range_nul).command_status == S.ESME_RINVCMDLEN


def test_a_bad_response_is_not_answered() -> None:
    error = decode_error(frame(CommandId.SUBMIT_SM_RESP, b"x" * 70))
    assert error.command_status == S.ESME_RINVMSGID
    assert error.response_command_id is None
    assert error_response(error) is None


def test_trailing_octets_after_a_body_without_tlvs() -> None:
    error = decode_error(frame(CommandId.ENQUIRE_LINK, b"\0"))
    assert error.command_status == S.ESME_RINVCMDLEN
    assert "follow the last field" in str(error)


def test_a_request_with_a_nonzero_status_is_read_all_the_same() -> None:
    assert decode(frame(CommandId.ENQUIRE_LINK, b"", sequence=3, status=8)) == EnquireLink(
        sequence_number=3
    )


@settings(max_examples=2000)
@given(st.binary(max_size=400))
def test_random_garbage_never_raises_anything_but_pdu_error(data: bytes) -> None:
    with contextlib.suppress(PduError):
        decode(data)


@settings(max_examples=1000)
@given(st.sampled_from([cls.command_id for cls in PDU_CLASSES]), st.binary(max_size=300))
def test_random_bodies_behind_valid_headers(command_id: int, body: bytes) -> None:
    try:
        pdu = decode(frame(command_id, body))
    except PduError as error:
        assert error.sequence_number == 42
        return
    assert decode(encode(pdu)) == pdu


@settings(max_examples=500)
@given(ALL_PDUS, st.data())
def test_mutated_pdus_never_raise_anything_but_pdu_error(pdu: Pdu, data: st.DataObject) -> None:
    wire = bytearray(encode(pdu))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    for candidate in (bytes(wire), bytes(wire[:cut])):
        with contextlib.suppress(PduError):
            decode(candidate)


TIMED_HEAD = b"\0" + b"\1\1" + b"123\0" + b"\1\1" + b"456\0" + b"\0\0\0"  # then the times
FAST_READ = (SubmitSm, DeliverSm, SubmitSmResp, DeliverSmResp, DataSmResp)


def generic_decode(data: bytes) -> Pdu | PduError:
    """What decode gives without its fast readers."""
    with mock.patch.dict(pdu_module._FAST_READERS, clear=True):
        try:
            return decode(data)
        except PduError as error:
            return error


def outcome(data: bytes) -> Pdu | tuple[str, int, int | None, bool]:
    try:
        return decode(data)
    except PduError as error:
        return (str(error), error.command_status, error.sequence_number, error.fatal)


@settings(max_examples=1500)
@given(st.one_of(*(pdus(cls) for cls in FAST_READ)), st.data())
def test_the_fast_readers_agree_with_the_generic_reader(pdu: Pdu, data: st.DataObject) -> None:
    """Valid PDUs, mutated ones and cut ones: the same PDU or the same error."""
    wire = bytearray(encode(pdu))
    candidates = [bytes(wire)]
    for _ in range(data.draw(st.integers(0, 4))):
        index = data.draw(st.integers(16, max(16, len(wire) - 1)))
        if index < len(wire):
            wire[index] = data.draw(
                st.sampled_from([0, 1, 16, 17, 255, data.draw(st.integers(0, 255))])
            )
    cut = data.draw(st.integers(16, len(wire)))
    body_end = struct.pack(">I", cut)
    candidates += [bytes(wire), body_end + bytes(wire[4:cut])]
    for candidate in candidates:
        expected = generic_decode(candidate)
        got = outcome(candidate)
        if isinstance(expected, PduError):
            assert got == (
                str(expected),
                expected.command_status,
                expected.sequence_number,
                expected.fatal,
            )
        else:
            assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "data",
    [
        frame(CommandId.SUBMIT_SM, SUBMIT_HEAD + SUBMIT_TAIL + b"\xff" + b"x" * 255),
        frame(CommandId.DELIVER_SM, submit_body(b"x" * 254)),
        frame(CommandId.SUBMIT_SM, TIMED_HEAD + b"1" * 15 + b"\0\0" + SUBMIT_TAIL + b"\0"),
        frame(CommandId.SUBMIT_SM, TIMED_HEAD + b"1" * 16 + b"\0\0" + SUBMIT_TAIL + b"\0"),
        frame(CommandId.SUBMIT_SM, submit_body(tlvs=b"\x04\x27\0\2\1\1")),  # message_state of 2
        frame(CommandId.SUBMIT_SM, submit_body(tlvs=b"\x04\x27\0")),  # a cut TLV header
        frame(CommandId.SUBMIT_SM, submit_body()[:-1]),
        frame(CommandId.SUBMIT_SM_RESP, b""),
        frame(CommandId.SUBMIT_SM_RESP, b"", status=0x45),
        frame(CommandId.SUBMIT_SM_RESP, b"x" * 65),
        frame(CommandId.SUBMIT_SM_RESP, b"x" * 64 + b"\0"),
        frame(CommandId.DELIVER_SM_RESP, b"\0\0"),
    ],
)
def test_the_fast_readers_agree_at_the_edges(data: bytes) -> None:
    expected = generic_decode(data)
    if isinstance(expected, PduError):
        assert outcome(data) == (
            str(expected),
            expected.command_status,
            expected.sequence_number,
            expected.fatal,
        )
    else:
        assert outcome(data) == expected


# -- the stream reader ------------------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(ALL_PDUS, max_size=8), st.data())
def test_reader_frames_pdus_split_at_any_points(pdu_list: list[Pdu], data: st.DataObject) -> None:
    stream = b"".join(encode(pdu) for pdu in pdu_list)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = PduReader(max_command_length=1 << 20)
    out: list[Pdu | PduError] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += reader.feed(stream[start:cut])
        start = cut
    assert out == pdu_list
    assert reader.buffered == 0
    assert reader.failure is None


def test_reader_reports_undecodable_pdus_and_carries_on() -> None:
    reader = PduReader()
    stream = (
        encode(EnquireLink(sequence_number=1))
        + frame(0x999, b"", sequence=2)
        + frame(CommandId.ENQUIRE_LINK, b"x", sequence=3)
        + encode(EnquireLink(sequence_number=4))
    )
    out = reader.feed(stream)
    assert out[0] == EnquireLink(sequence_number=1)
    assert isinstance(out[1], UnknownCommandError)
    assert isinstance(out[2], PduError)
    assert out[2].sequence_number == 3
    assert out[3] == EnquireLink(sequence_number=4)


def test_reader_refuses_a_huge_command_length_without_buffering_it() -> None:
    reader = PduReader(max_command_length=1024)
    out = reader.feed(b"\x7f\xff\xff\xff")
    assert len(out) == 1
    error = out[0]
    assert isinstance(error, PduError)
    assert (error.fatal, error.command_status) == (True, S.ESME_RINVCMDLEN)
    assert error_response(error) == GenericNack(sequence_number=0, command_status=2)
    assert reader.failure is error
    assert reader.feed(b"\0" * 100_000) == []
    assert reader.buffered == 0


def test_reader_enforces_the_default_limit_of_64_kib() -> None:
    reader = PduReader()
    assert reader.feed((64 * 1024 + 1).to_bytes(4, "big"))[0] == PduError(
        "command_length 65537 is outside 16...65536; the stream cannot be framed",
        S.ESME_RINVCMDLEN,
        fatal=True,
    )


def test_reader_rejects_a_command_length_below_the_header() -> None:
    reader = PduReader()
    out = reader.feed(b"\0\0\0\x0f" + b"\0" * 20)
    assert isinstance(out[0], PduError) and out[0].fatal


def test_reader_keeps_pdus_before_the_garbage() -> None:
    reader = PduReader()
    good = encode(BindTransceiverResp(sequence_number=1, system_id="smsc"))
    out = reader.feed(good + b"GET / HTTP/1.1\r\n\r\n")
    assert out[0] == BindTransceiverResp(sequence_number=1, system_id="smsc")
    assert isinstance(out[1], PduError) and out[1].fatal


def test_reader_rejects_a_silly_limit() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        PduReader(max_command_length=15)


@settings(max_examples=1000)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_reader_on_random_chunks_never_raises(chunks: list[bytes]) -> None:
    reader = PduReader(max_command_length=256)
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, Pdu | PduError)
    assert reader.buffered < 256


def test_bind_transceiver_hand_bytes() -> None:
    body = b"acme\0secret\0\0\x34\x01\x01\0"
    assert decode(frame(CommandId.BIND_TRANSCEIVER, body, sequence=1)) == BindTransceiver(
        sequence_number=1, system_id="acme", password="secret", addr_ton=1, addr_npi=1
    )
