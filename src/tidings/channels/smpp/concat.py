"""Splitting a text into the submit_sm parts that carry it, in any of SMPP's three forms.

- ``UDH8`` / ``UDH16``: each part's short_message starts with a concatenation header
  (IEI 0x00 with an 8-bit reference, or IEI 0x08 with a 16-bit one) and esm_class has
  the UDHI bit (0x40).
- ``SAR``: the parts carry sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs
  and the SMSC builds the header. The reference is 16 bits, so the SMSC may need a 7-octet
  header: parts are sized as for ``UDH16``.
- ``PAYLOAD``: one PDU with the whole text in the message_payload TLV; the SMSC splits it.

GSM-7 text (data_coding 0) travels unpacked, one septet per octet. A part holds 160
septets alone, else 153 (UDH8) or 152 (UDH16, SAR), and an escape sequence is never cut.
UCS-2 (data_coding 8) holds 70 units alone, else 67 or 66, and a surrogate pair is never
cut. A text that fits one part is sent as one plain part in every form but ``PAYLOAD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from tidings.channels.smpp import tlv
from tidings.channels.smpp.constants import EsmClass
from tidings.channels.smpp.text import choose_encoding, data_coding_for, decode_text, encode_text
from tidings.channels.smpp.tlv import MAX_TLV_VALUE, Tlv
from tidings.channels.smpp.udh import ConcatInfo, concat_header
from tidings.domain.encoding import (
    ESCAPE,
    GSM7_MULTI_SEPTETS,
    GSM7_SINGLE_SEPTETS,
    UCS2_MULTI_UNITS,
    UCS2_SINGLE_UNITS,
    Encoding,
)

MAX_PARTS: Final = 255


class ConcatMethod(StrEnum):
    UDH8 = "udh8"
    UDH16 = "udh16"
    SAR = "sar"
    PAYLOAD = "payload"


@dataclass(frozen=True, slots=True)
class MessagePart:
    """What one submit_sm needs to carry its share: OR ``esm_class`` into the PDU's."""

    data_coding: int
    esm_class: int
    short_message: bytes
    tlvs: tuple[Tlv, ...]
    text: str


# Octets of user data per part: (alone, one of several) for each encoding and method.
_GSM7_LIMITS: Final = {
    ConcatMethod.UDH8: GSM7_MULTI_SEPTETS,
    ConcatMethod.UDH16: GSM7_MULTI_SEPTETS - 1,
    ConcatMethod.SAR: GSM7_MULTI_SEPTETS - 1,
}
_UCS2_LIMITS: Final = {
    ConcatMethod.UDH8: UCS2_MULTI_UNITS * 2,
    ConcatMethod.UDH16: (UCS2_MULTI_UNITS - 1) * 2,
    ConcatMethod.SAR: (UCS2_MULTI_UNITS - 1) * 2,
}


def split_message(
    text: str,
    method: ConcatMethod,
    *,
    reference: int,
    encoding: Encoding | None = None,
) -> tuple[MessagePart, ...]:
    """The parts that carry ``text``; ``encoding`` defaults to GSM-7 when the text allows.

    ``reference`` identifies the set at the handset: 0..255 for UDH8, 0..65535 otherwise;
    callers rotate it per destination. Raises ValueError for a text that needs more than
    255 parts (or more than 65535 octets as a payload) or does not fit ``encoding``.
    """
    encoding = encoding or choose_encoding(text)
    data = encode_text(text, encoding)
    data_coding = int(data_coding_for(encoding))
    if method is ConcatMethod.PAYLOAD:
        if len(data) > MAX_TLV_VALUE:
            raise ValueError(
                f"the text takes {len(data)} octets; message_payload holds {MAX_TLV_VALUE}"
            )
        return (MessagePart(data_coding, 0, b"", (tlv.message_payload(data),), text),)
    single = GSM7_SINGLE_SEPTETS if encoding == "gsm7" else UCS2_SINGLE_UNITS * 2
    if len(data) <= single:
        return (MessagePart(data_coding, 0, data, (), text),)
    _check_reference(reference, method)
    limit = (_GSM7_LIMITS if encoding == "gsm7" else _UCS2_LIMITS)[method]
    chunks = _chunks_gsm7(data, limit) if encoding == "gsm7" else _chunks_ucs2(data, limit)
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"the text needs {len(chunks)} parts; at most {MAX_PARTS} can be joined")
    total = len(chunks)
    return tuple(
        _part(chunk, ConcatInfo(reference, total, seqnum), method, data_coding)
        for seqnum, chunk in enumerate(chunks, start=1)
    )


def _check_reference(reference: int, method: ConcatMethod) -> None:
    bits = 8 if method is ConcatMethod.UDH8 else 16
    if not 0 <= reference < 1 << bits:
        raise ValueError(f"a {method.value} reference must fit in {bits} bits, got {reference}")


def _part(chunk: bytes, info: ConcatInfo, method: ConcatMethod, data_coding: int) -> MessagePart:
    text = decode_text(chunk, data_coding)
    if method is ConcatMethod.SAR:
        tlvs = (
            tlv.sar_msg_ref_num(info.reference),
            tlv.sar_total_segments(info.total),
            tlv.sar_segment_seqnum(info.seqnum),
        )
        return MessagePart(data_coding, 0, chunk, tlvs, text)
    header = concat_header(info, sixteen_bit=method is ConcatMethod.UDH16)
    return MessagePart(data_coding, int(EsmClass.UDHI), header + chunk, (), text)


def _chunks_gsm7(septets: bytes, limit: int) -> list[bytes]:
    """Cut before ``limit``; never between an escape and the septet it introduces.

    ``encode_gsm7`` emits ESC only as the first octet of a pair (no extension code is
    0x1B), so a chunk ending in ESC would cut a pair.
    """
    chunks: list[bytes] = []
    start = 0
    while start < len(septets):
        end = min(start + limit, len(septets))
        if end < len(septets) and septets[end - 1] == ESCAPE:
            end -= 1
        chunks.append(septets[start:end])
        start = end
    return chunks


def _chunks_ucs2(octets: bytes, limit: int) -> list[bytes]:
    """Cut at a unit boundary before ``limit`` octets; never inside a surrogate pair."""
    chunks: list[bytes] = []
    start = 0
    while start < len(octets):
        end = min(start + limit, len(octets))
        if (
            end < len(octets)
            and _is_high_surrogate(octets, end - 2)
            and _is_low_surrogate(octets, end)
        ):
            end -= 2
        chunks.append(octets[start:end])
        start = end
    return chunks


def _is_high_surrogate(octets: bytes, at: int) -> bool:
    return 0xD8 <= octets[at] <= 0xDB


def _is_low_surrogate(octets: bytes, at: int) -> bool:
    return 0xDC <= octets[at] <= 0xDF
