"""Receipts and inbound messages from connectors, recorded in batches.

A receipt can arrive before the submit's outcome is committed (the peer answered fast):
it waits here and is matched on a later flush, for up to `receipt_wait_seconds`.

A receipt is acknowledged to its connector (`Receipt.recorded`) only after the transaction
that records it has committed, or once it is given up on as matching no message; one lost
in this buffer by a crash is therefore still owed by the peer and reported again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tidings.channels.base import Inbound, Receipt
from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto, SubjectKey
from tidings.core.ids import new_id
from tidings.domain.addresses import AddressError, normalise_number, normalise_sender
from tidings.domain.encoding import analyse
from tidings.domain.regions import number_region
from tidings.pipeline.keywords import KeywordHandler
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.parts import message_status_from_parts
from tidings.pipeline.transitions import Change, StatusWriter, account_webhook_urls, webhook_row
from tidings.store import keys as key_store
from tidings.store import messages as message_store
from tidings.store import numbers as number_store
from tidings.store import parts as part_store
from tidings.store import webhooks as webhook_store
from tidings.store.database import Database

log = logging.getLogger("tidings.events")


@dataclass(slots=True)
class _Waiting:
    receipt: Receipt
    since: float
    tries: int = 0
    due: float = 0.0


class EventRecorder:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        metrics: Metrics,
        writer: StatusWriter,
        receipt_wait_seconds: float = 120.0,
        keywords: KeywordHandler | None = None,
    ) -> None:
        self._keywords = keywords
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._metrics = metrics
        self._writer = writer
        self._receipts: deque[_Waiting] = deque()
        # Receipts that matched no message yet (they usually came before the submit's
        # outcome was committed): looked up again after a growing pause, not every flush.
        self._later: list[_Waiting] = []
        self._inbound: deque[Inbound] = deque()
        self._wait = receipt_wait_seconds
        self.flush_seconds = 0.01
        # Receipts are recorded in batches: one waits at most `gather_seconds` for others,
        # unless `batch_target` are waiting (a transaction costs about as much as tens of
        # receipts' rows). Inbound messages are recorded at the next flush.
        self.gather_seconds = 0.02
        self.batch_target = 200
        self.unmatched_receipts = 0
        # Called in the transaction that stores inbound messages, with their rows.
        self.inbound_observers: list[Callable[[Any, list[dict[str, Any]], datetime], None]] = []

    # ConnectorEvents
    def receipt(self, receipt: Receipt) -> None:
        self._receipts.append(_Waiting(receipt, asyncio.get_running_loop().time()))

    def inbound(self, message: Inbound) -> None:
        self._inbound.append(message)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if not self._inbound and not self._due(now):
                if not self._receipts:
                    await asyncio.sleep(self.flush_seconds)
                    continue
                wait = self._receipts[0].since + self.gather_seconds - now
                if wait > 0 and len(self._receipts) < self.batch_target:
                    await asyncio.sleep(min(wait, self.flush_seconds))
                    continue
            await self.flush()
            await asyncio.sleep(self.flush_seconds)

    def _due(self, now: float) -> bool:
        return any(item.due <= now for item in self._later)

    async def flush(self, *, everything: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        due = [i for i in self._later if everything or i.due <= now]
        if due:
            self._later = [i for i in self._later if not (everything or i.due <= now)]
        receipts = list(self._receipts) + due
        self._receipts.clear()
        inbound = list(self._inbound)
        self._inbound.clear()
        try:
            unmatched = await asyncio.to_thread(self._record, receipts, inbound)
        except Exception:
            log.exception(
                "recording %d receipts / %d inbound failed; will retry", len(receipts), len(inbound)
            )
            self._receipts.extend(receipts)
            self._inbound.extend(inbound)
            await asyncio.sleep(0.5)
            return
        now = asyncio.get_running_loop().time()
        waiting = {id(item) for item in unmatched}
        for item in receipts:
            if id(item) not in waiting:
                _acknowledge(item.receipt)
        for item in unmatched:
            if now - item.since < self._wait:
                item.tries += 1
                item.due = now + min(1.0, 0.01 * 2**item.tries)
                self._later.append(item)
            else:
                self.unmatched_receipts += 1
                log.warning(
                    "receipt %s from %s matched no message",
                    item.receipt.connector_message_id,
                    item.receipt.connector,
                )
                _acknowledge(item.receipt)

    async def drain(self) -> None:
        """Record what is buffered now (used at shutdown and by tests)."""
        if self._receipts or self._inbound or self._later:
            await self.flush(everything=True)

    def _record(self, receipts: list[_Waiting], inbound: list[Inbound]) -> list[_Waiting]:
        minted: list[str] = []
        try:
            unmatched = self._record_in_transaction(receipts, inbound, minted)
        except BaseException:
            self._crypto.discard(minted)
            raise
        self._crypto.confirm(minted)
        return unmatched

    def _record_in_transaction(
        self, receipts: list[_Waiting], inbound: list[Inbound], minted: list[str]
    ) -> list[_Waiting]:
        now = self._clock.now()
        unmatched: list[_Waiting] = []
        with self._db.write() as conn:
            by_connector: dict[str, list[_Waiting]] = {}
            for item in receipts:
                by_connector.setdefault(item.receipt.connector, []).append(item)
            changes: list[Change] = []
            with_parts: set[str] = set()
            # A message of one part takes its part's status straight from the receipt.
            single: dict[str, Change] = {}
            part_changes: list[dict[str, Any]] = []
            for connector, items in by_connector.items():
                refs = [i.receipt.connector_message_id for i in items]
                found = part_store.find_receipt_parts(conn, connector, refs)
                for item in items:
                    r = item.receipt
                    part = found.get(r.connector_message_id)
                    if part is None:
                        unmatched.append(item)
                        continue
                    part_changes.append(
                        {
                            "message_id": part[0],
                            "part_number": part[1],
                            "status": r.status,
                            "error_code": r.error_code,
                            "done_at": r.at,
                        }
                    )
                    if part[2] == 1:
                        single[part[0]] = _single_part_change(part[0], connector, r)
                    else:
                        with_parts.add(part[0])
            part_store.record_part_statuses(conn, part_changes)
            changes.extend(single.values())
            changes.extend(self._from_parts(conn, with_parts))
            self._writer.apply(conn, changes, now)
            replied = self._record_inbound(conn, inbound, now, minted)
        if replied and self._keywords is not None:
            self._keywords.wake()
        return unmatched

    def _from_parts(self, conn: Any, message_ids: set[str]) -> list[Change]:
        """The change each multipart message's parts now call for."""
        changes: list[Change] = []
        for message_id, parts in part_store.parts_of(conn, sorted(message_ids)).items():
            status = message_status_from_parts([p.status for p in parts])
            if status is None:
                continue
            fields: dict[str, Any]
            if status == "delivered":
                fields = {"delivered_at": max(to_utc(p.done_at) for p in parts)}
            else:
                failed = next(p for p in parts if p.status == status)
                fields = {
                    "error_code": failed.error_code or status,
                    "error_message": f"part {failed.part_number} of {len(parts)}: {status}",
                }
            changes.append(Change(message_id, status, fields))
        return changes

    def _record_inbound(
        self, conn: Any, inbound: list[Inbound], now: Any, minted: list[str]
    ) -> bool:
        """Store inbound messages and act on keywords; True when a reply was queued.

        The sender is the data subject: their number, the body and the webhook payload go
        under their key; the destination is the account's number, under the account key."""
        replied = False
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        hooks: list[tuple[str, str, dict[str, Any], SubjectKey]] = []
        new_keys: dict[str, dict[str, Any]] = {}
        for message in inbound:
            try:
                to = normalise_number(message.to, "to")
                sender = normalise_sender(message.sender).value
            except AddressError as exc:
                self._metrics.inbound.labels("invalid_address").inc()
                log.warning("inbound message dropped: %s", exc)
                continue
            owner = number_store.owner_of(
                conn, message.channel, self._crypto.blind_index("global", to)
            )
            if owner is None:
                self._metrics.inbound.labels("no_owner").inc()
                log.warning("inbound message to a number no account owns was dropped")
                continue
            account = owner.account_id
            info = analyse(message.body)
            message_id = new_id("msg", now)
            enc = self._crypto.encrypt
            subject_index = self._crypto.blind_index(account, sender)
            key = self._crypto.subject_key(account, subject_index, now)
            if key.row is not None:
                new_keys[key.key_id] = key.row
                minted.append(key.key_id)
            rows.append(
                {
                    "id": message_id,
                    "account_id": account,
                    "direction": "inbound",
                    "channel": message.channel,
                    "sender_enc": enc(account, "messages.sender", sender, key),
                    "sender_index": subject_index,
                    "recipient_enc": enc(account, "messages.recipient", to),
                    "recipient_index": self._crypto.blind_index(account, to),
                    "body_enc": enc(account, "messages.body", message.body, key),
                    "region": number_region(sender),
                    "encoding": info.encoding,
                    "segments": info.segments,
                    "status": "received",
                    "connector": message.connector,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                    "delivered_at": message.at,
                }
            )
            events.append(
                {"message_id": message_id, "status": "received", "at": now, "detail": None}
            )
            hooks.append(
                (
                    account,
                    message_id,
                    {
                        "event": "message.inbound",
                        "message_id": message_id,
                        "channel": message.channel,
                        "from": sender,
                        "to": to,
                        "body": message.body,
                        "received_at": iso(message.at),
                    },
                    key,
                )
            )
            self._metrics.inbound.labels("stored").inc()
            if self._keywords is not None:
                replied |= self._keywords.handle(
                    conn,
                    account_id=account,
                    channel=message.channel,
                    sender=sender,
                    to=to,
                    body=message.body,
                    message_id=message_id,
                    now=now,
                    minted=minted,
                )
        key_store.insert_minted_keys(conn, list(new_keys.values()))
        message_store.insert_messages(conn, rows, events, [])
        for observe in self.inbound_observers:
            observe(conn, rows, now)
        urls = account_webhook_urls(conn, {account for account, _, _, _ in hooks})
        webhook_store.insert_deliveries(
            conn,
            [
                webhook_row(
                    self._crypto,
                    account,
                    message_id,
                    "message.inbound",
                    urls[account],
                    payload,
                    now,
                    key,
                )
                for account, message_id, payload, key in hooks
                if account in urls
            ],
        )
        return replied


def _single_part_change(message_id: str, connector: str, receipt: Receipt) -> Change:
    """The change a receipt about a message's only part calls for."""
    status = receipt.status
    if status == "delivered":
        return Change(message_id, status, {"delivered_at": to_utc(receipt.at)})
    return Change(
        message_id,
        status,
        {
            "error_code": receipt.error_code or status,
            "error_message": f"receipt from {connector}: {status}",
        },
    )


def _acknowledge(receipt: Receipt) -> None:
    if receipt.recorded is None:
        return
    try:
        receipt.recorded()
    except Exception:
        log.exception("acknowledging receipt %s failed", receipt.connector_message_id)
