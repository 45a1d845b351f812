"""SMPP 3.4 PDUs as typed, frozen dataclasses, and their wire codec.

Pure: no I/O. ``encode(pdu)`` gives the bytes of one PDU, header included; ``decode(data)``
reads exactly one PDU and raises ``PduError`` (carrying the command_status to answer with)
for anything that is not a valid one. Every value a PDU holds is checked when it is built,
so a PDU that exists can always be encoded.

Each class lists its mandatory body fields in wire order; their sizes and error statuses
live in the field metadata (see ``fields.py``), which the encoder, the decoder and the
constructor all read.
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar

from tidings.channels.smpp.constants import (
    HEADER_SIZE,
    INTERFACE_VERSION_34,
    CommandId,
    CommandStatus,
)
from tidings.channels.smpp.errors import PduError, UnknownCommandError
from tidings.channels.smpp.fields import (
    SHORT_MESSAGE_MAX,
    SPEC_KEY,
    U8,
    CString,
    Integer,
    OptionalParameters,
    ShortMessage,
    Spec,
    c_string,
    optional_parameters,
    short_message,
    time_string,
    u8,
)
from tidings.channels.smpp.tlv import (
    TLV_HEADER_SIZE,
    Tlv,
    TlvAccess,
    encode_tlvs,
    tlv_problem,
    unchecked_tlv,
)

_HEADER: Final = struct.Struct(">IIII")
_P = TypeVar("_P", bound="Pdu")
_U32_MAX: Final = 0xFFFFFFFF
S = CommandStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Pdu:
    """One SMPP PDU. ``command_id`` is a class attribute; the header length is derived."""

    command_id: ClassVar[CommandId]
    sequence_number: int

    def __post_init__(self) -> None:
        if not 0 <= self.sequence_number <= _U32_MAX:
            raise ValueError(f"sequence_number must fit in 32 bits, got {self.sequence_number}")
        checks, values = _checks(type(self))
        for (name, spec, default), value in zip(checks, values(self), strict=True):
            if value is default:  # the field's own default, valid by construction
                continue
            if spec is U8 and type(value) is int and 0 <= value <= 0xFF:
                continue  # the most common field, checked without a call
            problem = spec.problem(name, value)
            if problem:
                raise ValueError(f"{self.command_id.name.lower()}: {problem}")

    @property
    def command_name(self) -> str:
        return self.command_id.name.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class Request(Pdu):
    """A PDU that the peer must answer. Its command_status is always 0 on the wire."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Response(Pdu):
    """An answer to a request, with the same sequence_number.

    SMPP 3.4 omits the body of an error response; so does ``encode`` when the status is
    not ESME_ROK and every body field has its default, and ``decode`` reads an empty body
    of any response as the defaults (some ESMEs answer deliver_sm_resp that way too).
    """

    command_status: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.command_status <= _U32_MAX:
            raise ValueError(f"command_status must fit in 32 bits, got {self.command_status}")
        Pdu.__post_init__(self)


# -- session management ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bind(Request):
    system_id: str = c_string(16, S.ESME_RINVSYSID)
    password: str = c_string(9, S.ESME_RINVPASWD)
    system_type: str = c_string(13, S.ESME_RINVSYSTYP)
    interface_version: int = u8(INTERFACE_VERSION_34)
    addr_ton: int = u8()
    addr_npi: int = u8()
    address_range: str = c_string(41, S.ESME_RBINDFAIL)


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, slots=True, kw_only=True)
class _BindResp(Response, TlvAccess):
    system_id: str = c_string(16, S.ESME_RINVSYSID)
    tlvs: tuple[Tlv, ...] = optional_parameters()


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbind(Request):
    """Sent by an SMSC to ask the ESME to bind; it has no response PDU."""

    command_id = CommandId.OUTBIND
    system_id: str = c_string(16, S.ESME_RINVSYSID)
    password: str = c_string(9, S.ESME_RINVPASWD)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbind(Request):
    command_id = CommandId.UNBIND


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbindResp(Response):
    command_id = CommandId.UNBIND_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLink(Request):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, slots=True, kw_only=True)
class EnquireLinkResp(Response):
    command_id = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericNack(Response):
    command_id = CommandId.GENERIC_NACK


# -- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _ShortMessagePdu(Request, TlvAccess):
    service_type: str = c_string(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = u8()
    dest_addr_npi: int = u8()
    destination_addr: str = c_string(21, S.ESME_RINVDSTADR)
    esm_class: int = u8()
    protocol_id: int = u8()
    priority_flag: int = u8()
    schedule_delivery_time: str = time_string(S.ESME_RINVSCHED)
    validity_period: str = time_string(S.ESME_RINVEXPIRY)
    registered_delivery: int = u8()
    replace_if_present_flag: int = u8()
    data_coding: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()
    tlvs: tuple[Tlv, ...] = optional_parameters()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSm(_ShortMessagePdu):
    command_id = CommandId.SUBMIT_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSm(_ShortMessagePdu):
    """An inbound message or, with esm_class 0x04, a delivery receipt."""

    command_id = CommandId.DELIVER_SM


@dataclass(frozen=True, slots=True, kw_only=True)
class _MessageIdResp(Response, TlvAccess):
    message_id: str = c_string(65, S.ESME_RINVMSGID)
    tlvs: tuple[Tlv, ...] = optional_parameters()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    """SMPP 3.4 has no TLVs here; they are accepted as SMPP 5.0 peers send them."""

    command_id = CommandId.SUBMIT_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    """message_id is unused and empty in SMPP 3.4."""

    command_id = CommandId.DELIVER_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSm(Request, TlvAccess):
    """The message body, if any, travels in the message_payload TLV."""

    command_id = CommandId.DATA_SM
    service_type: str = c_string(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(65, S.ESME_RINVSRCADR)
    dest_addr_ton: int = u8()
    dest_addr_npi: int = u8()
    destination_addr: str = c_string(65, S.ESME_RINVDSTADR)
    esm_class: int = u8()
    registered_delivery: int = u8()
    data_coding: int = u8()
    tlvs: tuple[Tlv, ...] = optional_parameters()


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSmResp(_MessageIdResp):
    command_id = CommandId.DATA_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySm(Request):
    command_id = CommandId.QUERY_SM
    message_id: str = c_string(65, S.ESME_RINVMSGID)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(21, S.ESME_RINVSRCADR)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuerySmResp(Response):
    command_id = CommandId.QUERY_SM_RESP
    message_id: str = c_string(65, S.ESME_RINVMSGID)
    final_date: str = time_string(S.ESME_RINVPARLEN)
    message_state: int = u8()
    error_code: int = u8()


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSm(Request):
    command_id = CommandId.CANCEL_SM
    service_type: str = c_string(6, S.ESME_RINVSERTYP)
    message_id: str = c_string(65, S.ESME_RINVMSGID)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = u8()
    dest_addr_npi: int = u8()
    destination_addr: str = c_string(21, S.ESME_RINVDSTADR)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSmResp(Response):
    command_id = CommandId.CANCEL_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceSm(Request):
    command_id = CommandId.REPLACE_SM
    message_id: str = c_string(65, S.ESME_RINVMSGID)
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(21, S.ESME_RINVSRCADR)
    schedule_delivery_time: str = time_string(S.ESME_RINVSCHED)
    validity_period: str = time_string(S.ESME_RINVEXPIRY)
    registered_delivery: int = u8()
    sm_default_msg_id: int = u8()
    short_message: bytes = short_message()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceSmResp(Response):
    command_id = CommandId.REPLACE_SM_RESP


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertNotification(Request, TlvAccess):
    """Sent by an SMSC when a mobile becomes available; it has no response PDU."""

    command_id = CommandId.ALERT_NOTIFICATION
    source_addr_ton: int = u8()
    source_addr_npi: int = u8()
    source_addr: str = c_string(65, S.ESME_RINVSRCADR)
    esme_addr_ton: int = u8()
    esme_addr_npi: int = u8()
    esme_addr: str = c_string(65, S.ESME_RINVDSTADR)
    tlvs: tuple[Tlv, ...] = optional_parameters()


PDU_CLASSES: Final[tuple[type[Pdu], ...]] = (
    BindTransmitter,
    BindTransmitterResp,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    CancelSm,
    CancelSmResp,
    ReplaceSm,
    ReplaceSmResp,
    AlertNotification,
)
"""Every PDU this codec reads and writes. submit_multi is not among them: it decodes as
an unknown command, which a server answers with generic_nack ESME_RINVCMDID."""

_BY_ID: Final[dict[int, type[Pdu]]] = {cls.command_id: cls for cls in PDU_CLASSES}


_LAYOUTS: Final[dict[type[Pdu], tuple[tuple[str, Spec], ...]]] = {}


def _layout(cls: type[Pdu]) -> tuple[tuple[str, Spec], ...]:
    """The body fields of ``cls`` in wire order, with their specs."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = tuple(
            (f.name, f.metadata[SPEC_KEY])
            for f in dataclasses.fields(cls)
            if SPEC_KEY in f.metadata
        )
        _LAYOUTS[cls] = layout
    return layout


_Checks = tuple[tuple[tuple[str, Spec, object], ...], Callable[[object], tuple[object, ...]]]
_CHECKS: Final[dict[type[Pdu], _Checks]] = {}


def _checks(cls: type[Pdu]) -> _Checks:
    """The body fields of ``cls`` with their specs and defaults, and a getter of their
    values (one call for all of them)."""
    checks = _CHECKS.get(cls)
    if checks is None:
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        fields = tuple((name, spec, defaults[name]) for name, spec in _layout(cls))
        checks = _CHECKS[cls] = (fields, _getter([name for name, _, _ in fields]))
    return checks


def _getter(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    """The values of these attributes as a tuple, in one call."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda pdu: (one(pdu),)
    return lambda _: ()


# -- encoding ---------------------------------------------------------------------------


def encode(pdu: Pdu, sequence_number: int | None = None) -> bytes:
    """The wire bytes of ``pdu``, header included; ``sequence_number`` replaces the PDU's
    own (a session numbers its requests as it sends them)."""
    status = pdu.command_status if isinstance(pdu, Response) else 0
    body = b"" if _omits_body(pdu, status) else _encode_body(pdu)
    sequence = pdu.sequence_number if sequence_number is None else sequence_number
    if not 0 <= sequence <= _U32_MAX:
        raise ValueError(f"sequence_number must fit in 32 bits, got {sequence}")
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, status, sequence) + body


def _omits_body(pdu: Pdu, status: int) -> bool:
    if not status:
        return False
    return all(
        getattr(pdu, field.name) == field.default
        for field in dataclasses.fields(pdu)
        if SPEC_KEY in field.metadata
    )


def _encode_body(pdu: Pdu) -> bytes:
    if isinstance(pdu, _ShortMessagePdu):
        return _short_message_body(pdu)
    out = bytearray()
    for name, spec in _layout(type(pdu)):
        value = getattr(pdu, name)
        if isinstance(spec, Integer):
            out += value.to_bytes(spec.size, "big")
        elif isinstance(spec, CString):
            out += value.encode("latin-1") + b"\0"
        elif isinstance(spec, ShortMessage):
            out.append(len(value))
            out += value
        else:
            out += encode_tlvs(value)
    return bytes(out)


def _short_message_body(pdu: _ShortMessagePdu) -> bytes:
    """The body of submit_sm and deliver_sm (every message), written out field by field:
    the same octets as the loop over the layout, in a fraction of the time."""
    message = pdu.short_message
    return b"".join(
        (
            pdu.service_type.encode("latin-1"),
            b"\0",
            bytes((pdu.source_addr_ton, pdu.source_addr_npi)),
            pdu.source_addr.encode("latin-1"),
            b"\0",
            bytes((pdu.dest_addr_ton, pdu.dest_addr_npi)),
            pdu.destination_addr.encode("latin-1"),
            b"\0",
            bytes((pdu.esm_class, pdu.protocol_id, pdu.priority_flag)),
            pdu.schedule_delivery_time.encode("latin-1"),
            b"\0",
            pdu.validity_period.encode("latin-1"),
            b"\0",
            bytes(
                (
                    pdu.registered_delivery,
                    pdu.replace_if_present_flag,
                    pdu.data_coding,
                    pdu.sm_default_msg_id,
                    len(message),
                )
            ),
            message,
            encode_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


# -- decoding ---------------------------------------------------------------------------


def decode(data: bytes | bytearray | memoryview) -> Pdu:
    """Read exactly one PDU; ``len(data)`` must equal its command_length.

    Raises ``UnknownCommandError`` for a command_id this codec does not know and
    ``PduError`` for every other defect, never anything else.
    """
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise PduError(
            f"{len(data)} octets cannot hold the 16-octet PDU header",
            CommandStatus.ESME_RINVCMDLEN,
            fatal=True,
        )
    length, command_id, status, sequence = _HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(
            f"command_length says {length} octets but the PDU has {len(data)}",
            CommandStatus.ESME_RINVCMDLEN,
            sequence_number=sequence,
            command_id=command_id,
            fatal=True,
        )
    cls = _BY_ID.get(command_id)
    if cls is None:
        raise UnknownCommandError(command_id, sequence)
    fast = _FAST_READERS.get(cls)
    if fast is not None:
        pdu = fast(cls, data, status, sequence)
        if pdu is not None:
            return pdu
    reader = _BodyReader(data, HEADER_SIZE, cls.command_id, sequence)
    is_response = issubclass(cls, Response)
    values = {} if is_response and len(data) == HEADER_SIZE else reader.read(_layout(cls))
    if is_response:
        values["command_status"] = status
    values["sequence_number"] = sequence
    # The reader enforced every spec the constructor checks (fixed-size integers, string
    # sizes, no NUL inside a string, sm_length, TLV values): build without checking again.
    return _unchecked(cls, values)


_FIELDS: Final[dict[type[Pdu], tuple[tuple[str, object], ...]]] = {}


def _fields(cls: type[Pdu]) -> tuple[tuple[str, object], ...]:
    """Every field of ``cls`` with its default (sequence_number has none)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = tuple((f.name, f.default) for f in dataclasses.fields(cls))
        _FIELDS[cls] = found
    return found


def _unchecked(cls: type[_P], values: dict[str, object]) -> _P:
    pdu = object.__new__(cls)
    for name, default in _fields(cls):
        object.__setattr__(pdu, name, values.get(name, default))
    return pdu


_SETTERS: Final[dict[type[Pdu], tuple[Callable[[object, object], None], ...]]] = {}


def _build(cls: type[_P], values: tuple[object, ...]) -> _P:
    """A PDU from the values of all its fields in declaration order, unchecked (the
    slots' own setters: a frozen dataclass refuses setattr)."""
    setters = _SETTERS.get(cls)
    if setters is None:
        setters = _SETTERS[cls] = tuple(getattr(cls, name).__set__ for name, _ in _fields(cls))
    pdu = object.__new__(cls)
    for setter, value in zip(setters, values, strict=True):
        setter(pdu, value)
    return pdu


# Fast readers for the PDUs of every message: they read a well-formed body in straight
# code and return None for anything else (a missing NUL, a wrong length, a cut-off PDU),
# which `_BodyReader` then reads again and rejects with its precise error. They accept
# exactly what `_BodyReader` accepts and give the same values.


def _read_short_message_pdu(cls: type[Pdu], data: bytes, status: int, sequence: int) -> Pdu | None:
    find = data.find
    try:
        pos = HEADER_SIZE
        end = find(b"\0", pos, pos + 6)
        if end < 0:
            return None
        service_type = data[pos:end].decode("latin-1")
        source_ton, source_npi = data[end + 1], data[end + 2]
        pos = end + 3
        end = find(b"\0", pos, pos + 21)
        if end < 0:
            return None
        source = data[pos:end].decode("latin-1")
        dest_ton, dest_npi = data[end + 1], data[end + 2]
        pos = end + 3
        end = find(b"\0", pos, pos + 21)
        if end < 0:
            return None
        destination = data[pos:end].decode("latin-1")
        esm_class, protocol_id, priority = data[end + 1], data[end + 2], data[end + 3]
        pos = end + 4
        end = find(b"\0", pos, pos + 17)
        if end - pos not in (0, 16):
            return None
        schedule = data[pos:end].decode("latin-1")
        pos = end + 1
        end = find(b"\0", pos, pos + 17)
        if end - pos not in (0, 16):
            return None
        validity = data[pos:end].decode("latin-1")
        pos = end + 1
        registered, replace, coding, default_msg, length = data[pos : pos + 5]
        pos += 5
        end = pos + length
        if length > SHORT_MESSAGE_MAX or end > len(data):
            return None
    except (IndexError, ValueError):  # a field runs past the end
        return None
    tlvs = _read_tlvs(data, end)
    if tlvs is None:
        return None
    return _build(
        cls,
        (
            sequence,
            service_type,
            source_ton,
            source_npi,
            source,
            dest_ton,
            dest_npi,
            destination,
            esm_class,
            protocol_id,
            priority,
            schedule,
            validity,
            registered,
            replace,
            coding,
            default_msg,
            data[pos:end],
            tlvs,
        ),
    )


def _read_message_id_resp(cls: type[Pdu], data: bytes, status: int, sequence: int) -> Pdu | None:
    if len(data) == HEADER_SIZE:
        return None
    end = data.find(b"\0", HEADER_SIZE, HEADER_SIZE + 65)
    if end < 0:
        return None
    tlvs = _read_tlvs(data, end + 1)
    if tlvs is None:
        return None
    return _build(cls, (sequence, status, data[HEADER_SIZE:end].decode("latin-1"), tlvs))


def _read_tlvs(data: bytes, pos: int) -> tuple[Tlv, ...] | None:
    tlvs: list[Tlv] = []
    size_of_data = len(data)
    while pos < size_of_data:
        start = pos + TLV_HEADER_SIZE
        if start > size_of_data:
            return None
        tag = data[pos] << 8 | data[pos + 1]
        end = start + (data[pos + 2] << 8 | data[pos + 3])
        if end > size_of_data:
            return None
        value = data[start:end]
        if tlv_problem(tag, value):
            return None
        tlvs.append(unchecked_tlv(tag, value))
        pos = end
    return tuple(tlvs)


_FAST_READERS: Final[dict[type[Pdu], Callable[[type[Pdu], bytes, int, int], Pdu | None]]] = {
    SubmitSm: _read_short_message_pdu,
    DeliverSm: _read_short_message_pdu,
    SubmitSmResp: _read_message_id_resp,
    DeliverSmResp: _read_message_id_resp,
    DataSmResp: _read_message_id_resp,
}


class _BodyReader:
    __slots__ = ("command_id", "data", "pos", "sequence")

    def __init__(self, data: bytes, pos: int, command_id: CommandId, sequence: int) -> None:
        self.data = data
        self.pos = pos
        self.command_id = command_id
        self.sequence = sequence

    def error(self, message: str, status: int) -> PduError:
        return PduError(
            f"{self.command_id.name.lower()}: {message}",
            status,
            sequence_number=self.sequence,
            command_id=self.command_id,
        )

    def read(self, layout: tuple[tuple[str, Spec], ...]) -> dict[str, object]:
        values: dict[str, object] = {}
        data = self.data
        for name, spec in layout:
            kind = type(spec)
            if kind is Integer:
                assert isinstance(spec, Integer)
                pos = self.pos
                if spec.size == 1 and pos < len(data):  # most fields: one octet
                    values[name] = data[pos]
                    self.pos = pos + 1
                else:
                    values[name] = self._integer(name, spec)
            elif kind is CString:
                assert isinstance(spec, CString)
                values[name] = self._c_string(name, spec)
            elif kind is ShortMessage:
                assert isinstance(spec, ShortMessage)
                values[name] = self._short_message(name, spec)
            elif kind is OptionalParameters:
                values[name] = self._tlvs()
        extra = len(data) - self.pos
        if extra:
            raise self.error(
                f"{extra} octet(s) follow the last field", CommandStatus.ESME_RINVCMDLEN
            )
        return values

    def _truncated(self, name: str) -> PduError:
        return self.error(f"the PDU ends inside {name}", CommandStatus.ESME_RINVCMDLEN)

    def _integer(self, name: str, spec: Integer) -> int:
        end = self.pos + spec.size
        if end > len(self.data):
            raise self._truncated(name)
        value = int.from_bytes(self.data[self.pos : end], "big")
        self.pos = end
        return value

    def _c_string(self, name: str, spec: CString) -> str:
        pos = self.pos
        if spec.sizes is None:
            # The usual case: a NUL within reach, the length then within the limit.
            nul = self.data.find(b"\0", pos, pos + spec.max_size)
            if nul >= 0:
                self.pos = nul + 1
                return self.data[pos:nul].decode("latin-1")
        limit = self.pos + spec.max_size
        nul = self.data.find(b"\0", self.pos, limit)
        if nul < 0:
            if limit > len(self.data):
                raise self.error(
                    f"{name} has no NUL terminator before the end of the PDU",
                    CommandStatus.ESME_RINVCMDLEN,
                )
            raise self.error(
                f"{name} has no NUL terminator within {spec.max_size} octets", spec.status
            )
        problem = spec.length_problem(name, nul - self.pos)
        if problem:
            raise self.error(problem, spec.status)
        value = self.data[self.pos : nul].decode("latin-1")
        self.pos = nul + 1
        return value

    def _short_message(self, name: str, spec: ShortMessage) -> bytes:
        if self.pos >= len(self.data):
            raise self._truncated("sm_length")
        length = self.data[self.pos]
        if length > spec.max_size:
            raise self.error(f"sm_length is {length}; at most {spec.max_size}", spec.status)
        start = self.pos + 1
        end = start + length
        if end > len(self.data):
            raise self.error(
                f"sm_length is {length} but only {len(self.data) - start} octet(s) follow",
                spec.status,
            )
        self.pos = end
        return self.data[start:end]

    def _tlvs(self) -> tuple[Tlv, ...]:
        tlvs: list[Tlv] = []
        data = self.data
        while self.pos < len(data):
            if self.pos + TLV_HEADER_SIZE > len(data):
                raise self.error("a TLV header is cut short", CommandStatus.ESME_RINVOPTPARSTREAM)
            tag = int.from_bytes(data[self.pos : self.pos + 2], "big")
            size = int.from_bytes(data[self.pos + 2 : self.pos + 4], "big")
            start = self.pos + TLV_HEADER_SIZE
            if start + size > len(data):
                raise self.error(
                    f"TLV 0x{tag:04X} says {size} octets but {len(data) - start} remain",
                    CommandStatus.ESME_RINVOPTPARSTREAM,
                )
            value = data[start : start + size]
            problem = tlv_problem(tag, value)
            if problem:
                raise self.error(problem, CommandStatus.ESME_RINVPARLEN)
            tlvs.append(unchecked_tlv(tag, value))
            self.pos = start + size
        return tuple(tlvs)


# -- answering errors -------------------------------------------------------------------


def error_response(error: PduError) -> Response | None:
    """The PDU that answers an undecodable one, or None when none may be sent.

    generic_nack for a bad header or unknown command_id (sequence 0 when the header was
    not readable), the request's own response with the error status for a bad body.
    """
    command_id = error.response_command_id
    if command_id is None:
        return None
    cls = _BY_ID[command_id]
    assert issubclass(cls, Response)
    return cls(sequence_number=error.sequence_number or 0, command_status=error.command_status)


def response_class(request: type[Request]) -> type[Response]:
    """The response type of a request type (outbind and alert_notification have none)."""
    cls = _BY_ID.get(request.command_id | 0x80000000)
    if cls is None or not issubclass(cls, Response):
        raise ValueError(f"{request.command_id.name.lower()} has no response PDU")
    return cls
