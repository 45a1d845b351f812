"""Accept: validate, encode, encrypt and commit messages with their dispatch work."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.exc import IntegrityError

from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto, SubjectKey
from tidings.core.errors import Conflict, InvalidInput, TidingsError
from tidings.core.ids import new_id, new_ids
from tidings.domain.addresses import AddressError, normalise_number, normalise_sender
from tidings.domain.consent import PURPOSE_NAME, TRANSACTIONAL
from tidings.domain.encoding import BodyInfo, analyse
from tidings.domain.regions import number_region
from tidings.pipeline.consent_gate import Check, ConsentGate
from tidings.pipeline.group_commit import GroupCommitter
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.webhook_destinations import WebhookDestinations
from tidings.store import keys as key_store
from tidings.store import messages as message_store
from tidings.store.database import Database

SUPPORTED_CHANNELS = frozenset({"sms"})
# Campaigns send one text to many: remember the analysis of recent bodies.
_analyse = functools.lru_cache(maxsize=1024)(analyse)
MAX_VALIDITY_SECONDS = 7 * 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=366)


# This class, Checked, Queued and Prepared are not frozen: a frozen dataclass's __init__ sets
# each field through object.__setattr__ (seven times slower), and all four are built for
# every message accepted. Nothing changes them once built.
@dataclass(slots=True)
class MessageRequest:
    to: str
    sender: str
    body: str
    channel: str = "sms"
    send_at: datetime | None = None
    validity_seconds: int | None = None
    status_callback: str | None = None
    reference: str | None = None
    purpose: str = TRANSACTIONAL

    def fingerprint(self) -> bytes:
        fields = {
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "channel": self.channel,
            "send_at": _instant(self.send_at),
            "validity_seconds": self.validity_seconds,
            "status_callback": self.status_callback,
            "reference": self.reference,
        }
        if self.purpose != TRANSACTIONAL:  # keys stored before purposes existed still match
            fields["purpose"] = self.purpose
        canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).digest()


class ConsentRefused(TidingsError):
    """The recipient opted out, or has no valid basis for the message's purpose."""

    status = 422
    title = "Refused for lack of consent"


def _minted(prepared: Sequence[Prepared]) -> list[dict[str, Any]]:
    """The distinct minted key rows the messages use."""
    rows = {p.new_key["id"]: p.new_key for p in prepared if p.new_key is not None}
    return list(rows.values())


def _instant(value: datetime | None) -> str | None:
    """`iso(value)`; a time UTC cannot hold (year 1 or 9999 with an offset) as it was given."""
    try:
        return iso(value)
    except OverflowError:
        assert value is not None
        return value.isoformat()


@dataclass(slots=True)
class Checked:
    """A valid request, normalised; not yet encrypted."""

    req: MessageRequest
    to: str
    sender: str
    info: BodyInfo
    send_at: datetime | None
    expires_at: datetime | None
    subject_index: bytes


@dataclass(slots=True)
class Queued:
    """A checked message waiting for its group's transaction, where it is sealed."""

    account_id: str
    checked: Checked
    now: datetime
    message_id: str | None
    companions: tuple[tuple[Table, dict[str, Any]], ...]


@dataclass(slots=True)
class Prepared:
    row: dict[str, Any]  # the message (its history entry and dispatch work follow from it)
    to: str
    sender: str
    body: str
    new_key: dict[str, Any] | None = None  # the subject key's row while it may be unstored
    # Rows of other tables committed in the same transaction: (table, row).
    companions: tuple[tuple[Table, dict[str, Any]], ...] = ()

    @property
    def resource(self) -> dict[str, Any]:
        """The message resource as first accepted (built only when someone asks)."""
        row = self.row
        created = iso(row["created_at"])
        return {
            "id": row["id"],
            "account_id": row["account_id"],
            "direction": "outbound",
            "channel": row["channel"],
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "data_erased": False,
            "anonymised": False,
            "region": row["region"],
            "encoding": row["encoding"],
            "segments": row["segments"],
            "status": row["status"],
            "status_history": [{"status": row["status"], "at": created}],
            "error_code": None,
            "error_message": None,
            "price": None,
            "created_at": created,
            "send_at": iso(row["send_at"]),
            "expires_at": iso(row["expires_at"]),
            "sent_at": None,
            "delivered_at": None,
            "reference": row["reference"],
            "purpose": row["purpose"],
            "status_callback": row["status_callback"],
            "parts": [],  # submitted parts appear once a connector takes the message
        }


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    code: str
    field: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "field": self.field, "detail": self.detail}


class AcceptService:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        metrics: Metrics,
        *,
        max_segments: int,
        max_batch: int,
        load: Callable[[str, str], dict[str, Any]],
        gate: ConsentGate,
        destinations: WebhookDestinations,
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        self._gate = gate
        self._destinations = destinations
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._metrics = metrics
        self._max_segments = max_segments
        self.max_batch = max_batch
        self._on_accepted = on_accepted
        self._load = load
        self._group: GroupCommitter[Queued, Prepared] = GroupCommitter(self._write_group)

    def prepare(
        self, account_id: str, req: MessageRequest, now: datetime, *, message_id: str | None = None
    ) -> Prepared:
        """Validate and build the rows for one message; raises InvalidInput naming the field.

        `message_id` is an id the caller drew beforehand (new_id("msg", ...)), as the SMPP
        server does for a long message whose first parts are answered before the last.
        """
        checked = self.check(account_id, req, now)
        key = self._crypto.subject_key(account_id, checked.subject_index, now)
        return self.seal(account_id, checked, key, now, message_id=message_id)

    def check(self, account_id: str, req: MessageRequest, now: datetime) -> Checked:
        """Validate and normalise one request; raises InvalidInput naming the field."""
        if req.channel not in SUPPORTED_CHANNELS:
            raise InvalidInput(
                f"channel {req.channel!r} is not available; use one of: "
                f"{', '.join(sorted(SUPPORTED_CHANNELS))}",
                code="unsupported_channel",
                extra={"field": "channel"},
            )
        try:
            to = normalise_number(req.to, "to")
        except AddressError as exc:
            raise InvalidInput(str(exc), code="invalid_to", extra={"field": "to"}) from exc
        try:
            sender = normalise_sender(req.sender).value
        except AddressError as exc:
            raise InvalidInput(str(exc), code="invalid_from", extra={"field": "from"}) from exc
        if not req.body:
            raise InvalidInput(
                "'body' is empty; give the text of the message",
                code="empty_body",
                extra={"field": "body"},
            )
        info = _analyse(req.body)
        if info.segments > self._max_segments:
            raise InvalidInput(
                f"'body' needs {info.segments} segments ({info.encoding}, {info.units} "
                f"{'septets' if info.encoding == 'gsm7' else 'UTF-16 units'}); the maximum is "
                f"{self._max_segments}. Shorten the text.",
                code="body_too_long",
                extra={"field": "body"},
            )
        send_at = req.send_at
        if send_at is not None and send_at.tzinfo is None:
            send_at = to_utc(send_at)
        # Compare before converting: year 1 or 9999 with an offset has no UTC equivalent.
        if send_at is not None and send_at - now > MAX_SCHEDULE_AHEAD:
            raise InvalidInput(
                "'send_at' may be at most 366 days ahead",
                code="invalid_send_at",
                extra={"field": "send_at"},
            )
        send_at = to_utc(send_at) if send_at is not None and send_at > now else None
        validity = req.validity_seconds
        if validity is not None and not 1 <= validity <= MAX_VALIDITY_SECONDS:
            raise InvalidInput(
                f"'validity_seconds' must be from 1 to {MAX_VALIDITY_SECONDS}",
                code="invalid_validity",
                extra={"field": "validity_seconds"},
            )
        if req.status_callback is not None:
            self._destinations.check_url(
                req.status_callback, "status_callback", code="invalid_status_callback"
            )
        if req.reference is not None and len(req.reference) > 128:
            raise InvalidInput(
                "'reference' may be at most 128 characters",
                code="invalid_reference",
                extra={"field": "reference"},
            )

        if req.purpose != TRANSACTIONAL and not PURPOSE_NAME.match(req.purpose):
            raise InvalidInput(
                "'purpose' must be transactional (the default), marketing or a purpose of your "
                "own (lowercase letters, digits and _, starting with a letter, at most 64)",
                code="invalid_purpose",
                extra={"field": "purpose"},
            )
        start = send_at or now
        return Checked(
            req=req,
            to=to,
            sender=sender,
            info=info,
            send_at=send_at,
            expires_at=start + timedelta(seconds=validity) if validity else None,
            subject_index=self._crypto.blind_index(account_id, to),
        )

    def seal(
        self,
        account_id: str,
        checked: Checked,
        key: SubjectKey,
        now: datetime,
        *,
        message_id: str | None = None,
        sealed_sender: tuple[bytes, bytes] | None = None,
    ) -> Prepared:
        """Encrypt and build the rows. The recipient is the data subject: their number and
        the body go under their key; the sender id is the account's, under the account key
        (`sealed_sender`: its `seal_sender`, when the caller has it already)."""
        req, to, sender = checked.req, checked.to, checked.sender
        message_id = message_id or new_id("msg", now)
        status = "scheduled" if checked.send_at else "queued"
        enc = self._crypto.encrypt
        sender_enc, sender_index = sealed_sender or self.seal_sender(account_id, sender)
        row = {
            "id": message_id,
            "account_id": account_id,
            "direction": "outbound",
            "channel": req.channel,
            "sender_enc": sender_enc,
            "sender_index": sender_index,
            "recipient_enc": enc(account_id, "messages.recipient", to, key),
            "recipient_index": checked.subject_index,
            "body_enc": enc(account_id, "messages.body", req.body, key),
            "encoding": checked.info.encoding,
            "segments": checked.info.segments,
            "status": status,
            "reference": req.reference,
            "purpose": req.purpose,
            "status_callback": req.status_callback,
            "attempts": 0,
            "send_at": checked.send_at,
            "expires_at": checked.expires_at,
            "created_at": now,
            "updated_at": now,
            "region": number_region(to),
        }
        return Prepared(
            row=row,
            to=to,
            sender=sender,
            body=req.body,
            new_key=key.row,
        )

    def seal_sender(self, account_id: str, sender: str) -> tuple[bytes, bytes]:
        """(ciphertext, blind index) of a sender id. The messages of a batch from one
        sender share them: equal ciphertexts tell only what the equal index tells."""
        return (
            self._crypto.encrypt(account_id, "messages.sender", sender),
            self._crypto.blind_index(account_id, sender),
        )

    def _insert(
        self, conn: Any, prepared: Sequence[Prepared], *, keys_of: Sequence[Prepared] = ()
    ) -> None:
        """The subject keys not known to be stored (also those of `keys_of`: items refused
        in the same transaction, whose minted keys are confirmed with the rest), then the
        messages and the rows that go with them: one transaction."""
        key_store.insert_minted_keys(conn, _minted([*prepared, *keys_of]))
        message_store.insert_outbound(conn, [p.row for p in prepared])
        companions: dict[Table, list[dict[str, Any]]] = {}
        for item in prepared:
            for table, row in item.companions:
                companions.setdefault(table, []).append(row)
        for table, rows in companions.items():
            conn.execute(insert(table), rows)

    def _write(self, prepared: Sequence[Prepared], write: Callable[[], None]) -> None:
        """Run the transaction; then the minted keys are stored, or (on failure) forgotten."""
        minted = [row["id"] for row in _minted(prepared)]
        try:
            write()
        except BaseException:
            self._crypto.discard(minted)
            raise
        self._crypto.confirm(minted)

    async def accept_async(
        self,
        account_id: str,
        req: MessageRequest,
        *,
        message_id: str | None = None,
        companions: Sequence[tuple[Table, dict[str, Any]]] = (),
    ) -> dict[str, Any]:
        """Accept one message through group commit (no Idempotency-Key); `companions` are
        rows of other tables written in the message's transaction. A message whose purpose
        calls for a consent or opt-out check commits on its own, checked in its transaction.

        Only the checks run on the event loop: subject keys (a lookup, or a minted key), the
        encryption and the write happen on the group's thread, once per group."""
        now = self._clock.now()
        queued = Queued(
            account_id,
            self.check(account_id, req, now),
            now,
            message_id,
            tuple(companions),
        )
        if self._gate.needs_check(account_id, req.purpose):
            prepared = await asyncio.to_thread(self._commit_checked, queued)
        else:
            prepared = await self._group.commit(queued)
        self._accepted(req.channel, 1)
        return prepared.resource

    async def close(self) -> None:
        await self._group.close()

    def _seal_queued(self, group: Sequence[Queued]) -> list[Prepared]:
        """Seal each queued message under its subject's key: one key lookup per account."""
        keys: dict[str, dict[bytes, SubjectKey]] = {}
        for account_id in dict.fromkeys(q.account_id for q in group):
            keys[account_id] = self._crypto.subject_keys(
                account_id,
                [q.checked.subject_index for q in group if q.account_id == account_id],
                group[0].now,
            )
        prepared = []
        for q in group:
            sealed = self.seal(
                q.account_id,
                q.checked,
                keys[q.account_id][q.checked.subject_index],
                q.now,
                message_id=q.message_id,
            )
            if q.companions:
                sealed = dataclasses.replace(sealed, companions=q.companions)
            prepared.append(sealed)
        return prepared

    def _write_group(self, group: Sequence[Queued]) -> list[Prepared]:
        prepared = self._seal_queued(group)

        def write() -> None:
            with self._db.write() as conn:
                self._insert(conn, prepared)

        self._write(prepared, write)
        return prepared

    def _commit_checked(self, queued: Queued) -> Prepared:
        (prepared,) = self._seal_queued([queued])

        def write() -> None:
            with self._db.write() as conn:
                self._refuse_unless_allowed(conn, queued.account_id, prepared)
                self._insert(conn, [prepared])

        self._write([prepared], write)
        return prepared

    def accept(
        self, account_id: str, req: MessageRequest, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Commit one message; returns (resource, replayed) where replayed marks a repeat."""
        now = self._clock.now()
        prepared = self.prepare(account_id, req, now)
        checked = self._gate.needs_check(account_id, req.purpose)
        if idempotency_key is None:

            def write_one() -> None:
                with self._db.write() as conn:
                    if checked:
                        self._refuse_unless_allowed(conn, account_id, prepared)
                    self._insert(conn, [prepared])

            self._write([prepared], write_one)
            self._accepted(req.channel, 1)
            return prepared.resource, False
        fingerprint = req.fingerprint()
        existing: Any = None

        def write_keyed() -> None:
            nonlocal existing
            with self._db.write() as conn:
                existing = message_store.idempotency_entry(conn, account_id, idempotency_key)
                if existing is None:
                    if checked:
                        self._refuse_unless_allowed(conn, account_id, prepared)
                    self._insert(conn, [prepared])
                    message_store.insert_idempotency(
                        conn,
                        account_id=account_id,
                        key=idempotency_key,
                        request_hash=fingerprint,
                        message_id=prepared.row["id"],
                        created_at=now,
                    )

        try:
            self._write([prepared], write_keyed)
        except IntegrityError:
            # Another node committed the same key first: answer with its result.
            with self._db.read() as conn:
                existing = message_store.idempotency_entry(conn, account_id, idempotency_key)
        if existing is None:
            self._accepted(req.channel, 1)
            return prepared.resource, False
        if bytes(existing.request_hash) != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used with a different request body; "
                "use a new key for a new message",
                code="idempotency_conflict",
            )
        return self._load(account_id, existing.message_id), True

    def accept_batch(
        self, account_id: str, requests: Sequence[MessageRequest]
    ) -> tuple[list[dict[str, Any]], list[ItemError]]:
        """Commit every valid item in one transaction; report invalid ones by index."""
        if len(requests) > self.max_batch:
            raise InvalidInput(
                f"a batch holds at most {self.max_batch} messages; this one has "
                f"{len(requests)}. Split it.",
                code="batch_too_large",
                extra={"field": "messages"},
            )
        if not requests:
            raise InvalidInput(
                "the batch is empty", code="empty_batch", extra={"field": "messages"}
            )
        now = self._clock.now()
        checked: list[tuple[int, Checked]] = []
        errors: list[ItemError] = []
        for index, req in enumerate(requests):
            try:
                checked.append((index, self.check(account_id, req, now)))
            except InvalidInput as exc:
                errors.append(ItemError(index, exc.code, exc.extra.get("field"), exc.detail))
        # One lookup for every subject of the batch; keys for new subjects minted in bulk.
        keys = self._crypto.subject_keys(account_id, [c.subject_index for _, c in checked], now)
        senders = {s: self.seal_sender(account_id, s) for s in {c.sender for _, c in checked}}
        message_ids = new_ids("msg", now, len(checked))
        prepared = [
            (
                index,
                self.seal(
                    account_id,
                    c,
                    keys[c.subject_index],
                    now,
                    message_id=message_id,
                    sealed_sender=senders[c.sender],
                ),
            )
            for (index, c), message_id in zip(checked, message_ids, strict=True)
        ]
        if prepared:
            gated = [
                (index, p)
                for index, p in prepared
                if self._gate.needs_check(account_id, p.row["purpose"])
            ]
            dropped: set[int] = set()

            def write() -> None:
                with self._db.write() as conn:
                    if gated:
                        refused = self._gate.refusals(
                            conn, account_id, [_check(p) for _, p in gated]
                        )
                        for position, refusal in refused.items():
                            dropped.add(gated[position][0])
                            errors.append(
                                ItemError(gated[position][0], refusal.code, "to", refusal.detail)
                            )
                    self._insert(
                        conn,
                        [p for index, p in prepared if index not in dropped],
                        keys_of=[p for index, p in prepared if index in dropped],
                    )

            self._write([p for _, p in prepared], write)
            if dropped:
                errors.sort(key=lambda e: e.index)
                prepared = [(i, p) for i, p in prepared if i not in dropped]
            if prepared:
                self._accepted(requests[0].channel, len(prepared))
        accepted = [
            {
                "index": index,
                "id": p.row["id"],
                "to": p.to,
                "status": p.row["status"],
                "segments": p.row["segments"],
            }
            for index, p in prepared
        ]
        return accepted, errors

    def _refuse_unless_allowed(self, conn: Any, account_id: str, prepared: Prepared) -> None:
        refused = self._gate.refusals(conn, account_id, [_check(prepared)])
        if refused:
            refusal = refused[0]
            raise ConsentRefused(refusal.detail, code=refusal.code, extra={"field": "to"})

    def _accepted(self, channel: str, count: int) -> None:
        self._metrics.child(self._metrics.accepted, channel).inc(count)
        self._on_accepted()


def _check(prepared: Prepared) -> Check:
    row = prepared.row
    return Check(row["channel"], row["purpose"], row["recipient_index"])
