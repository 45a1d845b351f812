"""Erasure by crypto-shredding: destroy a data subject's key (or a closed account's keys).

Destroying the key makes every copy of the subject's encrypted numbers and bodies
unreadable at once, in this database and in every backup taken before. Then the rows that
link to the subject are dealt with as the policy says: the blind indexes are replaced (so
nothing leads back to the person), unsent work is canceled, webhook payloads with the
subject's data are deleted, and when the policy's rule for message metadata is `delete`,
the messages go too. An audit record says who asked, when and how many rows were touched;
it holds no number, body or index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError

from tidings.accounts.service import user_subject_index
from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.holds import Hold
from tidings.domain.holds import held as is_held
from tidings.domain.policy import Policy
from tidings.domain.status import CANCELABLE
from tidings.pipeline.transitions import Change, StatusWriter
from tidings.store import accounts as account_store
from tidings.store import erasures as erasure_store
from tidings.store import keys as key_store
from tidings.store.database import Database
from tidings.store.tables import accounts, api_keys, messages, numbers, users
from tidings.store.vault import KeyVault

ERASED = {"error_code": "data_erased", "error_message": "the subject's data was erased"}


class Holds(Protocol):
    """The legal holds in force (tidings.privacy.holds.HoldService)."""

    def active(self) -> list[Hold]: ...


@dataclass(frozen=True, slots=True)
class Erasure:
    id: str | None  # None for a dry run (nothing is recorded)
    account_id: str
    scope: str  # subject, user, account
    outcome: str  # erased, held, dry_run
    requested_by: str
    keys_destroyed: int
    messages: int  # messages whose subject data is now unreadable
    messages_deleted: int
    work_canceled: int
    webhooks_deleted: int
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SubjectHeld(Conflict):
    code = "subject_on_hold"


class ErasureService:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        writer: StatusWriter,
        policy: Policy,
        vault: KeyVault,
        holds: Holds | None = None,
        on_account_closed: Callable[[str], None] = lambda account_id: None,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._writer = writer
        self._policy = policy
        self.vault = vault
        self._holds = holds
        self._on_account_closed = on_account_closed

    @property
    def deletes_messages(self) -> bool:
        """The policy's rule for message metadata says `delete`: erased messages go too."""
        rule_name = messages.c.recipient_index.info["data_class"].retention
        rule = self._policy.rule(rule_name)
        return rule is not None and rule.action == "delete"

    def subject_index(self, account_id: str, subject: str) -> bytes:
        try:
            number = normalise_number(subject, "subject")
        except AddressError as exc:
            raise InvalidInput(
                str(exc), code="invalid_subject", extra={"field": "subject"}
            ) from exc
        return self._crypto.blind_index(account_id, number)

    def _require_account(self, conn: Any, account_id: str) -> Any:
        row = account_store.get_account(conn, account_id)
        if row is None:
            raise NotFound(
                f"no account {account_id[:64]!r}; list them with: tidings account list",
                code="account_not_found",
                extra={"field": "account_id"},
            )
        return row

    # --- one subject ---------------------------------------------------------------
    def erase_subject(
        self, account_id: str, subject: str, *, requested_by: str, dry_run: bool = False
    ) -> Erasure:
        """Erase one subject (a phone number) of an account. Raises SubjectHeld (409) when a
        legal hold covers any of the subject's records (or their records made now); that
        refusal is recorded too."""
        if subject.startswith("usr_"):
            if not is_valid_id(subject, "usr"):
                raise NotFound(
                    f"no user {subject[:64]!r} in this account",
                    code="user_not_found",
                    extra={"field": "subject"},
                )
            return _retrying(lambda: self._erase_user(account_id, subject, requested_by, dry_run))
        index = self.subject_index(account_id, subject)
        return _retrying(lambda: self._erase_subject(account_id, index, requested_by, dry_run))

    def _erase_user(
        self, account_id: str, user_id: str, requested_by: str, dry_run: bool
    ) -> Erasure:
        """An account's user: their key goes (their email in every backup is unreadable),
        then their row (sign-in email index and password hash)."""
        now = self._clock.now()
        index = user_subject_index(self._crypto, account_id, user_id)
        holds = self._holds.active() if self._holds is not None else []
        held = is_held(holds, account_id, index, now)
        with self._db.write() as conn:
            self._require_account(conn, account_id)
            found = conn.execute(
                select(users.c.id).where(users.c.id == user_id, users.c.account_id == account_id)
            ).first()
            if found is None:
                raise NotFound(
                    f"no user {user_id!r} in this account",
                    code="user_not_found",
                    extra={"field": "subject"},
                )
            keys = key_store.subject_key_ids(conn, account_id, index)
            result = Erasure(
                id=None if dry_run else new_id("era", now),
                account_id=account_id,
                scope="user",
                outcome="dry_run" if dry_run else ("held" if held else "erased"),
                requested_by=requested_by,
                keys_destroyed=len(keys),
                messages=0,
                messages_deleted=0,
                work_canceled=0,
                webhooks_deleted=0,
                created_at=iso(now) or "",
            )
            if dry_run:
                return result
            if held:
                result = _nothing_done(result)
            else:
                self.vault.destroy(keys)
                key_store.destroy_subject_keys(conn, account_id, index, now)
                conn.execute(delete(users).where(users.c.id == user_id))
            erasure_store.record(conn, _audit_row(result, now))
        if held:
            raise SubjectHeld(
                "a legal hold covers this account: the user was not erased (the refusal is in "
                "the erasure log)",
                extra={"erasure": result.as_dict()},
            )
        for key_id in keys:
            self._crypto.forget(key_id)
        return result

    def _erase_subject(
        self, account_id: str, index: bytes, requested_by: str, dry_run: bool
    ) -> Erasure:
        now = self._clock.now()
        holds = self._holds.active() if self._holds is not None else []
        with self._db.write() as conn:
            self._require_account(conn, account_id)
            found = erasure_store.subject_messages(conn, account_id, index, lock=not dry_run)
            times = {to_utc(row.created_at) for row in found} | {now}
            held = any(is_held(holds, account_id, index, at) for at in times)
            ids = [row.id for row in found]
            keys = key_store.subject_key_ids(conn, account_id, index)
            work = erasure_store.cancelable_work(conn, ids, now, lock=not dry_run)
            delete = self.deletes_messages
            hooks = (erasure_store.all_webhooks if delete else erasure_store.personal_webhooks)(
                conn, ids
            )
            result = Erasure(
                id=None if dry_run else new_id("era", now),
                account_id=account_id,
                scope="subject",
                outcome="dry_run" if dry_run else ("held" if held else "erased"),
                requested_by=requested_by,
                keys_destroyed=len(keys),
                messages=len(ids),
                messages_deleted=len(ids) if delete else 0,
                work_canceled=len(work),
                webhooks_deleted=len(hooks),
                created_at=iso(now) or "",
            )
            if dry_run:
                return result
            if held:
                result = _nothing_done(result)
                erasure_store.record(conn, _audit_row(result, now))
            else:
                # The material first: should the rest fail, the data is unreadable anyway.
                self.vault.destroy(keys)
                key_store.destroy_subject_keys(conn, account_id, index, now)
                erasure_store.delete_webhooks(conn, hooks)
                erasure_store.delete_work(conn, work)
                if delete:
                    erasure_store.delete_messages(conn, ids)
                else:
                    erasure_store.unlink_subject(conn, account_id, index)
                    statuses = {row.id: row.status for row in found}
                    # Unsent work goes; a message left "sending" by a crash fails.
                    changes = [
                        Change(
                            m, "canceled" if statuses[m] in CANCELABLE else "failed", dict(ERASED)
                        )
                        for m in work
                    ]
                    self._writer.apply(conn, changes, now)
                erasure_store.record(conn, _audit_row(result, now))
        if held:
            raise SubjectHeld(
                "a legal hold covers this subject: nothing was erased (the refusal is in "
                "the erasure log); erase it once the hold is released",
                extra={"erasure": result.as_dict()},
            )
        for key_id in keys:
            self._crypto.forget(key_id)
        return result

    # --- a whole account -------------------------------------------------------------
    def erase_account(
        self, account_id: str, *, requested_by: str, dry_run: bool = False
    ) -> Erasure:
        """Close an account and destroy all its keys (its own and every subject's): its
        data, here and in every backup, can no longer be read (BSMS-17)."""
        return _retrying(lambda: self._erase_account(account_id, requested_by, dry_run))

    def _erase_account(self, account_id: str, requested_by: str, dry_run: bool) -> Erasure:
        now = self._clock.now()
        holds = self._holds.active() if self._holds is not None else []
        held = any(h.active and h.account_id == account_id for h in holds)
        with self._db.write() as conn:
            self._require_account(conn, account_id)
            keys = key_store.live_key_count(conn, account_id)
            work = erasure_store.account_pending_work(conn, account_id, now)
            hooks = erasure_store.account_undelivered_webhooks(conn, account_id)
            result = Erasure(
                id=None if dry_run else new_id("era", now),
                account_id=account_id,
                scope="account",
                outcome="dry_run" if dry_run else ("held" if held else "erased"),
                requested_by=requested_by,
                keys_destroyed=keys,
                messages=erasure_store.account_message_count(conn, account_id),
                messages_deleted=0,
                work_canceled=len(work),
                webhooks_deleted=len(hooks),
                created_at=iso(now) or "",
            )
            if dry_run:
                return result
            destroyed: list[str] = []
            if held:
                result = _nothing_done(result)
            else:
                destroyed = key_store.account_key_ids(conn, account_id)
                self.vault.destroy(destroyed)
                key_store.destroy_account_keys(conn, account_id, now)
                erasure_store.delete_work(conn, work)
                erasure_store.delete_webhooks(conn, hooks)
                # Without its key the account can no longer take traffic: close it.
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == account_id)
                    .values(status="closed", closed_at=now, webhook_url=None)
                )
                conn.execute(
                    update(api_keys)
                    .where(api_keys.c.account_id == account_id, api_keys.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                conn.execute(numbers.delete().where(numbers.c.account_id == account_id))
            erasure_store.record(conn, _audit_row(result, now))
        if held:
            raise SubjectHeld(
                "a legal hold covers this account: nothing was erased (the refusal is in the "
                "erasure log)",
                extra={"erasure": result.as_dict()},
            )
        for key_id in destroyed:
            self._crypto.forget(key_id)
        self._on_account_closed(account_id)
        return result

    def list(self, account_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if not 1 <= limit <= 500:
            raise InvalidInput(
                "'limit' must be from 1 to 500", code="invalid_limit", extra={"field": "limit"}
            )
        with self._db.read() as conn:
            rows = erasure_store.list_erasures(conn, account_id, limit)
        return [
            {
                **{c: getattr(row, c) for c in _AUDIT_COUNTS},
                "id": row.id,
                "account_id": row.account_id,
                "scope": row.scope,
                "outcome": row.outcome,
                "requested_by": row.requested_by,
                "created_at": iso(row.created_at),
            }
            for row in rows
        ]


_AUDIT_COUNTS = (
    "keys_destroyed",
    "messages",
    "messages_deleted",
    "work_canceled",
    "webhooks_deleted",
)


def _retrying(attempt: Callable[[], Erasure], tries: int = 3) -> Erasure:
    """Run an erasure transaction again when PostgreSQL picked it as a deadlock's victim
    (it competes for the same rows as the pipeline); it is all or nothing each time."""
    for remaining in range(tries - 1, -1, -1):
        try:
            return attempt()
        except OperationalError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if remaining == 0 or code not in ("40P01", "40001"):
                raise
    raise AssertionError("unreachable")


def _nothing_done(result: Erasure) -> Erasure:
    return Erasure(
        id=result.id,
        account_id=result.account_id,
        scope=result.scope,
        outcome="held",
        requested_by=result.requested_by,
        keys_destroyed=0,
        messages=0,
        messages_deleted=0,
        work_canceled=0,
        webhooks_deleted=0,
        created_at=result.created_at,
    )


def _audit_row(result: Erasure, now: datetime) -> dict[str, Any]:
    row = result.as_dict()
    row["created_at"] = now
    return row
