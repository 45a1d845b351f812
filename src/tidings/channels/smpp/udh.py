"""The user data header (3GPP TS 23.040 §9.2.3.24) at the start of a short_message.

Only the concatenation elements are interpreted: IEI 0x00 (8-bit reference) and IEI 0x08
(16-bit reference). Other elements are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

IEI_CONCAT_8BIT: Final = 0x00
IEI_CONCAT_16BIT: Final = 0x08


class UdhError(ValueError):
    """A short_message whose UDHI flag is set but whose header is malformed."""


class ConcatInfo(NamedTuple):
    reference: int
    total: int
    seqnum: int


@dataclass(frozen=True, slots=True)
class InformationElement:
    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class UserDataHeader:
    elements: tuple[InformationElement, ...]

    @property
    def concat(self) -> ConcatInfo | None:
        """The last concatenation element (TS 23.040 lets the last repeat win)."""
        found: ConcatInfo | None = None
        for element in self.elements:
            if element.iei in _CONCAT_SIZES:
                found = _concat(element)
        return found

    def encode(self) -> bytes:
        body = b"".join(bytes((e.iei, len(e.data))) + e.data for e in self.elements)
        if len(body) > 0xFF:
            raise ValueError(f"a user data header holds at most 255 octets, got {len(body)}")
        return bytes((len(body),)) + body


_CONCAT_SIZES: Final = {IEI_CONCAT_8BIT: 3, IEI_CONCAT_16BIT: 4}


def _concat(element: InformationElement) -> ConcatInfo:
    data = element.data
    if len(data) != _CONCAT_SIZES[element.iei]:
        raise UdhError(
            f"concatenation element 0x{element.iei:02X} must hold "
            f"{_CONCAT_SIZES[element.iei]} octets, not {len(data)}"
        )
    reference = int.from_bytes(data[:-2], "big")
    total, seqnum = data[-2], data[-1]
    if total == 0 or not 1 <= seqnum <= total:
        raise UdhError(f"concatenation element says part {seqnum} of {total}")
    return ConcatInfo(reference, total, seqnum)


def split_udh(short_message: bytes) -> tuple[UserDataHeader, bytes]:
    """Separate the header from the user data that follows it."""
    if not short_message:
        raise UdhError("UDHI is set but the short_message is empty")
    length = short_message[0]
    end = 1 + length
    if end > len(short_message):
        raise UdhError(f"UDH length {length} exceeds the {len(short_message) - 1} octets left")
    elements: list[InformationElement] = []
    pos = 1
    while pos < end:
        if pos + 2 > end:
            raise UdhError("an information element header is cut short")
        iei, size = short_message[pos], short_message[pos + 1]
        start = pos + 2
        if start + size > end:
            raise UdhError(f"information element 0x{iei:02X} overruns the header")
        element = InformationElement(iei, short_message[start : start + size])
        if iei in _CONCAT_SIZES:
            _concat(element)
        elements.append(element)
        pos = start + size
    return UserDataHeader(tuple(elements)), short_message[end:]


def concat_header(info: ConcatInfo, *, sixteen_bit: bool) -> bytes:
    """The UDH of one concatenated part: 6 octets (8-bit reference) or 7 (16-bit)."""
    if sixteen_bit:
        element = InformationElement(
            IEI_CONCAT_16BIT, info.reference.to_bytes(2, "big") + bytes((info.total, info.seqnum))
        )
    else:
        element = InformationElement(
            IEI_CONCAT_8BIT, bytes((info.reference, info.total, info.seqnum))
        )
    return UserDataHeader((element,)).encode()
