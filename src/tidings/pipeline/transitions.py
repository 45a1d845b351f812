"""Apply status changes through the state machine, with history and webhook work, in one go."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from tidings.core.clock import iso, to_utc
from tidings.core.crypto import Crypto, SubjectKey
from tidings.core.ids import new_id
from tidings.domain.status import can_move, is_final
from tidings.pipeline.metrics import Metrics
from tidings.store import messages as message_store
from tidings.store import validity as validity_store
from tidings.store import webhooks as webhook_store
from tidings.store.bulk import driver_in, driver_rows

QUIET_STATUSES = frozenset({"sending"})  # internal steps that are not sent as webhooks


_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


# Tuples, not dataclasses: the worker makes three of each for every message it dispatches,
# and a frozen dataclass costs about twice as much to make.
class Change(NamedTuple):
    message_id: str
    status: str
    fields: Mapping[str, Any] = _NO_FIELDS
    detail: str | None = None


class Applied(NamedTuple):
    message_id: str
    account_id: str
    previous: str
    status: str


StatusObserver = Callable[[Connection, Sequence[Applied], datetime], None]
"""Called inside the transaction of every applied change, to write work it triggers."""


class StatusWriter:
    def __init__(self, crypto: Crypto, metrics: Metrics, skip_locked: bool) -> None:
        self._crypto = crypto
        self._metrics = metrics
        self._for_update = skip_locked
        self.observers: list[StatusObserver] = []

    def apply(
        self,
        conn: Connection,
        changes: Sequence[Change],
        now: datetime,
        states: Mapping[str, Any] | None = None,
    ) -> list[Applied]:
        """Move each message if the state machine allows it; record every attempt in history.
        A message that becomes `sent` with a validity period goes on the validity sweep's
        worklist.

        `states` are the messages' rows when the caller already holds them in this
        transaction (the dispatcher's claim); otherwise they are read and locked here.
        """
        if states is None:
            states = message_store.lock_states(
                conn, list({c.message_id for c in changes}), self._for_update
            )
        current = {mid: row.status for mid, row in states.items()}
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        applied: list[Applied] = []
        for change in changes:
            status = current.get(change.message_id)
            if status is None:
                continue
            if can_move(status, change.status):
                updates.append(
                    {
                        "id": change.message_id,
                        "status": change.status,
                        "updated_at": now,
                        **change.fields,
                    }
                )
                events.append(
                    {
                        "message_id": change.message_id,
                        "status": change.status,
                        "at": now,
                        "detail": change.detail,
                    }
                )
                applied.append(
                    Applied(
                        change.message_id,
                        states[change.message_id].account_id,
                        status,
                        change.status,
                    )
                )
                current[change.message_id] = change.status
            elif change.status != status:
                events.append(
                    {
                        "message_id": change.message_id,
                        "status": change.status,
                        "at": now,
                        "detail": f"ignored: message was already {status}",
                    }
                )
        message_store.update_messages(conn, updates)
        message_store.insert_events(conn, events)
        validity_store.watch(
            conn,
            [
                (item.message_id, expires)
                for item in applied
                if item.status == "sent"
                and (expires := states[item.message_id].expires_at) is not None
            ],
        )
        self._enqueue_webhooks(conn, applied, states, changes, now)
        for observe in self.observers:
            observe(conn, applied, now)
        for status, count in Counter(item.status for item in applied).items():
            self._metrics.status.labels(status).inc(count)
        latency: dict[str, Any] = {}
        for item in applied:
            if is_final(item.status):
                histogram = latency.get(item.status)
                if histogram is None:
                    histogram = latency[item.status] = self._metrics.delivery_latency.labels(
                        item.status
                    )
                created = to_utc(states[item.message_id].created_at)
                histogram.observe(max((now - created).total_seconds(), 0.0))
        return applied

    def _enqueue_webhooks(
        self,
        conn: Connection,
        applied: Sequence[Applied],
        states: Mapping[str, Any],
        changes: Sequence[Change],
        now: datetime,
    ) -> None:
        notable = [a for a in applied if a.status not in QUIET_STATUSES]
        if not notable:
            return
        account_urls = account_webhook_urls(conn, {a.account_id for a in notable})
        by_id = {c.message_id: c for c in changes}
        rows: list[dict[str, Any]] = []
        for item in notable:
            url = states[item.message_id].status_callback or account_urls.get(item.account_id)
            if not url:
                continue
            fields = by_id[item.message_id].fields
            payload = {
                "event": "message.status",
                "message_id": item.message_id,
                "status": item.status,
                "previous_status": item.previous,
                "error_code": fields.get("error_code"),
                "error_message": fields.get("error_message"),
                "at": iso(now),
            }
            rows.append(
                webhook_row(
                    self._crypto,
                    item.account_id,
                    item.message_id,
                    "message.status",
                    url,
                    payload,
                    now,
                )
            )
        webhook_store.insert_deliveries(conn, rows)


def account_webhook_urls(conn: Connection, account_ids: set[str]) -> dict[str, str]:
    if not account_ids:
        return {}
    test, params = driver_in(conn, sorted(account_ids))
    rows = driver_rows(
        conn,
        f"SELECT id, webhook_url FROM accounts WHERE id {test} AND webhook_url IS NOT NULL",
        tuple(params),
    )
    return {account_id: url for account_id, url in rows}


def webhook_row(
    crypto: Crypto,
    account_id: str,
    message_id: str | None,
    event: str,
    url: str,
    payload: dict[str, Any],
    now: datetime,
    key: SubjectKey | None = None,
) -> dict[str, Any]:
    """A webhook delivery; a payload with a subject's data goes under the subject's key."""
    delivery_id = new_id("whk", now)
    body = orjson.dumps({"id": delivery_id, **payload}).decode()
    return {
        "id": delivery_id,
        "account_id": account_id,
        "message_id": message_id,
        "event": event,
        "url": url,
        "payload_enc": crypto.encrypt(account_id, "webhook_deliveries.payload", body, key),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
