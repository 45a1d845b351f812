"""Irreversible anonymisation of messages, and statistics from anonymous aggregates only.

`Anonymiser.anonymise(message_ids)` is the action the retention sweep takes for a rule
whose action is `anonymise` (BG-10); it can also be run by hand for messages older than a
date. A subject key that no longer protects any message is destroyed as well, so not even
the key's record says the person was ever a subject of the account. The sweep destroys
keys the same way once it has deleted a subject's last message (`destroy_unused_keys`).

`Anonymiser.statistics(...)` counts messages per day, channel, direction, status and
country, and leaves out every group of fewer than K_MIN messages (k-anonymity,
BSMS-12): what it returns is about groups of at least five, never about a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection

from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput
from tidings.core.ids import lowest_id
from tidings.domain.holds import Hold
from tidings.store import anonymise as anonymise_store
from tidings.store import keys as key_store
from tidings.store.database import Database
from tidings.store.vault import KeyVault

K_MIN = 5  # the smallest group a statistic may show
GROUPS = anonymise_store.GROUPS
MAX_STATS_DAYS = 366
_BATCH = 5000


class Anonymiser:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock, vault: KeyVault) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._vault = vault

    def anonymise(self, message_ids: Sequence[str]) -> int:
        """Anonymise these messages for good; returns how many were (not already)."""
        with self._db.write() as conn:
            count, destroyed = self.anonymise_in(conn, message_ids)
        self.forget(destroyed)
        return count

    def anonymise_in(self, conn: Connection, message_ids: Sequence[str]) -> tuple[int, list[str]]:
        """`anonymise` within the caller's transaction: (how many, the keys destroyed,
        which the caller `forget`s once it has committed)."""
        subjects = anonymise_store.subject_indexes(conn, message_ids)
        count = anonymise_store.anonymise_messages(conn, message_ids, self._clock.now())
        return count, self.destroy_unused_keys(conn, subjects)

    def destroy_unused_keys(
        self, conn: Connection, subjects: Iterable[tuple[str, bytes]], holds: Sequence[Hold] = ()
    ) -> list[str]:
        """Destroy the keys of those (account, subject index) that no message carries any
        more, unless an active hold names the subject or its whole account; returns the
        keys destroyed (the material first: should the rest fail, the data stays
        unreadable). The caller `forget`s them once it has committed."""
        now = self._clock.now()
        orphans = [
            (account_id, index)
            for account_id, index in subjects
            if not any(_names(hold, account_id, index) for hold in holds)
            and not anonymise_store.subject_has_messages(conn, account_id, index)
        ]
        destroyed: list[str] = []
        for account_id, index in orphans:
            destroyed += key_store.subject_key_ids(conn, account_id, index)
        self._vault.destroy(destroyed)
        for account_id, index in orphans:
            key_store.destroy_subject_keys(conn, account_id, index, now)
        return destroyed

    def destroy_material(self, key_ids: Sequence[str]) -> None:
        """Delete keys' material from the vault (their records are deleted)."""
        self._vault.destroy(key_ids)

    def forget(self, key_ids: Iterable[str]) -> None:
        for key_id in key_ids:
            self._crypto.forget(key_id)

    def anonymise_before(
        self, before: datetime, account_id: str | None = None, *, dry_run: bool = False
    ) -> int:
        """Anonymise every message created before `before` (of one account, or all)."""
        bound = lowest_id("msg", before)
        total = 0
        while True:
            with self._db.read() as conn:
                ids = anonymise_store.messages_created_before(conn, account_id, bound, _BATCH)
            if dry_run or not ids:
                return total + len(ids) if dry_run else total
            total += self.anonymise(ids)

    def statistics(
        self, account_id: str, since: date, until: date, group_by: Sequence[str]
    ) -> dict[str, Any]:
        """Message counts of an account for whole UTC days [since, until), grouped."""
        unknown = [g for g in group_by if g not in GROUPS]
        if unknown or not group_by or len(set(group_by)) != len(group_by):
            raise InvalidInput(
                f"'group_by' takes one or more of {', '.join(GROUPS)}, comma-separated, each once",
                code="invalid_group_by",
                extra={"field": "group_by"},
            )
        if not since < until or (until - since).days > MAX_STATS_DAYS:
            raise InvalidInput(
                f"'until' must be after 'since' and at most {MAX_STATS_DAYS} days later",
                code="invalid_period",
                extra={"field": "until"},
            )
        start = datetime.combine(since, time(), UTC)
        end = datetime.combine(until, time(), UTC)
        with self._db.read() as conn:
            groups, suppressed = anonymise_store.message_counts(
                conn,
                account_id,
                from_id=lowest_id("msg", start),
                to_id=lowest_id("msg", end),
                group_by=group_by,
                minimum=K_MIN,
            )
        return {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "group_by": list(group_by),
            "k": K_MIN,
            "groups": groups,
            "suppressed_groups": suppressed,
            "generated_at": iso(self._clock.now()),
        }


def _names(hold: Hold, account_id: str, subject_index: bytes) -> bool:
    return (
        hold.active
        and hold.account_id == account_id
        and hold.subject_index in (None, subject_index)
    )


def default_period(today: date) -> tuple[date, date]:
    """The last 30 whole days up to and including today."""
    return today - timedelta(days=29), today + timedelta(days=1)
