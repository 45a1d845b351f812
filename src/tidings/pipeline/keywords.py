"""Inbound keywords: STOP, START, HELP and their kin, per account and language.

Called for every inbound message, inside the transaction that records it, on every
channel. A match opts the sender out or in (see `opt_out.py`) or asks for help; the
answer, when one is due, is an outbound message through the pipeline from the number
that received the keyword.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.consent import ALL, DEFAULT_KEYWORDS, DEFAULT_REPLIES, match_keyword
from tidings.pipeline.accept import MessageRequest, Prepared
from tidings.pipeline.opt_out import OptOuts
from tidings.store import consent as consent_store
from tidings.store import keys as key_store
from tidings.store import messages as message_store

log = logging.getLogger("tidings.keywords")

Languages = dict[str, dict[str, Any]]


def default_languages() -> Languages:
    return {"en": {**{k: list(v) for k, v in DEFAULT_KEYWORDS.items()}, **DEFAULT_REPLIES}}


def languages_of(settings: Any) -> Languages:
    """The account's keywords by language (the defaults until it sets its own)."""
    if settings is None or settings.keywords is None:
        return default_languages()
    value: Languages = orjson.loads(settings.keywords)
    return value


class KeywordHandler:
    def __init__(
        self,
        crypto: Crypto,
        opt_outs: OptOuts,
        prepare: Callable[[str, MessageRequest, datetime], Prepared],
        wake: Callable[[], None],
    ) -> None:
        self._crypto = crypto
        self._opt_outs = opt_outs
        self._prepare = prepare
        self.wake = wake

    def handle(
        self,
        conn: Connection,
        *,
        account_id: str,
        channel: str,
        sender: str,
        to: str,
        body: str,
        message_id: str,
        now: datetime,
        minted: list[str] | None = None,
    ) -> bool:
        """Act on a keyword; True when a reply was queued. The ids of subject keys minted
        for a reply are added to `minted`, for the caller to confirm after its commit."""
        settings = consent_store.get_settings(conn, account_id)
        languages = languages_of(settings)
        found = match_keyword(body, languages)
        if found is None:
            return False
        try:
            number = normalise_number(sender, "from")
        except AddressError:
            return False  # an alphanumeric sender cannot opt out, nor be answered
        texts: Mapping[str, Any] = {**DEFAULT_REPLIES, **languages.get(found.language, {})}
        confirm = settings is not None and settings.confirm_by_reply
        evidence = {"keyword": body.strip(), "inbound_message_id": message_id}
        index = self._crypto.blind_index(account_id, number)
        reply: str | None = None
        if found.kind in ("opt_out", "opt_out_all"):
            self._opt_outs.opt_out(
                conn,
                account_id=account_id,
                number_index=index,
                channel=ALL if found.kind == "opt_out_all" else channel,
                source="keyword",
                evidence=evidence,
                now=now,
                number=number,
            )
            reply = texts["opt_out_reply"] if confirm else None
        elif found.kind == "opt_in":
            self._opt_outs.opt_in(
                conn,
                account_id=account_id,
                number_index=index,
                channel=channel,
                source="keyword",
                evidence=evidence,
                now=now,
                number=number,
            )
            reply = texts["opt_in_reply"] if confirm else None
        else:
            reply = texts["help_reply"]
        if not reply:
            return False
        try:
            prepared = self._prepare(
                account_id, MessageRequest(to=number, sender=to, body=reply, channel=channel), now
            )
        except InvalidInput as exc:
            log.warning("no reply to a %s keyword: %s", found.kind, exc.detail)
            return False
        if prepared.new_key is not None:  # a subject seen for the first time: store its key too
            key_store.insert_minted_keys(conn, [prepared.new_key])
            if minted is not None:
                minted.append(prepared.new_key["id"])
        message_store.insert_outbound(conn, [prepared.row])
        return True
