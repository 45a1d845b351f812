"""Text <-> short_message octets for the data_coding values Tidings reads and writes.

data_coding 0 is "SMSC default alphabet": GSM 03.38 with one septet per octet, which is
what SMPP carries unless an SMSC says otherwise.
"""

from __future__ import annotations

from tidings.channels.smpp.constants import DataCoding
from tidings.domain.encoding import (
    Encoding,
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    is_gsm7,
)


def choose_encoding(text: str) -> Encoding:
    return "gsm7" if is_gsm7(text) else "ucs2"


def data_coding_for(encoding: Encoding) -> DataCoding:
    return DataCoding.SMSC_DEFAULT if encoding == "gsm7" else DataCoding.UCS2


def encode_text(text: str, encoding: Encoding) -> bytes:
    """Raises ValueError when ``encoding`` is gsm7 and a character is not in the alphabet."""
    return encode_gsm7(text) if encoding == "gsm7" else encode_ucs2(text)


def decode_text(data: bytes, data_coding: int) -> str:
    """Raises ValueError for binary data_coding values and for octets the coding forbids."""
    if data_coding == DataCoding.SMSC_DEFAULT:
        return decode_gsm7(data)
    if data_coding == DataCoding.UCS2:
        return decode_ucs2(data)
    if data_coding == DataCoding.IA5:
        try:
            return data.decode("ascii")
        except UnicodeDecodeError as error:
            raise ValueError(f"data_coding 1 (IA5) carries a non-ASCII octet: {error}") from None
    if data_coding == DataCoding.LATIN_1:
        return data.decode("latin-1")
    raise ValueError(f"data_coding 0x{data_coding:02X} is not a text coding Tidings reads")
