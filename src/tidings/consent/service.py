"""The consent ledger of an account's recipients, its keyword settings and opt-out links."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select

from tidings.consent.links import LinkTarget, make_token, read_token
from tidings.contacts.service import contact_not_found
from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.ids import is_valid_id
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.consent import (
    CHANNELS,
    DEFAULT_REPLIES,
    EVENT_CHANNELS,
    KEYWORD_KINDS,
    TRANSACTIONAL,
    ConsentError,
    check_event,
    check_keywords,
    states,
)
from tidings.pipeline.consent_gate import ConsentGate
from tidings.pipeline.keywords import Languages, default_languages, languages_of
from tidings.pipeline.opt_out import OptOuts, ledger_row
from tidings.store import consent as consent_store
from tidings.store import contacts as contact_store
from tidings.store.database import Database
from tidings.store.tables import messages

MAX_EVIDENCE_TEXT = 2000
MAX_CLOCK_SKEW = timedelta(minutes=5)
REPLY_FIELDS = tuple(DEFAULT_REPLIES)
MAX_LANGUAGES = 20
MAX_KEYWORDS_PER_KIND = 20


class ConsentService:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        opt_outs: OptOuts,
        gate: ConsentGate,
        public_url: str,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._opt_outs = opt_outs
        self._gate = gate
        self._public_url = public_url.rstrip("/")

    @property
    def policy_version(self) -> str:
        return self._opt_outs.policy_version

    # --- the ledger ----------------------------------------------------------------------
    def record_for_contact(
        self, account_id: str, contact_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Record an event for a contact: keyed by its number's index and its id."""
        index = self._contact_index(account_id, contact_id)
        evidence = dict(values.get("evidence") or {})
        occurred_at = evidence.pop("at", None)
        _check_evidence(evidence)
        return self._record(
            account_id,
            index,
            contact_id=contact_id,
            channel=values["channel"],
            purpose=values["purpose"],
            action=values["action"],
            basis=values["basis"],
            source=values.get("source") or "api",
            evidence={k: v for k, v in evidence.items() if v is not None} or None,
            occurred_at=occurred_at,
        )

    def consents_of_contact(self, account_id: str, contact_id: str) -> dict[str, Any]:
        index = self._contact_index(account_id, contact_id)
        return {"contact_id": contact_id, **self._consents(account_id, index)}

    def _contact_index(self, account_id: str, contact_id: str) -> bytes:
        if not is_valid_id(contact_id, "con"):
            raise contact_not_found(contact_id)
        with self._db.read() as conn:
            row = contact_store.get_contact(conn, account_id, contact_id)
        if row is None:
            raise contact_not_found(contact_id)
        return bytes(row.number_index)

    def record(
        self,
        account_id: str,
        number: str,
        *,
        contact_id: str | None,
        channel: str,
        purpose: str,
        action: str,
        basis: str,
        source: str,
        evidence: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Append one event to the ledger of `number` (E.164) in the account."""
        return self._record(
            account_id,
            self._index(account_id, number),
            contact_id=contact_id,
            channel=channel,
            purpose=purpose,
            action=action,
            basis=basis,
            source=source,
            evidence=evidence,
            occurred_at=occurred_at,
        )

    def _record(
        self,
        account_id: str,
        index: bytes,
        *,
        contact_id: str | None,
        channel: str,
        purpose: str,
        action: str,
        basis: str,
        source: str,
        evidence: dict[str, Any] | None,
        occurred_at: datetime | None,
    ) -> dict[str, Any]:
        try:
            check_event(channel, purpose, action, basis, source)
        except ConsentError as exc:
            raise InvalidInput(
                str(exc), code="invalid_consent", extra={"field": exc.field}
            ) from exc
        if source == "keyword":
            raise InvalidInput(
                "'source' keyword is for events the keywords record themselves; use api, "
                "import, web_form or console",
                code="invalid_consent",
                extra={"field": "source"},
            )
        now = self._clock.now()
        try:
            occurred = to_utc(occurred_at) if occurred_at is not None else now
        except OverflowError:  # year 1 or 9999 with an offset: no such UTC time
            raise InvalidInput(
                "'evidence.at' is out of range; give a time like 2026-02-27T10:00:00Z",
                code="invalid_consent",
                extra={"field": "evidence.at"},
            ) from None
        if occurred - now > MAX_CLOCK_SKEW:
            raise InvalidInput(
                "'evidence.at' lies in the future; give the time the person acted",
                code="invalid_consent",
                extra={"field": "evidence.at"},
            )
        row = ledger_row(
            self._crypto,
            account_id=account_id,
            number_index=index,
            contact_id=contact_id,
            channel=channel,
            purpose=purpose,
            action=action,
            basis=basis,
            source=source,
            evidence=evidence,
            policy_version=self.policy_version,
            occurred_at=occurred,
            now=now,
        )
        with self._db.write() as conn:
            if action != "granted":  # nothing waiting for this purpose may go out after it
                consent_store.lock_account(conn, account_id, exclusive=True)
            consent_store.insert_events(conn, [row])
            canceled: list[str] = []
            if action != "granted" and purpose != TRANSACTIONAL:
                canceled = self._opt_outs.cancel_waiting(
                    conn,
                    account_id,
                    index,
                    channel,
                    now,
                    excluded=[],
                    only=[purpose],
                    code="no_consent",
                    reason=f"consent for {purpose} was {action} before the message was sent",
                )
        return {**self._event_view(account_id, row), "canceled_message_ids": canceled}

    def _index(self, account_id: str, number: str, field: str = "number") -> bytes:
        try:
            normalised = normalise_number(number, field)
        except AddressError as exc:
            raise InvalidInput(str(exc), code="invalid_number", extra={"field": field}) from exc
        return self._crypto.blind_index(account_id, normalised)

    def consents_of_number(self, account_id: str, number: str) -> dict[str, Any]:
        """The current state per channel and purpose, the opt-outs and the full history."""
        return self._consents(account_id, self._index(account_id, number))

    def _consents(self, account_id: str, index: bytes) -> dict[str, Any]:
        with self._db.read() as conn:
            rows = consent_store.events_of_number(conn, account_id, index)
            suppressed = consent_store.suppressed_channels(conn, account_id, index)
        return {
            "state": [
                {
                    "channel": s.channel,
                    "purpose": s.purpose,
                    "status": s.status,
                    "valid": s.valid,
                    "basis": s.basis,
                    "since": iso(s.since),
                    "event_id": s.event_id,
                }
                for s in states(consent_store.as_event(r) for r in rows)
            ],
            "opted_out": sorted(
                set(CHANNELS) if "all" in suppressed else suppressed,
                key=EVENT_CHANNELS.index,
            ),
            "history": [self._event_view(account_id, r._mapping) for r in rows],
        }

    def _event_view(self, account_id: str, row: Any) -> dict[str, Any]:
        evidence = self._crypto.decrypt_or_none(
            account_id, "consent_events.evidence", row["evidence_enc"]
        )
        return {
            "id": row["id"],
            "contact_id": row["contact_id"],
            "channel": row["channel"],
            "purpose": row["purpose"],
            "action": row["action"],
            "basis": row["basis"],
            "source": row["source"],
            "evidence": orjson.loads(evidence) if evidence else None,
            "policy_version": row["policy_version"],
            "occurred_at": iso(row["occurred_at"]),
            "recorded_at": iso(row["recorded_at"]),
        }

    # --- settings ------------------------------------------------------------------------
    def opt_out_policy(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = consent_store.get_settings(conn, account_id)
        return {
            "transactional": row.transactional if row else "allow",
            "confirm_by_reply": bool(row.confirm_by_reply) if row else False,
        }

    def set_opt_out_policy(
        self, account_id: str, transactional: str | None, confirm_by_reply: bool | None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if transactional is not None:
            if transactional not in ("allow", "refuse"):
                raise InvalidInput(
                    "'transactional' must be allow (send transactional messages to opted-out "
                    "numbers) or refuse",
                    code="invalid_policy",
                    extra={"field": "transactional"},
                )
            values["transactional"] = transactional
        if confirm_by_reply is not None:
            values["confirm_by_reply"] = confirm_by_reply
        if values:
            with self._db.write() as conn:
                consent_store.put_settings(conn, account_id, self._clock.now(), **values)
            self._gate.forget()
        return self.opt_out_policy(account_id)

    def keywords(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = consent_store.get_settings(conn, account_id)
        return {"languages": languages_of(row), "custom": row is not None and bool(row.keywords)}

    def set_keywords(self, account_id: str, languages: Languages | None) -> dict[str, Any]:
        """Replace the keywords (None: back to the defaults)."""
        if languages is not None:
            languages = _checked_languages(languages)
        text = None if languages is None else orjson.dumps(languages).decode()
        with self._db.write() as conn:
            consent_store.put_settings(conn, account_id, self._clock.now(), keywords=text)
        return self.keywords(account_id)

    # --- opt-out links ---------------------------------------------------------------
    def opt_out_link(self, account_id: str, number: str, channel: str) -> dict[str, Any]:
        if channel not in EVENT_CHANNELS:
            raise InvalidInput(
                f"'channel' must be one of {', '.join(EVENT_CHANNELS)}",
                code="invalid_channel",
                extra={"field": "channel"},
            )
        index = self._index(account_id, number, "to")
        token = make_token(self._crypto, LinkTarget(account_id, index, channel))
        return {"url": f"{self._public_url}/o/{token}", "token": token, "channel": channel}

    def link_target(self, token: str) -> LinkTarget:
        target = read_token(self._crypto, token)
        if target is None:
            raise NotFound(
                "this opt-out link is not valid; check that it was copied whole",
                code="link_not_found",
            )
        return target

    def opt_out_by_link(self, token: str, evidence: dict[str, Any]) -> LinkTarget:
        target = self.link_target(token)
        now = self._clock.now()
        with self._db.write() as conn:
            number = _number_of(conn, self._crypto, target)
            self._opt_outs.opt_out(
                conn,
                account_id=target.account_id,
                number_index=target.number_index,
                channel=target.channel,
                source="web_form",
                evidence=evidence,
                now=now,
                number=number,
            )
        return target


def _number_of(conn: Any, crypto: Crypto, target: LinkTarget) -> str | None:
    """The number behind an index, from the latest message to it (for the webhook)."""
    row = conn.execute(
        select(messages.c.recipient_enc)
        .where(
            messages.c.account_id == target.account_id,
            messages.c.recipient_index == target.number_index,
        )
        .order_by(messages.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return crypto.decrypt_or_none(target.account_id, "messages.recipient", row.recipient_enc)


def _check_evidence(evidence: dict[str, Any]) -> None:
    ip = evidence.get("ip")
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidInput(
                "'evidence.ip' must be an IPv4 or IPv6 address, like 203.0.113.7",
                code="invalid_consent",
                extra={"field": "evidence.ip"},
            ) from None


def _checked_languages(languages: Languages) -> Languages:
    if not languages:
        raise InvalidInput(
            "'languages' must hold at least one language; send null to use the defaults",
            code="invalid_keywords",
            extra={"field": "languages"},
        )
    if len(languages) > MAX_LANGUAGES:
        raise InvalidInput(
            f"'languages' may hold at most {MAX_LANGUAGES} languages",
            code="invalid_keywords",
            extra={"field": "languages"},
        )
    result: Languages = {}
    for language, entry in languages.items():
        where = f"languages.{language}"
        if not (2 <= len(language) <= 8 and language.replace("-", "").isalnum()):
            raise InvalidInput(
                f"'{where}': a language is a code like en, bg or pt-BR",
                code="invalid_keywords",
                extra={"field": where},
            )
        cleaned: dict[str, Any] = {}
        for kind in KEYWORD_KINDS:
            words = entry.get(kind, [])
            if len(words) > MAX_KEYWORDS_PER_KIND:
                raise InvalidInput(
                    f"'{where}.{kind}' may hold at most {MAX_KEYWORDS_PER_KIND} keywords",
                    code="invalid_keywords",
                    extra={"field": f"{where}.{kind}"},
                )
            cleaned[kind] = [w.strip() for w in words]
        for field in REPLY_FIELDS:
            cleaned[field] = entry.get(field) or DEFAULT_REPLIES[field]
        result[language] = cleaned
    try:
        check_keywords(result)
    except ConsentError as exc:
        raise InvalidInput(str(exc), code="invalid_keywords", extra={"field": exc.field}) from exc
    return result


__all__ = ["ConsentService", "default_languages"]
