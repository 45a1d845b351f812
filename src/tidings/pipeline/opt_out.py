"""Opt-out and opt-in of a number, inside the caller's transaction.

An opt-out is written with everything it implies in ONE transaction: the ledger event,
the suppression entry, the cancellation of the marketing messages still waiting for that
number (all waiting messages when the account refuses transactional traffic to opted-out
numbers), and the `consent.opt_out` webhook. It holds the account's consent order
exclusively (`store.consent.lock_account`), so no accept that checked consent before it
can commit a message after it unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from tidings.core.clock import iso
from tidings.core.crypto import Crypto
from tidings.core.ids import new_id
from tidings.domain.consent import ALL, MARKETING, TRANSACTIONAL
from tidings.pipeline.transitions import Change, StatusWriter, account_webhook_urls, webhook_row
from tidings.store import consent as consent_store
from tidings.store import webhooks as webhook_store


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """A "no" for one number, channel (or `all`) and purpose, recorded in a batch."""

    number_index: bytes
    channel: str
    purpose: str
    action: str


@dataclass(frozen=True, slots=True)
class Outcome:
    event_id: str
    canceled: list[str]


def ledger_row(
    crypto: Crypto,
    *,
    account_id: str,
    number_index: bytes,
    contact_id: str | None,
    channel: str,
    purpose: str,
    action: str,
    basis: str,
    source: str,
    evidence: dict[str, Any] | None,
    policy_version: str,
    occurred_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """A consent event row; the evidence (notice, IP, user agent...) encrypted."""
    return {
        "id": new_id("cev", now),
        "account_id": account_id,
        "number_index": number_index,
        "contact_id": contact_id,
        "channel": channel,
        "purpose": purpose,
        "action": action,
        "basis": basis,
        "source": source,
        "evidence_enc": None
        if not evidence
        else crypto.encrypt(account_id, "consent_events.evidence", orjson.dumps(evidence).decode()),
        "policy_version": policy_version,
        "occurred_at": occurred_at,
        "recorded_at": now,
    }


class OptOuts:
    def __init__(self, crypto: Crypto, writer: StatusWriter, policy_version: str) -> None:
        self._crypto = crypto
        self._writer = writer
        self.policy_version = policy_version

    @property
    def crypto(self) -> Crypto:
        return self._crypto

    def opt_out(
        self,
        conn: Connection,
        *,
        account_id: str,
        number_index: bytes,
        channel: str,
        source: str,
        evidence: dict[str, Any],
        now: datetime,
        number: str | None,
    ) -> Outcome:
        consent_store.lock_account(conn, account_id, exclusive=True)
        row = self._event(account_id, number_index, channel, "withdrawn", source, evidence, now)
        consent_store.insert_events(conn, [row])
        canceled = self.suppress(conn, account_id, number_index, channel, source, row["id"], now)
        self._notify(conn, account_id, "consent.opt_out", channel, source, number, now, canceled)
        return Outcome(row["id"], canceled)

    def suppress(
        self,
        conn: Connection,
        account_id: str,
        number_index: bytes,
        channel: str,
        source: str,
        event_id: str,
        now: datetime,
    ) -> list[str]:
        """What an opt-out does after its ledger event (`event_id`): the number on the
        suppression list and its waiting messages canceled (the account must be locked
        already). Returns the canceled message ids."""
        consent_store.suppress(
            conn,
            account_id=account_id,
            number_index=number_index,
            channel=channel,
            source=source,
            event_id=event_id,
            now=now,
        )
        settings = consent_store.get_settings(conn, account_id)
        refuse_all = settings is not None and settings.transactional == "refuse"
        return self.cancel_waiting(
            conn,
            account_id,
            number_index,
            channel,
            now,
            excluded=[] if refuse_all else [TRANSACTIONAL],
            only=None,
            code="opted_out",
            reason="the recipient opted out before the message was sent",
        )

    def cancel_waiting(
        self,
        conn: Connection,
        account_id: str,
        number_index: bytes,
        channel: str,
        now: datetime,
        *,
        excluded: list[str],
        only: list[str] | None,
        code: str,
        reason: str,
    ) -> list[str]:
        """Cancel the scheduled and queued messages to the number that no worker holds."""
        waiting = consent_store.pending_messages_to(
            conn, account_id, number_index, None if channel == ALL else [channel], excluded, only
        )
        canceled = consent_store.take_unleased_work(conn, waiting, now)
        fields = {"error_code": code, "error_message": reason}
        self._writer.apply(
            conn,
            [Change(m, "canceled", dict(fields), code.replace("_", " ")) for m in canceled],
            now,
        )
        return canceled

    def cancel_withdrawn(
        self, conn: Connection, account_id: str, withdrawals: Sequence[Withdrawal], now: datetime
    ) -> list[str]:
        """Many numbers' `cancel_waiting` for the purpose they withdrew, in one query: what
        the consent API does for one withdrawal (the account must be locked already)."""
        targets = [w for w in withdrawals if w.purpose != TRANSACTIONAL]
        if not targets:
            return []
        waiting = consent_store.pending_messages_to_numbers(
            conn,
            account_id,
            list({w.number_index for w in targets}),
            sorted({w.purpose for w in targets}),
        )
        reasons: dict[str, str] = {}
        for message_id, index, channel, purpose in waiting:
            for w in targets:
                if w.number_index == index and w.purpose == purpose and w.channel in (channel, ALL):
                    reasons[message_id] = (
                        f"consent for {purpose} was {w.action} before the message was sent"
                    )
        canceled = consent_store.take_unleased_work(conn, list(reasons), now)
        self._writer.apply(
            conn,
            [
                Change(
                    m,
                    "canceled",
                    {"error_code": "no_consent", "error_message": reasons[m]},
                    "no consent",
                )
                for m in canceled
            ],
            now,
        )
        return canceled

    def opt_in(
        self,
        conn: Connection,
        *,
        account_id: str,
        number_index: bytes,
        channel: str,
        source: str,
        evidence: dict[str, Any],
        now: datetime,
        number: str | None,
    ) -> Outcome:
        consent_store.lock_account(conn, account_id, exclusive=True)
        row = self._event(account_id, number_index, channel, "granted", source, evidence, now)
        consent_store.insert_events(conn, [row])
        consent_store.unsuppress(
            conn,
            account_id=account_id,
            number_index=number_index,
            channel=channel,
            source=source,
            event_id=row["id"],
            now=now,
        )
        self._notify(conn, account_id, "consent.opt_in", channel, source, number, now, [])
        return Outcome(row["id"], [])

    def _event(
        self,
        account_id: str,
        number_index: bytes,
        channel: str,
        action: str,
        source: str,
        evidence: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        return ledger_row(
            self._crypto,
            account_id=account_id,
            number_index=number_index,
            contact_id=None,
            channel=channel,
            purpose=MARKETING,
            action=action,
            basis="consent",
            source=source,
            evidence={**evidence, "at": iso(now)},
            policy_version=self.policy_version,
            occurred_at=now,
            now=now,
        )

    def _notify(
        self,
        conn: Connection,
        account_id: str,
        event: str,
        channel: str,
        source: str,
        number: str | None,
        now: datetime,
        canceled: list[str],
    ) -> None:
        url = account_webhook_urls(conn, {account_id}).get(account_id)
        if url is None:
            return
        payload = {
            "event": event,
            "channel": channel,
            "number": number,
            "source": source,
            "canceled_message_ids": canceled,
            "at": iso(now),
        }
        webhook_store.insert_deliveries(
            conn, [webhook_row(self._crypto, account_id, None, event, url, payload, now)]
        )
