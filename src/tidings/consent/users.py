"""The operator's own marketing to account users (the operator is controller here).

Off unless the user ticks the box (BG-01): no event, no marketing. Each opt-in and
withdrawal is an immutable event in `user_consent_events` with the notice shown, the
policy version in force and where it came from; withdrawal is one action at any time
and keeps every earlier event (BG-02, BSMS-15). The audience the operator may send its
marketing to is derived from those events at the moment it is asked for.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.ids import new_id
from tidings.domain.consent import ALL, MARKETING, SOURCES, state_of
from tidings.store import consent as consent_store
from tidings.store.database import Database
from tidings.store.tables import user_consent_events, users

MARKETING_NOTICE = (
    "Send me news and offers about this service by email and messages. I can withdraw at any time."
)


class UserMarketing:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock, policy_version: str) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._policy_version = policy_version

    def set(
        self,
        user_id: str,
        account_id: str,
        opt_in: bool,
        *,
        source: str,
        notice: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> dict[str, Any]:
        """Record an opt-in or a withdrawal (a repeat of the current choice adds nothing)."""
        if source not in SOURCES or source == "keyword":
            raise InvalidInput(f"unknown source {source!r}", code="invalid_source")
        current = self.state(user_id, account_id)
        if current["opted_in"] == opt_in:
            return current
        now = self._clock.now()
        evidence = {
            "notice": notice or MARKETING_NOTICE,
            "ip": ip,
            "user_agent": user_agent,
            "at": iso(now),
        }
        row = {
            "id": new_id("cev", now),
            "account_id": account_id,
            "user_id": user_id,
            "channel": ALL,
            "purpose": MARKETING,
            "action": "granted" if opt_in else "withdrawn",
            "basis": "consent",
            "source": source,
            "evidence_enc": self._crypto.encrypt(
                account_id,
                "user_consent_events.evidence",
                orjson.dumps({k: v for k, v in evidence.items() if v is not None}).decode(),
            ),
            "policy_version": self._policy_version,
            "occurred_at": now,
            "recorded_at": now,
        }
        with self._db.write() as conn:
            consent_store.insert_user_event(conn, row)
        return self.state(user_id, account_id)

    def state(self, user_id: str, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            rows = consent_store.user_events(conn, [user_id])[user_id]
        current = state_of([consent_store.as_event(r) for r in rows], "sms", MARKETING)
        return {
            "user_id": user_id,
            "opted_in": current.valid,
            "since": iso(current.since),
            "history": [self._view(account_id, r) for r in rows],
        }

    def _view(self, account_id: str, row: Any) -> dict[str, Any]:
        evidence = self._crypto.decrypt_or_none(
            account_id, "user_consent_events.evidence", row.evidence_enc
        )
        return {
            "id": row.id,
            "action": row.action,
            "source": row.source,
            "evidence": orjson.loads(evidence) if evidence else None,
            "policy_version": row.policy_version,
            "occurred_at": iso(row.occurred_at),
        }

    def audience(self) -> list[dict[str, Any]]:
        """The users the operator may send its own marketing to, right now."""
        with self._db.read() as conn:
            user_ids = [
                r.user_id for r in conn.execute(select(user_consent_events.c.user_id).distinct())
            ]
            events = consent_store.user_events(conn, user_ids)
            rows = (
                {r.id: r for r in conn.execute(select(users).where(users.c.id.in_(user_ids)))}
                if user_ids
                else {}
            )
        result = []
        for user_id in sorted(user_ids):
            current = state_of(
                [consent_store.as_event(r) for r in events[user_id]], "sms", MARKETING
            )
            row = rows.get(user_id)
            if not current.valid or row is None:
                continue
            result.append(
                {
                    "user_id": user_id,
                    "account_id": row.account_id,
                    "email": self._crypto.decrypt_or_none(
                        row.account_id, "users.email", row.email_enc
                    ),
                    "since": iso(current.since),
                }
            )
        return result

    def require_user(self, user: dict[str, Any] | None, email: str) -> dict[str, Any]:
        if user is None:
            raise NotFound(f"no user with the email {email[:254]!r}", code="user_not_found")
        return user
