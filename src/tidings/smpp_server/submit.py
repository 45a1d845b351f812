"""submit_sm and data_sm into Tidings messages, through the same acceptance as the HTTP API.

A long message may come as UDH parts (8- or 16-bit reference), SAR parts, or one PDU with
message_payload; parts are joined per account into ONE message. Its id is drawn when the
first part arrives, every part is answered with it, and the message is accepted under that
id when the last part completes the set. A set that never completes (within the
reassembly timeout) is dropped: its parts were answered, but no message exists under the id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tidings.channels.smpp.constants import CommandStatus, EsmClass
from tidings.channels.smpp.pdu import DataSm, DataSmResp, Response, SubmitSm, SubmitSmResp
from tidings.channels.smpp.reassembly import ReassembledMessage, Reassembler, inbound_part
from tidings.channels.smpp.udh import UdhError
from tidings.core.clock import Clock
from tidings.core.errors import InvalidInput
from tidings.core.ids import new_id
from tidings.domain.addresses import AddressError, normalise_number, normalise_sender
from tidings.pipeline.accept import MAX_VALIDITY_SECONDS, AcceptService, MessageRequest
from tidings.smpp_server.addresses import destination_number, source_address
from tidings.smpp_server.credentials import Credential
from tidings.smpp_server.times import parse_smpp_time
from tidings.store.tables import smpp_receipt_requests

log = logging.getLogger("tidings.smpp")
S = CommandStatus

# AcceptService's error codes -> the command_status that answers them.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_to": S.ESME_RINVDSTADR,
    "invalid_from": S.ESME_RINVSRCADR,
    "body_too_long": S.ESME_RINVMSGLEN,
    "empty_body": S.ESME_RINVMSGLEN,
    "invalid_send_at": S.ESME_RINVSCHED,
    "invalid_validity": S.ESME_RINVEXPIRY,
    "invalid_status_callback": S.ESME_RSUBMITFAIL,
    "invalid_reference": S.ESME_RSUBMITFAIL,
    "unsupported_channel": S.ESME_RSUBMITFAIL,
}
RECEIPT_MODES = frozenset({1, 2})  # registered_delivery bits 0-1: any final, failure only


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(slots=True)
class _OpenSet:
    message_id: str
    receipt_mode: int
    total: int
    data_coding: int
    started: datetime


Key = tuple[str, str, str, int]  # account, source, destination, reference


class SubmitHandler:
    def __init__(
        self, accept: AcceptService, clock: Clock, *, max_segments: int, reassembly_timeout: float
    ) -> None:
        self._accept = accept
        self._clock = clock
        self._max_segments = max_segments
        self._timeout = timedelta(seconds=reassembly_timeout)
        self._reassemblers: dict[str, Reassembler] = {}
        self._open: dict[Key, _OpenSet] = {}

    async def handle(self, credential: Credential, pdu: SubmitSm | DataSm) -> Response:
        answer = SubmitSmResp if isinstance(pdu, SubmitSm) else DataSmResp
        try:
            message_id = await self._submit(credential.account_id, pdu)
        except Rejected as rejected:
            log.info(
                "SMPP %s from %s refused: %s",
                pdu.command_name,
                credential.system_id,
                rejected,
            )
            return answer(sequence_number=pdu.sequence_number, command_status=rejected.status)
        return answer(sequence_number=pdu.sequence_number, message_id=message_id)

    async def _submit(self, account_id: str, pdu: SubmitSm | DataSm) -> str:
        try:
            part = inbound_part(pdu)
        except UdhError as error:
            udhi = pdu.esm_class & EsmClass.UDHI
            raise Rejected(
                S.ESME_RINVESMCLASS if udhi else S.ESME_RMISSINGOPTPARAM, str(error)
            ) from error
        to = destination_number(pdu.destination_addr)
        sender = source_address(pdu.source_addr, pdu.source_addr_ton)
        try:
            normalise_number(to, "to")
        except AddressError as error:
            raise Rejected(S.ESME_RINVDSTADR, str(error)) from error
        try:
            normalise_sender(sender)
        except AddressError as error:
            raise Rejected(S.ESME_RINVSRCADR, str(error)) from error
        now = self._clock.now()
        send_at, validity = self._times(pdu, now)
        mode = pdu.registered_delivery & 0x03
        concat = part.concat
        if concat is None or concat.total == 1:
            whole = ReassembledMessage(
                part.source, part.destination, part.data_coding, part.payload, 1
            )
            message_id = new_id("msg", now)
        else:
            if concat.total > self._max_segments:
                raise Rejected(
                    S.ESME_RINVMSGLEN,
                    f"{concat.total} parts; the maximum is {self._max_segments}",
                )
            reassembler = self._reassembler(account_id, now)
            key: Key = (account_id, part.source, part.destination, concat.reference)
            open_set = self._open.get(key)
            if open_set is not None and (open_set.total, open_set.data_coding) != (
                concat.total,
                part.data_coding,
            ):
                open_set = None  # the reference was reused: the reassembler starts afresh too
            if open_set is None:
                open_set = self._open[key] = _OpenSet(
                    new_id("msg", now), mode, concat.total, part.data_coding, now
                )
            elif mode and not open_set.receipt_mode:
                open_set.receipt_mode = mode
            joined = reassembler.add(part, now)
            if joined is None:
                return open_set.message_id
            del self._open[key]
            whole, message_id, mode = joined, open_set.message_id, open_set.receipt_mode
        try:
            body = whole.text
        except ValueError as error:
            raise Rejected(S.ESME_RSUBMITFAIL, str(error)) from error
        request = MessageRequest(
            to=to, sender=sender, body=body, send_at=send_at, validity_seconds=validity
        )
        companions: list[tuple[Any, dict[str, Any]]] = []
        if mode in RECEIPT_MODES:
            row = {"message_id": message_id, "account_id": account_id, "mode": mode}
            companions.append((smpp_receipt_requests, {**row, "created_at": now}))
        try:
            await self._accept.accept_async(
                account_id, request, message_id=message_id, companions=companions
            )
        except InvalidInput as error:
            raise Rejected(
                STATUS_BY_CODE.get(error.code, S.ESME_RSUBMITFAIL), error.detail
            ) from error
        return message_id

    def _times(self, pdu: SubmitSm | DataSm, now: datetime) -> tuple[datetime | None, int | None]:
        if isinstance(pdu, DataSm):
            return None, None
        try:
            send_at = parse_smpp_time(pdu.schedule_delivery_time, now)
        except ValueError as error:
            raise Rejected(S.ESME_RINVSCHED, str(error)) from error
        try:
            expires = parse_smpp_time(pdu.validity_period, now)
        except ValueError as error:
            raise Rejected(S.ESME_RINVEXPIRY, str(error)) from error
        validity = None
        if expires is not None:
            seconds = int((expires - max(now, send_at or now)).total_seconds())
            if seconds < 1:
                raise Rejected(S.ESME_RINVEXPIRY, "the validity period has already ended")
            validity = min(seconds, MAX_VALIDITY_SECONDS)  # an SMSC caps it, as ours does
        return send_at, validity

    def _reassembler(self, account_id: str, now: datetime) -> Reassembler:
        reassembler = self._reassemblers.get(account_id)
        if reassembler is None:
            reassembler = self._reassemblers[account_id] = Reassembler(self._timeout)
        for dropped in reassembler.expire(now):
            key = (account_id, dropped.source, dropped.destination, dropped.reference)
            open_set = self._open.get(key)
            if open_set is not None and open_set.started == dropped.started:
                del self._open[key]
            log.warning(
                "SMPP long message %s of account %s dropped: %d of %d parts arrived",
                open_set.message_id if open_set else "?",
                account_id,
                len(dropped.parts),
                dropped.total,
            )
        return reassembler

    def expire(self) -> None:
        """Drop long messages whose parts stopped coming (also for idle accounts)."""
        now = self._clock.now()
        for account_id in list(self._reassemblers):
            if not self._reassembler(account_id, now).pending:
                del self._reassemblers[account_id]

    @property
    def open_sets(self) -> int:
        return len(self._open)
