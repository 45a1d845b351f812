"""Delivery receipts: the SMPP 3.4 Appendix B text, read tolerantly and written exactly.

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:E text:...

Reading accepts any letter case, extra or missing spaces, missing fields, ``submit_date``
for ``submit date``, dates with seconds, and common long spellings of the states
(DELIVERED, UNDELIVERABLE, ...). Only ``id`` is required. Dates are returned naive: they
are in the SMSC's local time, which the text does not state.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from tidings.channels.smpp.constants import (
    ESM_CLASS_TYPE_MASK,
    DataCoding,
    EsmClass,
    MessageState,
    TlvTag,
)
from tidings.channels.smpp.pdu import DeliverSm, SubmitSm
from tidings.channels.smpp.text import decode_text

RECEIPT_TEXT_CHARS: Final = 20


class ReceiptStat(StrEnum):
    DELIVRD = "DELIVRD"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIV = "UNDELIV"
    ACCEPTD = "ACCEPTD"
    UNKNOWN = "UNKNOWN"
    REJECTD = "REJECTD"
    ENROUTE = "ENROUTE"


_ALIASES: Final = {
    "DELIVERED": ReceiptStat.DELIVRD,
    "UNDELIVERABLE": ReceiptStat.UNDELIV,
    "UNDELIVERED": ReceiptStat.UNDELIV,
    "ACCEPTED": ReceiptStat.ACCEPTD,
    "REJECTED": ReceiptStat.REJECTD,
}

_BY_STATE: Final = {
    MessageState.ENROUTE: ReceiptStat.ENROUTE,
    MessageState.DELIVERED: ReceiptStat.DELIVRD,
    MessageState.EXPIRED: ReceiptStat.EXPIRED,
    MessageState.DELETED: ReceiptStat.DELETED,
    MessageState.UNDELIVERABLE: ReceiptStat.UNDELIV,
    MessageState.ACCEPTED: ReceiptStat.ACCEPTD,
    MessageState.UNKNOWN: ReceiptStat.UNKNOWN,
    MessageState.REJECTED: ReceiptStat.REJECTD,
}


class ReceiptParseError(ValueError):
    """The text is not a delivery receipt (it has no id)."""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """``stat`` is a ``ReceiptStat`` when recognised, else the text as sent."""

    message_id: str
    stat: ReceiptStat | str | None = None
    submitted: int | None = None
    delivered: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    error: str | None = None
    text: str | None = None


_KEY: Final = re.compile(
    r"(?:^|(?<=\s))(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:",
    re.IGNORECASE,
)


# The Appendix B layout exactly as most SMSCs write it: read in one match; anything else
# goes through the tolerant reader below, which gives the same result for this layout.
_EXACT: Final = re.compile(
    r"id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d+) done date:(\d+)"
    r" stat:([A-Za-z]+) err:(\S*)(?: text:(.*))?",
    re.DOTALL,
)


def parse_receipt(text: str) -> DeliveryReceipt:
    return DeliveryReceipt(*_parse(text))


_Fields = tuple[
    str,
    ReceiptStat | str | None,
    int | None,
    int | None,
    datetime | None,
    datetime | None,
    str | None,
    str | None,
]


def _parse(text: str) -> _Fields:
    """The fields of a DeliveryReceipt, in order."""
    exact = _EXACT.fullmatch(text)
    if exact is not None:
        message_id, sub, dlvrd, submitted, done, stat, error, rest = exact.groups()
        return (
            message_id,
            _stat(stat),
            int(sub),
            int(dlvrd),
            _date(submitted),
            _date(done),
            error or None,
            rest.lstrip() if rest is not None else None,
        )
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = match.group(1).lower().replace(" ", "").replace("_", "")
        if key == "text":
            fields.setdefault(key, text[match.end() :].lstrip())
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(key, text[match.end() : end].strip())
    message_id = fields.get("id")
    if not message_id:
        raise ReceiptParseError(f"no id: field in {text[:80]!r}")
    return (
        message_id,
        _stat(fields.get("stat")),
        _count(fields.get("sub")),
        _count(fields.get("dlvrd")),
        _date(fields.get("submitdate")),
        _date(fields.get("donedate")),
        fields.get("err") or None,
        fields.get("text"),
    )


_STATS: Final[dict[str, ReceiptStat]] = {stat.value: stat for stat in ReceiptStat} | _ALIASES


def _stat(value: str | None) -> ReceiptStat | str | None:
    if not value:
        return None
    return _STATS.get(value.upper(), value)


def _count(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _date(value: str | None) -> datetime | None:
    """YYMMDDhhmm[ss]; the two-digit year is in 2000-2099 (receipts report the present)."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    return _digits_date(value)


@functools.lru_cache(maxsize=256)  # receipts of a minute share their dates
def _digits_date(value: str) -> datetime | None:
    second = int(value[10:12]) if len(value) == 12 else 0
    try:
        return datetime(
            2000 + int(value[0:2]),
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            second,
        )
    except ValueError:
        return None


def format_receipt(receipt: DeliveryReceipt) -> str:
    """The receipt text in the Appendix B layout; fields that are None are left out.

    Counts are written with three digits, dates as YYMMDDhhmm, and the text as its
    first 20 characters, as the spec shows.
    """
    if not receipt.message_id or any(char.isspace() for char in receipt.message_id):
        raise ValueError(f"a receipt id must be non-empty without spaces: {receipt.message_id!r}")
    parts = [f"id:{receipt.message_id}"]
    if receipt.submitted is not None:
        parts.append(f"sub:{receipt.submitted:03d}")
    if receipt.delivered is not None:
        parts.append(f"dlvrd:{receipt.delivered:03d}")
    if receipt.submit_date is not None:
        parts.append(f"submit date:{receipt.submit_date:%y%m%d%H%M}")
    if receipt.done_date is not None:
        parts.append(f"done date:{receipt.done_date:%y%m%d%H%M}")
    if receipt.stat is not None:
        parts.append(f"stat:{receipt.stat}")
    if receipt.error is not None:
        parts.append(f"err:{receipt.error}")
    if receipt.text is not None:
        parts.append(f"text:{receipt.text[:RECEIPT_TEXT_CHARS]}")
    return " ".join(parts)


def is_receipt(pdu: DeliverSm | SubmitSm) -> bool:
    """esm_class marks an SMSC delivery receipt (message type bits = 0x04)."""
    return pdu.esm_class & ESM_CLASS_TYPE_MASK == EsmClass.DELIVERY_RECEIPT


_STATES: Final[dict[int, MessageState]] = {int(state): state for state in MessageState}


def receipt_from_pdu(pdu: DeliverSm) -> DeliveryReceipt:
    """The receipt a deliver_sm carries, from its text and its TLVs.

    receipted_message_id and message_state, when present, win over the text: they are
    the spec's own fields, while the text layout is only an example in an appendix.
    Raises ReceiptParseError when neither gives an id.
    """
    payload = tlv_id = state = None
    for item in pdu.tlvs:  # the first of each, as pdu.message_payload etc. read them
        tag = item.tag
        if tag == TlvTag.MESSAGE_PAYLOAD and payload is None:
            payload = item.value
        elif tag == TlvTag.RECEIPTED_MESSAGE_ID and tlv_id is None:
            tlv_id = item.value.split(b"\0", 1)[0].decode("latin-1")
        elif tag == TlvTag.MESSAGE_STATE and state is None:
            state = int.from_bytes(item.value, "big")
    body = payload if payload is not None else pdu.short_message
    # SMSCs write receipts in ASCII whatever data_coding says (GSM-7 would turn "_" into
    # "§"); only a UCS-2 receipt is read as such.
    if pdu.data_coding == DataCoding.UCS2:
        text = decode_text(body, pdu.data_coding)
    else:
        text = body.decode("latin-1")
    try:
        fields = _parse(text)
    except ReceiptParseError:
        if not tlv_id:
            raise
        fields = (tlv_id, None, None, None, None, None, None, None)
    message_id, stat, submitted, delivered, submit_date, done_date, error, rest = fields
    known = _STATES.get(state) if state is not None else None
    return DeliveryReceipt(
        message_id=tlv_id or message_id,
        stat=_BY_STATE[known] if known is not None else stat,
        submitted=submitted,
        delivered=delivered,
        submit_date=submit_date,
        done_date=done_date,
        error=error,
        text=rest,
    )
