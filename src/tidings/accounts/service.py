"""Accounts (tenants), their users, API keys and data keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from tidings.core.ids import is_valid_id, new_id
from tidings.pipeline.webhook_destinations import WebhookDestinations
from tidings.store import accounts as account_store
from tidings.store import keys as key_store
from tidings.store import smpp as smpp_store
from tidings.store.database import Database

SCOPES = ("messages:send", "messages:read", "admin", "operator")
# The operator runs the Tidings deployment (connectors, routes, holds, registers). An account's
# "admin" scope never implies it, and only the CLI (shell access to the deployment) grants it.
OPERATOR_SCOPE = "operator"
KEY_PREFIX = "tdk"
_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    key_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope == OPERATOR_SCOPE:
            if OPERATOR_SCOPE not in self.scopes:
                raise Forbidden(
                    "this endpoint is for the operator of this Tidings deployment; create an "
                    "operator key on the server (tidings apikey create --account ID "
                    "--scope operator)"
                )
            return
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(
                f"this API key lacks the '{scope}' scope; create a key with it "
                f"(tidings apikey create --scope {scope})"
            )


def parse_scopes(scopes: list[str] | None, *, allow_operator: bool = False) -> list[str]:
    chosen = list(dict.fromkeys(scopes or ["messages:send", "messages:read"]))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"'scopes' holds unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}",
            code="invalid_scope",
            extra={"field": "scopes"},
        )
    if OPERATOR_SCOPE in chosen and not allow_operator:
        raise InvalidInput(
            "'scopes' may not hold 'operator' here; operator keys are created on the server "
            "with: tidings apikey create --account ID --scope operator",
            code="invalid_scope",
            extra={"field": "scopes"},
        )
    return chosen


class AccountService:
    def __init__(
        self, db: Database, crypto: Crypto, clock: Clock, destinations: WebhookDestinations
    ) -> None:
        self._db = db
        self._destinations = destinations
        self._crypto = crypto
        self._clock = clock
        self._hasher = PasswordHasher()
        # prefix -> (when, principal or the reason it is refused, key digest)
        self._cache: dict[str, tuple[float, Principal | str, bytes]] = {}
        self._cache_lock = threading.Lock()

    # --- accounts ------------------------------------------------------------
    def create_account(self, name: str) -> dict[str, Any]:
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise InvalidInput(
                "'name' must be 1 to 200 characters", code="invalid_name", extra={"field": "name"}
            )
        now = self._clock.now()
        account_id = new_id("acc", now)
        key_id = new_id("dk", now)
        with self._db.write() as conn:
            wrapped = self._crypto.new_wrapped_key(key_id)
            self._crypto.keep([(key_id, wrapped)])  # the material goes to the key vault
            account_store.insert_data_key(
                conn, key_id=key_id, account_id=account_id, wrapped=None, created_at=now
            )
            # The key row is not committed yet, so hand the key to the cipher directly.
            self._crypto.remember(account_id, key_id, wrapped)
            account_store.insert_account(
                conn,
                account_id=account_id,
                name_enc=self._crypto.encrypt(account_id, "accounts.name", name),
                webhook_secret_enc=self._crypto.encrypt(
                    account_id, "accounts.webhook_secret", "whsec_" + secrets.token_urlsafe(24)
                ),
                created_at=now,
            )
        return {"account_id": account_id, "name": name, "created_at": iso(now)}

    def get_account(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = account_store.get_account(conn, account_id)
        if row is None:
            raise NotFound(f"no account {account_id!r}", code="account_not_found")
        return self._account_view(row)

    def _account_view(self, row: Any) -> dict[str, Any]:
        return {
            "id": row.id,
            "name": self._crypto.decrypt_or_none(row.id, "accounts.name", row.name_enc),
            "status": row.status,
            "webhook_url": row.webhook_url,
            "created_at": iso(row.created_at),
            "closed_at": iso(row.closed_at),
        }

    def close_account(self, account_id: str) -> dict[str, Any]:
        """Close an account: record when (the anchor its retention counts from), revoke its
        API keys and SMPP credentials (bound SMPP sessions are closed by the server)."""
        if not is_valid_id(account_id, "acc"):
            raise NotFound(f"no account {account_id[:64]!r}", code="account_not_found")
        now = self._clock.now()
        with self._db.write() as conn:
            row = account_store.get_account(conn, account_id)
            if row is None:
                raise NotFound(f"no account {account_id!r}", code="account_not_found")
            if not account_store.close_account(conn, account_id, now):
                raise Conflict(
                    f"account {account_id!r} is already closed (since {iso(row.closed_at)})",
                    code="account_already_closed",
                    extra={"account_id": account_id},
                )
            keys = account_store.revoke_all_api_keys(conn, account_id, now)
            credentials = smpp_store.revoke_all_credentials(conn, account_id, now)
        with self._cache_lock:
            self._cache.clear()
        return {
            **self.get_account(account_id),
            "revoked_api_keys": keys,
            "revoked_smpp_credentials": credentials,
        }

    def list_accounts(self) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            return [self._account_view(r) for r in account_store.list_accounts(conn)]

    def set_webhook(self, account_id: str, url: str | None) -> dict[str, Any]:
        if url is not None:
            self._destinations.check_url(url, "url", code="invalid_url")
        with self._db.write() as conn:
            if account_store.get_account(conn, account_id) is None:
                raise NotFound(f"no account {account_id!r}", code="account_not_found")
            account_store.set_webhook_url(conn, account_id, url)
        return self.webhook(account_id)

    def webhook(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = account_store.get_account(conn, account_id)
        if row is None:
            raise NotFound(f"no account {account_id!r}", code="account_not_found")
        return {
            "url": row.webhook_url,
            "secret": self._crypto.decrypt(
                account_id, "accounts.webhook_secret", row.webhook_secret_enc
            ),
        }

    # --- users ---------------------------------------------------------------
    def create_user(
        self, account_id: str, email: str, password: str, role: str = "owner"
    ) -> dict[str, Any]:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise InvalidInput(
                "'email' must be an email address", code="invalid_email", extra={"field": "email"}
            )
        if len(password) < 12:
            raise InvalidInput(
                "the password must be at least 12 characters",
                code="weak_password",
                extra={"field": "password"},
            )
        now = self._clock.now()
        user_id = new_id("usr", now)
        index = self._crypto.blind_index("global", "email:" + email)
        # A user is a data subject of their own: their email goes under their subject key.
        key = self._crypto.subject_key(
            account_id, user_subject_index(self._crypto, account_id, user_id), now
        )
        minted = [key.key_id] if key.row is not None else []
        try:
            with self._db.write() as conn:
                if account_store.get_account(conn, account_id) is None:
                    raise NotFound(f"no account {account_id!r}", code="account_not_found")
                if account_store.user_by_email_index(conn, index) is not None:
                    raise Conflict("a user with this email exists", code="user_exists")
                key_store.insert_minted_keys(conn, [key.row] if key.row is not None else [])
                account_store.insert_user(
                    conn,
                    user_id=user_id,
                    account_id=account_id,
                    email_enc=self._crypto.encrypt(account_id, "users.email", email, key),
                    email_index=index,
                    password_hash=self._hasher.hash(password),
                    role=role,
                    created_at=now,
                )
        except BaseException:
            self._crypto.discard(minted)
            raise
        self._crypto.confirm(minted)
        return {"id": user_id, "account_id": account_id, "email": email, "role": role}

    def verify_user(self, email: str, password: str) -> str | None:
        """The user's account id when the password matches, else None."""
        user = self.signed_in_user(email, password)
        return None if user is None else user["account_id"]

    def signed_in_user(self, email: str, password: str) -> dict[str, Any] | None:
        """The user (id, account_id, email) when the password matches, else None."""
        index = self._crypto.blind_index("global", "email:" + email.strip().lower())
        with self._db.read() as conn:
            row = account_store.user_by_email_index(conn, index)
        if row is None:
            self._hasher.hash(password)  # same cost either way: no user enumeration by timing
            return None
        try:
            self._hasher.verify(row.password_hash, password)
        except Exception:
            return None
        return {"id": row.id, "account_id": row.account_id, "email": email.strip().lower()}

    def find_user(self, email: str) -> dict[str, Any] | None:
        """A user by email (for the operator's CLI), or None."""
        index = self._crypto.blind_index("global", "email:" + email.strip().lower())
        with self._db.read() as conn:
            row = account_store.user_by_email_index(conn, index)
        if row is None:
            return None
        return {"id": row.id, "account_id": row.account_id, "email": email.strip().lower()}

    # --- API keys ------------------------------------------------------------
    def create_api_key(
        self,
        account_id: str,
        name: str = "default",
        scopes: list[str] | None = None,
        *,
        allow_operator: bool = False,
    ) -> dict[str, Any]:
        chosen = parse_scopes(scopes, allow_operator=allow_operator)
        if not 1 <= len(name) <= 100:
            raise InvalidInput(
                "'name' must be 1 to 100 characters", code="invalid_name", extra={"field": "name"}
            )
        now = self._clock.now()
        key_id = new_id("key", now)
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        api_key = f"{KEY_PREFIX}_{prefix}_{secret}"
        with self._db.write() as conn:
            account = account_store.get_account(conn, account_id)
            if account is None:
                raise NotFound(f"no account {account_id!r}", code="account_not_found")
            if account.status == "closed":
                raise Conflict(
                    f"account {account_id} is closed (its keys are destroyed); it takes no "
                    "new API keys",
                    code="account_closed",
                )
            account_store.insert_api_key(
                conn,
                key_id=key_id,
                account_id=account_id,
                name=name,
                prefix=prefix,
                secret_hash=_hash_key(api_key),
                scopes=" ".join(chosen),
                created_at=now,
            )
        return {
            "id": key_id,
            "account_id": account_id,
            "name": name,
            "scopes": chosen,
            "api_key": api_key,
            "created_at": iso(now),
        }

    def list_api_keys(self, account_id: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = account_store.list_api_keys(conn, account_id)
        return [
            {
                "id": r.id,
                "name": r.name,
                "prefix": f"{KEY_PREFIX}_{r.prefix}",
                "scopes": r.scopes.split(),
                "created_at": iso(r.created_at),
                "revoked_at": iso(r.revoked_at),
            }
            for r in rows
        ]

    def revoke_api_key(self, account_id: str, key_id: str) -> None:
        if not is_valid_id(key_id, "key"):  # never query with what no id can be (NUL...)
            raise NotFound(
                f"no active API key {key_id[:64]!r} in this account", code="api_key_not_found"
            )
        with self._db.write() as conn:
            if not account_store.revoke_api_key(conn, account_id, key_id, self._clock.now()):
                raise NotFound(
                    f"no active API key {key_id!r} in this account", code="api_key_not_found"
                )
        with self._cache_lock:
            self._cache.clear()

    def forget_cached_principals(self) -> None:
        """Drop every cached key check (after keys were revoked outside this service)."""
        with self._cache_lock:
            self._cache.clear()

    def cached_principal(self, api_key: str) -> Principal | None:
        """The principal from the in-memory cache, None on a miss; no I/O."""
        prefix = _key_prefix(api_key)
        cached = self._cache.get(prefix)
        if (
            cached is None
            or time.monotonic() - cached[0] >= _CACHE_SECONDS
            or cached[2] != _hash_key(api_key)
        ):
            return None
        if isinstance(cached[1], str):
            raise Unauthorized(cached[1], code=_refusal_code(cached[1]))
        return cached[1]

    def authenticate(self, api_key: str) -> Principal:
        """The principal of a Bearer key. Verified keys are cached for a few seconds."""
        principal = self.cached_principal(api_key)
        if principal is not None:
            return principal
        prefix = _key_prefix(api_key)
        digest = _hash_key(api_key)
        outcome: Principal | str = _UNKNOWN_KEY
        with self._db.read() as conn:
            row = account_store.api_key_by_prefix(conn, prefix)
            if row is not None and hmac.compare_digest(bytes(row.secret_hash), digest):
                if row.revoked_at is None:
                    outcome = Principal(row.account_id, row.id, frozenset(row.scopes.split()))
                else:
                    account = account_store.get_account(conn, row.account_id)
                    if account is not None and account.closed_at is not None:
                        outcome = _CLOSED_ACCOUNT
        with self._cache_lock:
            if len(self._cache) > 10_000:  # random keys must not grow memory without bound
                self._cache.clear()
            self._cache[prefix] = (time.monotonic(), outcome, digest)
        if isinstance(outcome, str):
            raise Unauthorized(outcome, code=_refusal_code(outcome))
        return outcome


_UNKNOWN_KEY = "the API key is unknown or revoked"
_CLOSED_ACCOUNT = "the account of this API key is closed: it can no longer send or read"


def _refusal_code(reason: str) -> str:
    return "account_closed" if reason == _CLOSED_ACCOUNT else "invalid_api_key"


def user_subject_index(crypto: Crypto, account_id: str, user_id: str) -> bytes:
    """The subject index of an account's user (their key is found by it)."""
    return crypto.blind_index(account_id, "user:" + user_id)


def _key_prefix(api_key: str) -> str:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        raise Unauthorized("the API key is malformed; send 'Authorization: Bearer tdk_...'")
    return parts[1]


def _hash_key(api_key: str) -> bytes:
    # API keys carry 256 bits of entropy: a fast hash is safe; argon2 is for passwords.
    return hashlib.sha256(api_key.encode()).digest()
