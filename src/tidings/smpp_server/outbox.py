"""The durable deliver_sm outbox: receipts and inbound messages owed to an account's binds.

Rows are written by observers of the pipeline, inside the transaction that records the
status change or stores the inbound message, so a crash cannot lose one. A row holds only
the message id and what changed; addresses and text are read from the message when the
deliver_sm is built. Rows leave the outbox when the ESME acknowledges with deliver_sm_resp.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.channels.smpp import tlv
from tidings.channels.smpp.concat import ConcatMethod, split_message
from tidings.channels.smpp.constants import EsmClass, MessageState
from tidings.channels.smpp.receipt import DeliveryReceipt, ReceiptStat, format_receipt
from tidings.core.clock import iso, to_utc
from tidings.core.crypto import Crypto, KeyUnavailable
from tidings.pipeline.transitions import Applied
from tidings.smpp_server.addresses import to_smpp
from tidings.store import smpp as smpp_store

log = logging.getLogger("tidings.smpp")
PAYLOAD_COLUMN = "smpp_outbox.payload"

# Final statuses and how a receipt reports them.
RECEIPT_STATES: dict[str, tuple[ReceiptStat, MessageState]] = {
    "delivered": (ReceiptStat.DELIVRD, MessageState.DELIVERED),
    "undelivered": (ReceiptStat.UNDELIV, MessageState.UNDELIVERABLE),
    "failed": (ReceiptStat.REJECTD, MessageState.REJECTED),
    "expired": (ReceiptStat.EXPIRED, MessageState.EXPIRED),
    "canceled": (ReceiptStat.DELETED, MessageState.DELETED),
}
FAILURE_ONLY = 2  # registered_delivery 2: a receipt only when delivery failed


class OutboxWriter:
    """Pipeline observers that write outbox rows; `listen` to hear which accounts got some."""

    def __init__(self, crypto: Crypto) -> None:
        self._crypto = crypto
        self._listeners: list[Callable[[set[str]], None]] = []

    def listen(self, listener: Callable[[set[str]], None]) -> None:
        self._listeners.append(listener)

    def on_status(self, conn: Connection, applied: Sequence[Applied], now: datetime) -> None:
        finals = [a for a in applied if a.status in RECEIPT_STATES]
        if not finals:
            return
        modes = smpp_store.receipt_requests(conn, [a.message_id for a in finals])
        if not modes:
            return
        rows = [
            self._row(item.account_id, "receipt", item.message_id, {"status": item.status}, now)
            for item in finals
            if item.message_id in modes
            and not (modes[item.message_id] == FAILURE_ONLY and item.status == "delivered")
        ]
        smpp_store.insert_outbox(conn, rows)
        smpp_store.forget_receipt_requests(conn, list(modes))
        self._notify({row["account_id"] for row in rows})

    def on_inbound(self, conn: Connection, messages: list[dict[str, Any]], now: datetime) -> None:
        if not messages:
            return
        bound = smpp_store.accounts_with_credentials(conn, {m["account_id"] for m in messages})
        rows = [
            self._row(m["account_id"], "inbound", m["id"], {}, now)
            for m in messages
            if m["account_id"] in bound
        ]
        smpp_store.insert_outbox(conn, rows)
        self._notify({row["account_id"] for row in rows})

    def _row(
        self, account_id: str, kind: str, message_id: str, data: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        payload = json.dumps({**data, "at": iso(now)})
        return {
            "account_id": account_id,
            "kind": kind,
            "message_id": message_id,
            "payload_enc": self._crypto.encrypt(account_id, PAYLOAD_COLUMN, payload),
            "attempts": 0,
            "lease_until": None,
            "created_at": now,
        }

    def _notify(self, accounts: set[str]) -> None:
        if accounts:
            for listener in self._listeners:
                listener(accounts)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row as the deliver_sm PDUs (keyword arguments, less the sequence number)
    that carry it; no PDUs when it can no longer be delivered (its data was erased)."""

    outbox_id: int
    pdus: tuple[dict[str, Any], ...]
    attempts: int = 1


def build_deliveries(
    conn: Connection, crypto: Crypto, rows: Sequence[Any], reference: Callable[[], int]
) -> list[Delivery]:
    if not rows:
        return []
    found = smpp_store.outbox_messages(conn, rows[0].account_id, [r.message_id for r in rows])
    return [build_delivery(crypto, row, found.get(row.message_id), reference) for row in rows]


def build_delivery(
    crypto: Crypto, row: Any, message: Any, reference: Callable[[], int]
) -> Delivery:
    account = row.account_id
    try:
        if message is None:
            raise KeyUnavailable(row.message_id)
        data = json.loads(crypto.decrypt(account, PAYLOAD_COLUMN, row.payload_enc))
        sender = crypto.decrypt(account, "messages.sender", message.sender_enc)
        recipient = crypto.decrypt(account, "messages.recipient", message.recipient_enc)
        if row.kind == "receipt":
            return Delivery(row.id, (_receipt(message, data, sender, recipient),), row.attempts)
        body = crypto.decrypt_or_none(account, "messages.body", message.body_enc)
        if body is None:
            raise KeyUnavailable(row.message_id)
        return Delivery(row.id, _inbound(sender, recipient, body, reference()), row.attempts)
    except KeyUnavailable:
        log.warning("SMPP outbox entry %s dropped: its message was erased", row.id)
        return Delivery(row.id, ())


def _receipt(message: Any, data: dict[str, Any], sender: str, recipient: str) -> dict[str, Any]:
    status = data["status"]
    stat, state = RECEIPT_STATES[status]
    done = datetime.fromisoformat(data["at"].replace("Z", "+00:00"))
    text = format_receipt(
        DeliveryReceipt(
            message_id=message.id,
            stat=stat,
            submitted=1,
            delivered=1 if status == "delivered" else 0,
            submit_date=to_utc(message.created_at).replace(tzinfo=None),
            done_date=to_utc(done).replace(tzinfo=None),
            error="000" if status == "delivered" else "001",
        )
    )
    source, source_ton, source_npi = to_smpp(recipient)  # the handset answers
    destination, dest_ton, dest_npi = to_smpp(sender)
    return {
        "source_addr": source,
        "source_addr_ton": source_ton,
        "source_addr_npi": source_npi,
        "destination_addr": destination,
        "dest_addr_ton": dest_ton,
        "dest_addr_npi": dest_npi,
        "esm_class": int(EsmClass.DELIVERY_RECEIPT),
        "short_message": text.encode("ascii"),
        "tlvs": (tlv.receipted_message_id(message.id), tlv.message_state(state)),
    }


def _inbound(sender: str, recipient: str, body: str, reference: int) -> tuple[dict[str, Any], ...]:
    source, source_ton, source_npi = to_smpp(sender)
    destination, dest_ton, dest_npi = to_smpp(recipient)
    return tuple(
        {
            "source_addr": source,
            "source_addr_ton": source_ton,
            "source_addr_npi": source_npi,
            "destination_addr": destination,
            "dest_addr_ton": dest_ton,
            "dest_addr_npi": dest_npi,
            "esm_class": part.esm_class,
            "data_coding": part.data_coding,
            "short_message": part.short_message,
            "tlvs": part.tlvs,
        }
        for part in split_message(body, ConcatMethod.UDH8, reference=reference)
    )
