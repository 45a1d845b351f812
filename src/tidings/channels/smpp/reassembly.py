"""Joining the parts of a concatenated inbound message, whichever form carried them.

``inbound_part`` reads one deliver_sm (or submit_sm / data_sm, for the SMPP server) into
an ``InboundPart``: the user data without any header, and the concatenation details
from the UDH (esm_class UDHI) or the SAR TLVs. A ``Reassembler`` collects parts keyed by
(source, destination, reference) in any order and hands back the whole message once the
last one arrives. Time is passed in by the caller (``now``); nothing here reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from tidings.channels.smpp.constants import EsmClass
from tidings.channels.smpp.pdu import DataSm, DeliverSm, SubmitSm
from tidings.channels.smpp.text import decode_text
from tidings.channels.smpp.udh import ConcatInfo, UdhError, split_udh

DEFAULT_MAX_PENDING: Final = 10_000

Key = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class InboundPart:
    source: str
    destination: str
    data_coding: int
    payload: bytes
    concat: ConcatInfo | None = None


@dataclass(frozen=True, slots=True)
class ReassembledMessage:
    source: str
    destination: str
    data_coding: int
    payload: bytes
    parts: int

    @property
    def text(self) -> str:
        """The payload as text; ValueError for a binary data_coding."""
        return decode_text(self.payload, self.data_coding)


@dataclass(frozen=True, slots=True)
class ExpiredSet:
    """An incomplete set given up on: timed out, evicted, or replaced by a new set that
    reused its reference with a different size or coding."""

    source: str
    destination: str
    reference: int
    total: int
    data_coding: int
    started: datetime
    parts: tuple[tuple[int, bytes], ...]


def inbound_part(pdu: DeliverSm | SubmitSm | DataSm) -> InboundPart:
    """Raises ``UdhError`` (a ValueError) for a malformed UDH or an incomplete SAR set."""
    payload = pdu.message_payload
    if payload is None:
        payload = pdu.short_message if isinstance(pdu, DeliverSm | SubmitSm) else b""
    concat: ConcatInfo | None = None
    if pdu.esm_class & EsmClass.UDHI:
        header, payload = split_udh(payload)
        concat = header.concat
    else:
        sar = (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum)
        if any(value is not None for value in sar):
            reference, total, seqnum = sar
            if reference is None or total is None or seqnum is None:
                raise UdhError("a SAR part needs all three sar_* TLVs")
            if total == 0 or not 1 <= seqnum <= total:
                raise UdhError(f"SAR TLVs say part {seqnum} of {total}")
            concat = ConcatInfo(reference, total, seqnum)
    return InboundPart(pdu.source_addr, pdu.destination_addr, pdu.data_coding, payload, concat)


@dataclass(slots=True)
class _Pending:
    total: int
    data_coding: int
    started: datetime
    parts: dict[int, bytes] = field(default_factory=dict)

    def expired(self, key: Key) -> ExpiredSet:
        source, destination, reference = key
        return ExpiredSet(
            source,
            destination,
            reference,
            self.total,
            self.data_coding,
            self.started,
            tuple(sorted(self.parts.items())),
        )


class Reassembler:
    """Collects concatenated parts until a set is complete or ``timeout`` after its first.

    At most ``max_pending`` sets are held; a new set beyond that evicts the oldest, so a
    peer sending endless first parts cannot grow memory without bound. Sets given up on
    are reported by ``expire`` (the most recent ``max_pending`` of them).
    """

    def __init__(self, timeout: timedelta, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if timeout <= timedelta(0):
            raise ValueError("timeout must be positive")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: OrderedDict[Key, _Pending] = OrderedDict()
        self._given_up: deque[ExpiredSet] = deque(maxlen=max_pending)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, part: InboundPart, now: datetime) -> ReassembledMessage | None:
        """The whole message when ``part`` completes it (at once for a single part)."""
        info = part.concat
        if info is None or info.total == 1:
            return ReassembledMessage(
                part.source, part.destination, part.data_coding, part.payload, 1
            )
        key: Key = (part.source, part.destination, info.reference)
        pending = self._pending.get(key)
        if pending is not None and (
            now - pending.started >= self.timeout
            or pending.total != info.total
            or pending.data_coding != part.data_coding
        ):
            self._give_up(key)
            pending = None
        if pending is None:
            pending = self._start(key, info.total, part.data_coding, now)
        pending.parts.setdefault(info.seqnum, part.payload)
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        payload = b"".join(pending.parts[seqnum] for seqnum in range(1, pending.total + 1))
        return ReassembledMessage(
            part.source, part.destination, part.data_coding, payload, pending.total
        )

    def expire(self, now: datetime) -> list[ExpiredSet]:
        """Drop sets older than the timeout; return them with any given up on since."""
        stale = [
            key for key, pending in self._pending.items() if now - pending.started >= self.timeout
        ]
        for key in stale:
            self._give_up(key)
        given_up = list(self._given_up)
        self._given_up.clear()
        return given_up

    def _start(self, key: Key, total: int, data_coding: int, now: datetime) -> _Pending:
        while len(self._pending) >= self.max_pending:
            self._give_up(next(iter(self._pending)))
        pending = _Pending(total, data_coding, now)
        self._pending[key] = pending
        return pending

    def _give_up(self, key: Key) -> None:
        self._given_up.append(self._pending.pop(key).expired(key))
