"""The numbers and sender ids an account owns; inbound traffic to them is theirs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain.addresses import AddressError, normalise_sender
from tidings.pipeline.accept import SUPPORTED_CHANNELS
from tidings.store import numbers as number_store
from tidings.store.database import Database


class NumberService:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock

    def add(self, account_id: str, number: str, channel: str = "sms") -> dict[str, Any]:
        if channel not in SUPPORTED_CHANNELS:
            raise InvalidInput(
                f"channel {channel!r} is not available; use one of: "
                f"{', '.join(sorted(SUPPORTED_CHANNELS))}",
                code="unsupported_channel",
                extra={"field": "channel"},
            )
        try:
            value = normalise_sender(number).value
        except AddressError as exc:
            raise InvalidInput(
                str(exc).replace("'from'", "'number'"),
                code="invalid_number",
                extra={"field": "number"},
            ) from exc
        now = self._clock.now()
        number_id = new_id("num", now)
        try:
            with self._db.write() as conn:
                number_store.insert_number(
                    conn,
                    number_id=number_id,
                    account_id=account_id,
                    channel=channel,
                    number_enc=self._crypto.encrypt(account_id, "numbers.number", value),
                    number_index=self._crypto.blind_index("global", value),
                    created_at=now,
                )
        except IntegrityError as exc:
            raise Conflict("this number is already registered", code="number_taken") from exc
        return {"id": number_id, "number": value, "channel": channel, "created_at": iso(now)}

    def list(self, account_id: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = number_store.list_numbers(conn, account_id)
        return [
            {
                "id": r.id,
                "channel": r.channel,
                "created_at": iso(r.created_at),
                "number": self._crypto.decrypt_or_none(account_id, "numbers.number", r.number_enc),
            }
            for r in rows
        ]

    def remove(self, account_id: str, number_id: str) -> None:
        if not is_valid_id(number_id, "num"):  # never query with what no id can be (NUL...)
            raise NotFound(f"no number {number_id[:64]!r} in this account", code="number_not_found")
        with self._db.write() as conn:
            if not number_store.delete_number(conn, account_id, number_id):
                raise NotFound(f"no number {number_id!r} in this account", code="number_not_found")
