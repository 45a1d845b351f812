"""Accept-time consent checks: marketing needs a valid basis; opted-out numbers are refused.

Transactional messages of an account with the default policy cost nothing here: whether an
account refuses transactional messages to opted-out numbers is held in memory (one query
for the whole deployment every few seconds). Every other check runs inside the accept's
own transaction as ONE statement for the whole request or batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from tidings.domain.consent import TRANSACTIONAL, is_suppressed, state_of
from tidings.store import consent as consent_store
from tidings.store.database import Database

REFRESH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    channel: str
    purpose: str
    number_index: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    detail: str


OPTED_OUT = Refusal(
    "opted_out",
    "'to' opted out of this account's messages on this channel; the message cannot be sent "
    "until the recipient opts in again",
)
NO_CONSENT = Refusal(
    "no_consent",
    "'to' has no valid consent (or other basis) for this purpose on this channel; record one "
    "with POST /v1/contacts/{id}/consents, or send as transactional what is not marketing",
)


class ConsentGate:
    def __init__(self, db: Database, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._db = db
        self._refresh = refresh_seconds
        self._refusing: frozenset[str] = frozenset()
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def needs_check(self, account_id: str, purpose: str) -> bool:
        """No I/O on the hot path (but for one refresh every few seconds)."""
        return purpose != TRANSACTIONAL or account_id in self._refusing_accounts()

    def _refusing_accounts(self) -> frozenset[str]:
        loaded = self._loaded_at
        if loaded is None or time.monotonic() - loaded >= self._refresh:
            with self._lock:
                if self._loaded_at is None or time.monotonic() - self._loaded_at >= self._refresh:
                    with self._db.read() as conn:
                        self._refusing = frozenset(consent_store.refusing_accounts(conn))
                    self._loaded_at = time.monotonic()
        return self._refusing

    def forget(self) -> None:
        """An account's policy changed: read it again on the next check."""
        with self._lock:
            self._loaded_at = None

    def refusals(
        self, conn: Connection, account_id: str, checks: Sequence[Check]
    ) -> dict[int, Refusal]:
        """Refusals by position in `checks`, from one statement; holds the account's
        consent order (see `store.consent.lock_account`) until the transaction ends."""
        if not checks:
            return {}
        consent_store.lock_account(conn, account_id, exclusive=False)
        purposes = sorted({c.purpose for c in checks if c.purpose != TRANSACTIONAL})
        events, suppressed = consent_store.consent_facts(
            conn,
            account_id,
            [c.number_index for c in checks],
            purposes,
            with_ledger=bool(purposes),
        )
        refused: dict[int, Refusal] = {}
        for position, check in enumerate(checks):
            if is_suppressed(suppressed.get(check.number_index, ()), check.channel):
                refused[position] = OPTED_OUT
            elif (
                check.purpose != TRANSACTIONAL
                and not state_of(
                    events.get(check.number_index, ()), check.channel, check.purpose
                ).valid
            ):
                refused[position] = NO_CONSENT
        return refused
