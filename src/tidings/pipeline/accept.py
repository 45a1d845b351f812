"""Accept: validate, encode, encrypt and commit messages with their dispatch work."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto, SubjectKey
from tidings.core.errors import Conflict, InvalidInput
from tidings.core.ids import new_id
from tidings.domain.addresses import AddressError, normalise_number, normalise_sender
from tidings.domain.encoding import BodyInfo, analyse
from tidings.domain.regions import number_region
from tidings.pipeline.group_commit import GroupCommitter
from tidings.pipeline.metrics import Metrics
from tidings.store import keys as key_store
from tidings.store import messages as message_store
from tidings.store.database import Database

SUPPORTED_CHANNELS = frozenset({"sms"})
# Campaigns send one text to many: remember the analysis of recent bodies.
_analyse = functools.lru_cache(maxsize=1024)(analyse)
MAX_VALIDITY_SECONDS = 7 * 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class MessageRequest:
    to: str
    sender: str
    body: str
    channel: str = "sms"
    send_at: datetime | None = None
    validity_seconds: int | None = None
    status_callback: str | None = None
    reference: str | None = None

    def fingerprint(self) -> bytes:
        canonical = orjson.dumps(
            {
                "to": self.to,
                "from": self.sender,
                "body": self.body,
                "channel": self.channel,
                "send_at": _instant(self.send_at),
                "validity_seconds": self.validity_seconds,
                "status_callback": self.status_callback,
                "reference": self.reference,
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).digest()


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


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid request, normalised; not yet encrypted."""

    req: MessageRequest
    to: str
    sender: str
    info: BodyInfo
    send_at: datetime | None
    expires_at: datetime | None
    subject_index: bytes


@dataclass(frozen=True, slots=True)
class Prepared:
    row: dict[str, Any]
    event: dict[str, Any]
    work: dict[str, Any]
    to: str
    sender: str
    body: str
    new_key: dict[str, Any] | None = None  # the subject key's row while it may be unstored

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
            "status_callback": row["status_callback"],
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
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._metrics = metrics
        self._max_segments = max_segments
        self.max_batch = max_batch
        self._on_accepted = on_accepted
        self._load = load
        self._group: GroupCommitter[Prepared] = GroupCommitter(self._write_group)

    def prepare(self, account_id: str, req: MessageRequest, now: datetime) -> Prepared:
        """Validate and build the rows for one message; raises InvalidInput naming the field."""
        checked = self.check(account_id, req, now)
        key = self._crypto.subject_key(account_id, checked.subject_index, now)
        return self.seal(account_id, checked, key, now)

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
        callback = req.status_callback
        if callback is not None and (
            not callback.startswith(("http://", "https://")) or len(callback) > 2000
        ):
            raise InvalidInput(
                "'status_callback' must be an http:// or https:// URL of at most 2000 characters",
                code="invalid_status_callback",
                extra={"field": "status_callback"},
            )
        if req.reference is not None and len(req.reference) > 128:
            raise InvalidInput(
                "'reference' may be at most 128 characters",
                code="invalid_reference",
                extra={"field": "reference"},
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

    def seal(self, account_id: str, checked: Checked, key: SubjectKey, now: datetime) -> Prepared:
        """Encrypt and build the rows. The recipient is the data subject: their number and
        the body go under their key; the sender id is the account's, under the account key."""
        req, to, sender = checked.req, checked.to, checked.sender
        message_id = new_id("msg", now)
        status = "scheduled" if checked.send_at else "queued"
        enc = self._crypto.encrypt
        row = {
            "id": message_id,
            "account_id": account_id,
            "direction": "outbound",
            "channel": req.channel,
            "sender_enc": enc(account_id, "messages.sender", sender),
            "sender_index": self._crypto.blind_index(account_id, sender),
            "recipient_enc": enc(account_id, "messages.recipient", to, key),
            "recipient_index": checked.subject_index,
            "body_enc": enc(account_id, "messages.body", req.body, key),
            "encoding": checked.info.encoding,
            "segments": checked.info.segments,
            "status": status,
            "reference": req.reference,
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
            event={"message_id": message_id, "status": status, "at": now, "detail": None},
            work={
                "message_id": message_id,
                "run_at": checked.send_at or now,
                "tried_connectors": "",
            },
            to=to,
            sender=sender,
            body=req.body,
            new_key=key.row,
        )

    def _insert(self, conn: Any, prepared: Sequence[Prepared]) -> None:
        """The subject keys not known to be stored, then the messages: one transaction."""
        key_store.insert_minted_keys(conn, _minted(prepared))
        message_store.insert_messages(
            conn, [p.row for p in prepared], [p.event for p in prepared], [p.work for p in prepared]
        )

    def _write(self, prepared: Sequence[Prepared], write: Callable[[], None]) -> None:
        """Run the transaction; then the minted keys are stored, or (on failure) forgotten."""
        minted = [row["id"] for row in _minted(prepared)]
        try:
            write()
        except BaseException:
            self._crypto.discard(minted)
            raise
        self._crypto.confirm(minted)

    async def accept_async(self, account_id: str, req: MessageRequest) -> dict[str, Any]:
        """Accept one message through group commit (no Idempotency-Key)."""
        prepared = self.prepare(account_id, req, self._clock.now())
        await self._group.commit(prepared)
        self._accepted(req.channel, 1)
        return prepared.resource

    async def close(self) -> None:
        await self._group.close()

    def _write_group(self, group: Sequence[Prepared]) -> None:
        def write() -> None:
            with self._db.write() as conn:
                self._insert(conn, group)

        self._write(group, write)

    def accept(
        self, account_id: str, req: MessageRequest, idempotency_key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Commit one message; returns (resource, replayed) where replayed marks a repeat."""
        now = self._clock.now()
        prepared = self.prepare(account_id, req, now)
        if idempotency_key is None:

            def write_one() -> None:
                with self._db.write() as conn:
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
        prepared = [
            (index, self.seal(account_id, c, keys[c.subject_index], now)) for index, c in checked
        ]
        if prepared:
            items = [p for _, p in prepared]

            def write() -> None:
                with self._db.write() as conn:
                    self._insert(conn, items)

            self._write(items, write)
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

    def _accepted(self, channel: str, count: int) -> None:
        self._metrics.accepted.labels(channel).inc(count)
        self._on_accepted()
