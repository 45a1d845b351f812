"""Reading and canceling an account's messages."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import orjson

from tidings.core.clock import Clock, to_utc
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.status import CANCELABLE
from tidings.pipeline.resources import message_resource
from tidings.pipeline.transitions import Change, StatusWriter
from tidings.store import messages as message_store
from tidings.store import parts as part_store
from tidings.store.database import Database

MAX_PAGE = 500


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"before": last_id})).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        before = value["before"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(
            "'cursor' is not a cursor this API gave out; pass next_cursor from "
            "the previous page unchanged",
            code="invalid_cursor",
            extra={"field": "cursor"},
        ) from exc
    if not isinstance(before, str) or not is_valid_id(before, prefix):
        raise InvalidInput(
            "'cursor' is not a cursor this API gave out; pass next_cursor from "
            "the previous page unchanged",
            code="invalid_cursor",
            extra={"field": "cursor"},
        )
    return before


def _utc_bound(value: datetime) -> datetime:
    """`value` in UTC; one UTC cannot hold (year 1 or 9999 with an offset) is the nearest end."""
    try:
        return to_utc(value)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


class MessageQueries:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock, writer: StatusWriter) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._writer = writer

    def get(self, account_id: str, message_id: str) -> dict[str, Any]:
        if not is_valid_id(message_id, "msg"):  # never query with what no id can be (NUL...)
            raise NotFound(
                f"no message {message_id[:64]!r} in this account", code="message_not_found"
            )
        with self._db.read() as conn:
            row = message_store.get_message(conn, account_id, message_id)
            if row is None:
                raise NotFound(
                    f"no message {message_id!r} in this account", code="message_not_found"
                )
            history = message_store.history(conn, [message_id])[message_id]
            parts = part_store.parts_of(conn, [message_id]).get(message_id, [])
        return message_resource(row, history, self._crypto, parts)

    def list(
        self,
        account_id: str,
        *,
        status: str | None,
        to: str | None,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        recipient_index = None
        if to is not None:
            try:
                recipient_index = self._crypto.blind_index(account_id, normalise_number(to, "to"))
            except AddressError as exc:
                raise InvalidInput(str(exc), code="invalid_to", extra={"field": "to"}) from exc
        before = decode_cursor(cursor, "msg") if cursor else None
        with self._db.read() as conn:
            rows, stopped = message_store.list_messages(
                conn,
                account_id,
                status=status,
                recipient_index=recipient_index,
                # SQLite keeps times as naive UTC text: compare in UTC whatever the offset
                since=_utc_bound(since) if since is not None else None,
                until=_utc_bound(until) if until is not None else None,
                before_id=before,
                limit=limit + 1,
            )
            page = rows[:limit]
            history = message_store.history(conn, [r.id for r in page])
            parts = part_store.parts_of(conn, [r.id for r in page])
        # One key lookup for the page, not one per subject.
        self._crypto.preload(blob for r in page for blob in (r.sender_enc, r.recipient_enc))
        items = [
            message_resource(r, history[r.id], self._crypto, parts.get(r.id, [])) for r in page
        ]
        if len(rows) > limit:
            next_cursor: str | None = encode_cursor(page[-1].id)
        else:
            next_cursor = encode_cursor(stopped) if stopped is not None else None
        return {"data": items, "next_cursor": next_cursor}

    def cancel(self, account_id: str, message_id: str) -> dict[str, Any]:
        if not is_valid_id(message_id, "msg"):
            raise NotFound(
                f"no message {message_id[:64]!r} in this account", code="message_not_found"
            )
        now = self._clock.now()
        with self._db.write() as conn:
            row = message_store.get_message(conn, account_id, message_id)
            if row is None:
                raise NotFound(
                    f"no message {message_id!r} in this account", code="message_not_found"
                )
            if row.status not in CANCELABLE:
                raise Conflict(
                    f"the message is {row.status}; only scheduled or queued "
                    "messages can be canceled",
                    code="not_cancelable",
                )
            if not message_store.cancel_work(conn, message_id, now):
                raise Conflict(
                    "the message is being sent right now and can no longer be canceled",
                    code="not_cancelable",
                )
            self._writer.apply(conn, [Change(message_id, "canceled")], now)
        return self.get(account_id, message_id)
