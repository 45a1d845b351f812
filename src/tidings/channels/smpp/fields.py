"""Body field kinds of SMPP 3.4 PDUs and the rules each one enforces.

A PDU class declares its mandatory body fields in wire order as dataclass fields whose
metadata holds one of these specs; ``pdu.py`` reads that metadata to encode, decode and
validate, so every field's size limit and error status is written down exactly once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

from tidings.channels.smpp.constants import CommandStatus
from tidings.channels.smpp.tlv import Tlv

SPEC_KEY: Final = "smpp"
SHORT_MESSAGE_MAX: Final = 254


@dataclass(frozen=True, slots=True)
class Integer:
    """An unsigned big-endian integer of ``size`` octets."""

    size: int = 1

    def problem(self, name: str, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{name} must be an int, got {type(value).__name__}"
        if not 0 <= value < 1 << (8 * self.size):
            return f"{name} must fit in {self.size} octet(s), got {value}"
        return None


@dataclass(frozen=True, slots=True)
class CString:
    """A C-octet string: up to ``max_size`` octets *including* the NUL terminator.

    Text is Latin-1 so that every octet a peer sends maps to one character and back
    (the spec says ASCII; real peers are not always so careful). ``sizes`` limits the
    allowed lengths without the NUL, as for the fixed 0-or-16 time fields.
    """

    max_size: int
    status: CommandStatus
    sizes: tuple[int, ...] | None = None

    def problem(self, name: str, value: object) -> str | None:
        if not isinstance(value, str):
            return f"{name} must be a str, got {type(value).__name__}"
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            return f"{name} has characters outside Latin-1 (SMPP strings are ASCII)"
        if b"\0" in raw:
            return f"{name} must not contain NUL"
        return self.length_problem(name, len(raw))

    def length_problem(self, name: str, length: int) -> str | None:
        if length > self.max_size - 1:
            return f"{name} has {length} octets; at most {self.max_size - 1} fit"
        if self.sizes is not None and length not in self.sizes:
            allowed = " or ".join(str(size) for size in self.sizes)
            return f"{name} must have {allowed} octets, got {length}"
        return None


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """sm_length (one octet) followed by that many octets of short_message."""

    max_size: int = SHORT_MESSAGE_MAX
    status: CommandStatus = CommandStatus.ESME_RINVMSGLEN

    def problem(self, name: str, value: object) -> str | None:
        if not isinstance(value, bytes):
            return f"{name} must be bytes, got {type(value).__name__}"
        if len(value) > self.max_size:
            return f"{name} has {len(value)} octets; at most {self.max_size} fit"
        return None


@dataclass(frozen=True, slots=True)
class OptionalParameters:
    """The TLVs that may follow the mandatory fields."""

    def problem(self, name: str, value: object) -> str | None:
        if not isinstance(value, tuple) or not all(isinstance(item, Tlv) for item in value):
            return f"{name} must be a tuple of Tlv"
        return None


Spec = Integer | CString | ShortMessage | OptionalParameters

U8: Final = Integer(1)


def u8(default: int = 0) -> Any:
    return dataclasses.field(default=default, metadata={SPEC_KEY: U8})


def c_string(max_size: int, status: CommandStatus, *, sizes: tuple[int, ...] | None = None) -> Any:
    return dataclasses.field(default="", metadata={SPEC_KEY: CString(max_size, status, sizes)})


def short_message() -> Any:
    return dataclasses.field(default=b"", metadata={SPEC_KEY: ShortMessage()})


def optional_parameters() -> Any:
    return dataclasses.field(default=(), metadata={SPEC_KEY: OptionalParameters()})


def time_string(status: CommandStatus) -> Any:
    """schedule_delivery_time, validity_period, final_date: empty or 16 characters."""
    return c_string(17, status, sizes=(0, 16))
