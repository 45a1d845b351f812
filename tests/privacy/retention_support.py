"""Helpers for retention tests: records at chosen moments, accounts closed, rows counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from tidings.core.clock import ManualClock
from tidings.core.crypto import Crypto
from tidings.domain.policy import Policy
from tidings.pipeline.accept import MessageRequest
from tidings.privacy.policy import load_preset
from tidings.privacy.retention import RetentionService
from tidings.runtime import Runtime
from tidings.store import webhooks as webhook_store
from tidings.store.messages import messages_with_body
from tidings.store.tables import accounts, messages, metadata

TO = "+31612345678"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def message_at(
    rt: Runtime,
    clock: ManualClock,
    account_id: str,
    when: datetime,
    to: str = TO,
    key: str | None = None,
) -> str:
    """Accept a message as if at `when` (its event, queue entry and key come with it),
    then mark it delivered, as the pipeline would (the sweep leaves pending messages)."""
    clock.set(when)
    request = MessageRequest(to=to, sender="Acme", body="secret text", reference="order 7")
    resource, _ = rt.accept.accept(account_id, request, idempotency_key=key)
    with rt.db.write() as conn:
        conn.execute(
            update(messages).where(messages.c.id == resource["id"]).values(status="delivered")
        )
    return str(resource["id"])


def webhook_at(rt: Runtime, account_id: str, message_id: str | None, when: datetime) -> str:
    from tidings.core.ids import new_id

    delivery_id = new_id("whk", when)
    payload = rt.crypto.encrypt(account_id, "webhook_deliveries.payload", '{"body": "x"}')
    with rt.db.write() as conn:
        webhook_store.insert_deliveries(
            conn,
            [
                {
                    "id": delivery_id,
                    "account_id": account_id,
                    "message_id": message_id,
                    "event": "message.delivered",
                    "url": "https://example.invalid/hook",
                    "payload_enc": payload,
                    "state": "delivered",
                    "attempts": 1,
                    "next_attempt_at": when,
                    "created_at": when,
                }
            ],
        )
    return delivery_id


def close_account(rt: Runtime, account_id: str, when: datetime) -> None:
    """The account ends (its contract): the anchor account_closed and relationship_end."""
    with rt.db.write() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(status="closed", closed_at=when)
        )


def message_row(rt: Runtime, message_id: str) -> Any:
    with rt.db.read() as conn:
        return conn.execute(messages_with_body.where(messages.c.id == message_id)).first()


def count(rt: Runtime, table: str, **where: Any) -> int:
    t = metadata.tables[table]
    query = select(func.count()).select_from(t)
    for name, value in where.items():
        query = query.where(t.c[name] == value)
    with rt.db.read() as conn:
        return int(conn.execute(query).scalar_one())


def service(rt: Runtime, policy: Policy | str, batch_size: int = 10_000) -> RetentionService:
    chosen = load_preset(policy) if isinstance(policy, str) else policy
    return RetentionService(rt.db, rt.clock, chosen, metadata, rt.anonymiser, batch_size=batch_size)


def with_action(policy: Policy, rule: str, **changes: Any) -> Policy:
    rules = tuple(replace(r, **changes) if r.name == rule else r for r in policy.rules)
    return replace(policy, rules=rules)


def readable(crypto: Crypto, account_id: str, blob: bytes | None) -> bool:
    return crypto.decrypt_or_none(account_id, "messages.body", blob) is not None
