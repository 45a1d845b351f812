"""SMS text encoding: GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet and UCS-2.

Pure functions only. ``analyse`` decides how a body goes on the wire and how it is
split into concatenated segments; the encode/decode/pack helpers turn text into the
octets a channel sends.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

Encoding = Literal["gsm7", "ucs2"]

ESCAPE: Final = 0x1B

# 3GPP TS 23.038 §6.2.1, indexed by septet value. Index 0x1B is the escape to the
# extension table, not a character of its own.
GSM7_BASIC: Final[str] = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# 3GPP TS 23.038 §6.2.1.1: characters sent as ESC followed by this septet.
GSM7_EXTENSION: Final[dict[str, int]] = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

GSM7_SINGLE_SEPTETS: Final = 160
GSM7_MULTI_SEPTETS: Final = 153
UCS2_SINGLE_UNITS: Final = 70
UCS2_MULTI_UNITS: Final = 67

_BASIC_CODE: Final[dict[str, int]] = {
    char: code for code, char in enumerate(GSM7_BASIC) if code != ESCAPE
}
_EXTENSION_CHAR: Final[dict[int, str]] = {code: char for char, code in GSM7_EXTENSION.items()}
_GSM7_CHARS: Final[frozenset[str]] = frozenset(_BASIC_CODE) | frozenset(GSM7_EXTENSION)


class BodyInfo(NamedTuple):
    encoding: Encoding
    units: int
    segments: int
    parts: tuple[str, ...]


def is_gsm7(text: str) -> bool:
    """True when every character can be sent in the GSM 7-bit alphabet (basic or extension)."""
    return _GSM7_CHARS.issuperset(text)


def gsm7_septet_length(text: str) -> int:
    """Septets needed for ``text``; extension characters take two (escape + code)."""
    return len(text) + sum(1 for char in text if char in GSM7_EXTENSION)


def _ucs2_atoms(text: str) -> list[tuple[str, int]]:
    """Split text into unbreakable pieces with their UTF-16 code unit counts.

    A Python str may hold a surrogate pair as two separate code points (e.g. from
    lenient JSON decoding); those still form one character on the wire, so they are
    kept together.
    """
    atoms: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if (
            "\ud800" <= char <= "\udbff"
            and i + 1 < len(text)
            and "\udc00" <= text[i + 1] <= "\udfff"
        ):
            atoms.append((text[i : i + 2], 2))
            i += 2
            continue
        atoms.append((char, 2 if ord(char) > 0xFFFF else 1))
        i += 1
    return atoms


def _split(atoms: list[tuple[str, int]], limit: int) -> tuple[str, ...]:
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for piece, size in atoms:
        if used + size > limit:
            parts.append("".join(current))
            current = []
            used = 0
        current.append(piece)
        used += size
    parts.append("".join(current))
    return tuple(parts)


def analyse(body: str) -> BodyInfo:
    """Choose the encoding for ``body`` and split it into concatenated-SMS segments."""
    if not body:
        return BodyInfo("gsm7", 0, 1, ("",))
    # Units are counted in C (the septets of the translated text, the UTF-16 code units of
    # the encoded one); a body is cut into atoms only when it needs more than one segment.
    if is_gsm7(body):
        units = len(body.translate(_GSM7_TRANSLATION))
        if units <= GSM7_SINGLE_SEPTETS:
            return BodyInfo("gsm7", units, 1, (body,))
        atoms = [(char, 2 if char in GSM7_EXTENSION else 1) for char in body]
        parts = _split(atoms, GSM7_MULTI_SEPTETS)
        return BodyInfo("gsm7", units, len(parts), parts)
    # surrogatepass: a lone surrogate counts as the one code unit it is on the wire
    units = len(body.encode("utf-16-le", "surrogatepass")) // 2
    if units <= UCS2_SINGLE_UNITS:
        return BodyInfo("ucs2", units, 1, (body,))
    parts = _split(_ucs2_atoms(body), UCS2_MULTI_UNITS)
    return BodyInfo("ucs2", units, len(parts), parts)


# Every GSM-7 character to its septet(s) as a one- or two-character str, for str.translate.
_GSM7_TRANSLATION: Final[dict[int, str]] = str.maketrans(
    {char: chr(code) for char, code in _BASIC_CODE.items()}
    | {char: chr(ESCAPE) + chr(code) for char, code in GSM7_EXTENSION.items()}
)


def encode_gsm7(text: str) -> bytes:
    """Encode to unpacked septets, one per byte; extension characters become ESC + code."""
    if _GSM7_CHARS.issuperset(text):  # the usual case, in C: translate, one octet a septet
        return text.translate(_GSM7_TRANSLATION).encode("latin-1")
    out = bytearray()
    for position, char in enumerate(text):
        code = _BASIC_CODE.get(char)
        if code is not None:
            out.append(code)
            continue
        ext = GSM7_EXTENSION.get(char)
        if ext is None:
            raise ValueError(
                f"character {char!r} (U+{ord(char):04X}) at position {position} "
                "is not in the GSM 7-bit alphabet; send the text as UCS-2 instead"
            )
        out.append(ESCAPE)
        out.append(ext)
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Decode unpacked septets (the output of ``encode_gsm7``) back to text."""
    chars: list[str] = []
    i = 0
    while i < len(data):
        code = data[i]
        if code > 0x7F:
            raise ValueError(f"byte 0x{code:02X} at position {i} is not a 7-bit septet")
        if code != ESCAPE:
            chars.append(GSM7_BASIC[code])
            i += 1
            continue
        if i + 1 == len(data):
            # TS 23.038: a receiver that cannot use the escape shows it as a space.
            chars.append(" ")
            break
        ext_code = data[i + 1]
        if ext_code > 0x7F:
            raise ValueError(f"byte 0x{ext_code:02X} at position {i + 1} is not a 7-bit septet")
        ext_char = _EXTENSION_CHAR.get(ext_code)
        if ext_char is not None:
            chars.append(ext_char)
        elif ext_code == ESCAPE:
            # TS 23.038: ESC ESC is reserved for a further table; show a space.
            chars.append(" ")
        else:
            # TS 23.038: an undefined extension code shows the basic-table character.
            chars.append(GSM7_BASIC[ext_code])
        i += 2
    return "".join(chars)


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be between 0 and 6, got {fill_bits}")


def pack_gsm7(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets into octets, least significant bit first (TS 23.038 §6.1.2.1).

    ``fill_bits`` zero bits come first, to align the text to a septet boundary after
    a user data header.
    """
    _check_fill_bits(fill_bits)
    if not septets:
        return b""
    out = bytearray()
    buffer = 0
    bits = fill_bits
    for position, septet in enumerate(septets):
        if septet > 0x7F:
            raise ValueError(f"byte 0x{septet:02X} at position {position} is not a 7-bit septet")
        buffer |= septet << bits
        bits += 7
        while bits >= 8:
            out.append(buffer & 0xFF)
            buffer >>= 8
            bits -= 8
    if bits:
        out.append(buffer & 0xFF)
    return bytes(out)


def unpack_gsm7(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack ``count`` septets from packed octets, skipping ``fill_bits`` leading bits.

    The count is needed because the last octet may hold padding that looks like a septet.
    """
    _check_fill_bits(fill_bits)
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    if count and fill_bits + 7 * count > 8 * len(data):
        raise ValueError(
            f"{len(data)} octets cannot hold {count} septets after {fill_bits} fill bits"
        )
    out = bytearray()
    for index in range(count):
        offset = fill_bits + 7 * index
        byte, shift = divmod(offset, 8)
        value = data[byte] >> shift
        if shift > 1:
            value |= data[byte + 1] << (8 - shift)
        out.append(value & 0x7F)
    return bytes(out)


def encode_ucs2(text: str) -> bytes:
    """Encode as UTF-16-BE, which is what operators actually accept as "UCS-2".

    Characters outside the BMP become surrogate pairs; lone surrogates pass through.
    """
    return text.encode("utf-16-be", errors="surrogatepass")


def decode_ucs2(data: bytes) -> str:
    """Decode UTF-16-BE; a dangling odd byte (seen from some SMSCs) is dropped."""
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be", errors="surrogatepass")
