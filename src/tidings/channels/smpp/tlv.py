"""Optional parameters (TLVs): kept generically as tag -> bytes, in wire order.

Unknown and vendor tags pass through untouched. The few tags Tidings acts on have typed
builders here and typed readers on every PDU that carries TLVs (``pdu.tlvs``); their
lengths are checked on decode, so a reader never meets a malformed value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from tidings.channels.smpp.constants import MessageState, TlvTag

TLV_HEADER_SIZE: Final = 4
MAX_TLV_VALUE: Final = 0xFFFF
RECEIPTED_MESSAGE_ID_MAX: Final = 65
"""Octets including the NUL terminator (SMPP 3.4 §5.3.2.12)."""

# Tags whose value has a fixed size that decode enforces.
FIXED_SIZES: Final[dict[int, int]] = {
    TlvTag.MESSAGE_STATE: 1,
    TlvTag.SAR_MSG_REF_NUM: 2,
    TlvTag.SAR_TOTAL_SEGMENTS: 1,
    TlvTag.SAR_SEGMENT_SEQNUM: 1,
    TlvTag.NETWORK_ERROR_CODE: 3,
    TlvTag.USER_MESSAGE_REFERENCE: 2,
    TlvTag.SC_INTERFACE_VERSION: 1,
    TlvTag.MS_AVAILABILITY_STATUS: 1,
}


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int
    value: bytes

    def __post_init__(self) -> None:
        problem = tlv_problem(self.tag, self.value)
        if problem:
            raise ValueError(problem)


# The slots' own setters: a frozen dataclass refuses setattr.
_set_tag: Any = Tlv.__dict__["tag"].__set__
_set_value: Any = Tlv.__dict__["value"].__set__


def unchecked_tlv(tag: int, value: bytes) -> Tlv:
    """A Tlv whose (tag, value) the caller has checked with `tlv_problem` already."""
    tlv = object.__new__(Tlv)
    _set_tag(tlv, tag)
    _set_value(tlv, value)
    return tlv


class NetworkErrorCode(NamedTuple):
    """network_error_code: network type (1 ANSI-136, 2 IS-95, 3 GSM, ...) and its code."""

    network_type: int
    error_code: int


def tlv_problem(tag: int, value: bytes) -> str | None:
    """Why (tag, value) is not a valid TLV, or None. Shared by construction and decode."""
    if not 0 <= tag <= 0xFFFF:
        return f"TLV tag {tag} does not fit in 16 bits"
    if len(value) > MAX_TLV_VALUE:
        return f"TLV 0x{tag:04X} value has {len(value)} octets; at most {MAX_TLV_VALUE} fit"
    size = FIXED_SIZES.get(tag)
    if size is not None and len(value) != size:
        return f"TLV {_name(tag)} must have {size} octets, got {len(value)}"
    if tag == TlvTag.RECEIPTED_MESSAGE_ID and len(value) > RECEIPTED_MESSAGE_ID_MAX:
        return (
            f"TLV receipted_message_id has {len(value)} octets; "
            f"at most {RECEIPTED_MESSAGE_ID_MAX} fit"
        )
    return None


def _name(tag: int) -> str:
    try:
        return TlvTag(tag).name.lower()
    except ValueError:
        return f"0x{tag:04X}"


def encode_tlvs(tlvs: Iterable[Tlv]) -> bytes:
    return b"".join(
        tlv.tag.to_bytes(2, "big") + len(tlv.value).to_bytes(2, "big") + tlv.value for tlv in tlvs
    )


# -- builders ---------------------------------------------------------------------------


def receipted_message_id(message_id: str) -> Tlv:
    """C-octet string, NUL-terminated as the spec says."""
    return Tlv(TlvTag.RECEIPTED_MESSAGE_ID, message_id.encode("latin-1") + b"\0")


def message_state(state: MessageState | int) -> Tlv:
    return Tlv(TlvTag.MESSAGE_STATE, int(state).to_bytes(1, "big"))


def sar_msg_ref_num(reference: int) -> Tlv:
    return Tlv(TlvTag.SAR_MSG_REF_NUM, reference.to_bytes(2, "big"))


def sar_total_segments(total: int) -> Tlv:
    return Tlv(TlvTag.SAR_TOTAL_SEGMENTS, total.to_bytes(1, "big"))


def sar_segment_seqnum(seqnum: int) -> Tlv:
    return Tlv(TlvTag.SAR_SEGMENT_SEQNUM, seqnum.to_bytes(1, "big"))


def message_payload(payload: bytes) -> Tlv:
    return Tlv(TlvTag.MESSAGE_PAYLOAD, payload)


def network_error_code(network_type: int, error_code: int) -> Tlv:
    return Tlv(
        TlvTag.NETWORK_ERROR_CODE,
        network_type.to_bytes(1, "big") + error_code.to_bytes(2, "big"),
    )


def user_message_reference(reference: int) -> Tlv:
    return Tlv(TlvTag.USER_MESSAGE_REFERENCE, reference.to_bytes(2, "big"))


# -- readers ----------------------------------------------------------------------------


def find(tlvs: Iterable[Tlv], tag: int) -> bytes | None:
    """The value of the first TLV with ``tag``, or None."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv.value
    return None


def _int(tlvs: Iterable[Tlv], tag: int) -> int | None:
    value = find(tlvs, tag)
    return None if value is None else int.from_bytes(value, "big")


class TlvAccess:
    """Typed readers for the TLVs Tidings uses; mixed into every PDU that has ``tlvs``."""

    __slots__ = ()
    tlvs: tuple[Tlv, ...]

    def tlv(self, tag: int) -> bytes | None:
        return find(self.tlvs, tag)

    @property
    def receipted_message_id(self) -> str | None:
        """Tolerates a missing NUL terminator, which some SMSCs omit."""
        value = find(self.tlvs, TlvTag.RECEIPTED_MESSAGE_ID)
        if value is None:
            return None
        return value.split(b"\0", 1)[0].decode("latin-1")

    @property
    def message_state(self) -> MessageState | int | None:
        """A ``MessageState`` when the value is defined, else the raw integer."""
        value = _int(self.tlvs, TlvTag.MESSAGE_STATE)
        if value is None:
            return None
        try:
            return MessageState(value)
        except ValueError:
            return value

    @property
    def sar_msg_ref_num(self) -> int | None:
        return _int(self.tlvs, TlvTag.SAR_MSG_REF_NUM)

    @property
    def sar_total_segments(self) -> int | None:
        return _int(self.tlvs, TlvTag.SAR_TOTAL_SEGMENTS)

    @property
    def sar_segment_seqnum(self) -> int | None:
        return _int(self.tlvs, TlvTag.SAR_SEGMENT_SEQNUM)

    @property
    def message_payload(self) -> bytes | None:
        return find(self.tlvs, TlvTag.MESSAGE_PAYLOAD)

    @property
    def network_error_code(self) -> NetworkErrorCode | None:
        value = find(self.tlvs, TlvTag.NETWORK_ERROR_CODE)
        if value is None:
            return None
        return NetworkErrorCode(value[0], int.from_bytes(value[1:3], "big"))

    @property
    def user_message_reference(self) -> int | None:
        return _int(self.tlvs, TlvTag.USER_MESSAGE_REFERENCE)

    @property
    def sc_interface_version(self) -> int | None:
        return _int(self.tlvs, TlvTag.SC_INTERFACE_VERSION)
