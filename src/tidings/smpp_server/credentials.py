"""SMPP credentials: a system_id and password per bind identity, the password stored hashed.

SMPP limits a password to 8 characters, so it is drawn at random from 62 symbols (about
47 bits) and kept as an argon2id hash: a stolen table does not give binds away. Online
guessing is what the server's slow-down of repeated failures is for. The argon2id cost is
OWASP's minimum (19 MiB, 2 passes): a bind is rare, but it should not take a second on a
busy node either.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from tidings.core.clock import Clock, iso
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.store import accounts as account_store
from tidings.store import smpp as smpp_store
from tidings.store.database import Database

PASSWORD_LENGTH = 8  # the SMPP 3.4 maximum (9 octets with the NUL)
SYSTEM_ID_PREFIX = "tid"
_ALPHABET = string.ascii_letters + string.digits
_SYSTEM_ID_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_MAX_BINDS = 4
DEFAULT_MAX_TPS = 500
LIMITS = {"max_binds": (1, 100), "max_tps": (1, 100_000)}
ACCOUNT_LIMITS = {"max_binds": (1, 1_000), "max_tps": (1, 100_000)}


@dataclass(frozen=True, slots=True)
class AccountCaps:
    """Caps over all binds of one account, whatever credential they use."""

    max_binds: int
    max_tps: int


@dataclass(frozen=True, slots=True)
class Credential:
    id: str
    account_id: str
    system_id: str
    max_binds: int
    max_tps: int
    account_caps: AccountCaps | None = None  # as they were at bind time


def _check_limits(bounds: dict[str, tuple[int, int]], **values: int) -> None:
    for name, value in values.items():
        low, high = bounds[name]
        if not low <= value <= high:
            raise InvalidInput(
                f"'{name}' must be from {low} to {high}",
                code=f"invalid_{name}",
                extra={"field": name},
            )


class CredentialService:
    def __init__(self, db: Database, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._clock = clock
        self._hasher = hasher or PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        # Verified against when the system_id is unknown: the same cost either way.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(8))

    def create(
        self,
        account_id: str,
        *,
        max_binds: int = DEFAULT_MAX_BINDS,
        max_tps: int = DEFAULT_MAX_TPS,
    ) -> dict[str, Any]:
        """A new system_id and password; the password is shown here once and never again."""
        _check_limits(LIMITS, max_binds=max_binds, max_tps=max_tps)
        password = "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))
        password_hash = self._hasher.hash(password)
        now = self._clock.now()
        for _ in range(5):  # a clash of random system_ids is rare; draw again
            system_id = SYSTEM_ID_PREFIX + "".join(
                secrets.choice(_SYSTEM_ID_ALPHABET) for _ in range(10)
            )
            row = {
                "id": new_id("smc", now),
                "account_id": account_id,
                "system_id": system_id,
                "password_hash": password_hash,
                "max_binds": max_binds,
                "max_tps": max_tps,
                "created_at": now,
                "revoked_at": None,
            }
            try:
                with self._db.write() as conn:
                    self._active_account(conn, account_id)
                    smpp_store.insert_credential(conn, row)
            except IntegrityError:
                continue
            return {**_public(row), "password": password}
        raise RuntimeError("could not draw a free system_id")

    def list(self, account_id: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = smpp_store.list_credentials(conn, account_id)
        return [_public(row._mapping) for row in rows]

    def revoke(self, account_id: str, credential_id: str) -> None:
        """Refuse new binds at once; sessions already bound are closed by the server."""
        if not is_valid_id(credential_id, "smc"):
            raise NotFound(
                f"no SMPP credential {credential_id[:64]!r} in this account",
                code="smpp_credential_not_found",
            )
        with self._db.write() as conn:
            if not smpp_store.revoke_credential(conn, account_id, credential_id, self._clock.now()):
                raise NotFound(
                    f"no active SMPP credential {credential_id!r} in this account",
                    code="smpp_credential_not_found",
                )

    def set_account_caps(self, account_id: str, *, max_binds: int, max_tps: int) -> dict[str, Any]:
        """Cap the binds and messages a second of all the account's credentials together;
        bound sessions follow within the server's revalidation period."""
        _check_limits(ACCOUNT_LIMITS, max_binds=max_binds, max_tps=max_tps)
        row = {
            "account_id": account_id,
            "max_binds": max_binds,
            "max_tps": max_tps,
            "updated_at": self._clock.now(),
        }
        with self._db.write() as conn:
            self._active_account(conn, account_id)
            smpp_store.set_account_limits(conn, row)
        return _public_caps(account_id, row)

    def clear_account_caps(self, account_id: str) -> dict[str, Any]:
        """Back to each credential's own caps only."""
        with self._db.write() as conn:
            self._active_account(conn, account_id)
            smpp_store.clear_account_limits(conn, account_id)
        return _public_caps(account_id, None)

    def account_caps(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            self._active_account(conn, account_id)
            row = smpp_store.account_limits(conn, account_id)
        return _public_caps(account_id, None if row is None else row._mapping)

    def current_caps(self, account_id: str) -> AccountCaps | None:
        with self._db.read() as conn:
            row = smpp_store.account_limits(conn, account_id)
        return None if row is None else AccountCaps(row.max_binds, row.max_tps)

    @staticmethod
    def _active_account(conn: Any, account_id: str) -> None:
        account = account_store.get_account(conn, account_id)
        if account is None or account.status != "active":
            raise NotFound(f"no active account {account_id[:64]!r}", code="account_not_found")

    def authenticate(self, system_id: str, password: str) -> Credential | None:
        """The credential when system_id and password match an active one (slow: argon2)."""
        with self._db.read() as conn:
            row = smpp_store.credential_by_system_id(conn, system_id)
            account = account_store.get_account(conn, row.account_id) if row else None
            caps = smpp_store.account_limits(conn, row.account_id) if row else None
        usable = row is not None and row.revoked_at is None and account is not None
        usable = usable and account.status == "active"  # type: ignore[union-attr]
        try:
            self._hasher.verify(row.password_hash if usable else self._decoy, password)  # type: ignore[union-attr]
        except (VerificationError, InvalidHashError):
            return None
        if not usable:
            return None
        assert row is not None
        return Credential(
            row.id,
            row.account_id,
            row.system_id,
            row.max_binds,
            row.max_tps,
            None if caps is None else AccountCaps(caps.max_binds, caps.max_tps),
        )

    def is_active(self, credential_id: str, system_id: str) -> bool:
        with self._db.read() as conn:
            row = smpp_store.credential_by_system_id(conn, system_id)
        return row is not None and row.id == credential_id and row.revoked_at is None


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "account_id": row["account_id"],
        "system_id": row["system_id"],
        "max_binds": row["max_binds"],
        "max_tps": row["max_tps"],
        "created_at": iso(row["created_at"]),
        "revoked_at": iso(row["revoked_at"]),
    }


def _public_caps(account_id: str, row: Any) -> dict[str, Any]:
    """The account's caps; null where only each credential's own apply."""
    return {
        "account_id": account_id,
        "max_binds": None if row is None else row["max_binds"],
        "max_tps": None if row is None else row["max_tps"],
        "updated_at": None if row is None else iso(row["updated_at"]),
    }
