"""Data keys' bookkeeping in the main database (the key material is in the key vault):
finding live keys, storing minted subject keys, destroying keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, select, update

from tidings.core.ids import lowest_id
from tidings.store.bulk import driver_in, driver_rows, in_list, insert_new_values
from tidings.store.database import Database
from tidings.store.tables import data_keys
from tidings.store.vault import KeyVault

KEY_COLUMNS = ("id", "account_id", "scope", "subject_index", "created_at")
_CHUNK = 4096  # a power of two: see bulk.padded_list


def live_wrapped_keys(conn: Connection, key_ids: Sequence[str]) -> dict[str, bytes]:
    """key id -> wrapped key of keys stored in this database (before the key vault)."""
    found: dict[str, bytes] = {}
    for start in range(0, len(key_ids), _CHUNK):
        rows = conn.execute(
            select(data_keys.c.id, data_keys.c.wrapped).where(
                in_list(conn, data_keys.c.id, key_ids[start : start + _CHUNK]),
                data_keys.c.wrapped.is_not(None),
                data_keys.c.destroyed_at.is_(None),
            )
        )
        found.update({row.id: bytes(row.wrapped) for row in rows})
    return found


def live_subject_keys(
    conn: Connection, account_id: str, subject_indexes: Sequence[bytes]
) -> dict[bytes, str]:
    """subject index -> key id, for the subjects that have a key not destroyed."""
    if conn.dialect.name == "postgresql":
        rows = driver_rows(
            conn,
            "SELECT id, subject_index FROM data_keys WHERE account_id = %s "
            "AND subject_index = ANY(%b) AND destroyed_at IS NULL",
            (account_id, list(subject_indexes)),
        )
        return {bytes(index): key_id for key_id, index in rows}
    # The statement at the driver level: SQLAlchemy's handling of the list cost more than
    # the lookup (every group of single sends asks for its subjects).
    found: dict[bytes, str] = {}
    for start in range(0, len(subject_indexes), _CHUNK):
        test, params = driver_in(conn, subject_indexes[start : start + _CHUNK])
        for key_id, index in conn.exec_driver_sql(
            "SELECT id, subject_index FROM data_keys WHERE account_id = ? "
            f"AND subject_index {test} AND destroyed_at IS NULL",
            (account_id, *params),
        ):
            found[bytes(index)] = key_id
    return found


def insert_minted_keys(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record minted keys (their material is in the vault already); a key another
    transaction of this process recorded first is kept."""
    values = itemgetter(*KEY_COLUMNS)
    insert_new_values(conn, data_keys, KEY_COLUMNS, [values(row) for row in rows])


def subject_key_ids(conn: Connection, account_id: str, subject_index: bytes) -> list[str]:
    """Every key of one subject not yet destroyed."""
    return list(
        conn.execute(
            select(data_keys.c.id).where(
                data_keys.c.account_id == account_id,
                data_keys.c.subject_index == subject_index,
                data_keys.c.destroyed_at.is_(None),
            )
        ).scalars()
    )


def destroy_subject_keys(
    conn: Connection, account_id: str, subject_index: bytes, at: datetime
) -> list[str]:
    """Destroy a subject's keys and unlink them from the subject; returns their ids."""
    ids = subject_key_ids(conn, account_id, subject_index)
    if ids:
        conn.execute(
            update(data_keys)
            .where(in_list(conn, data_keys.c.id, ids))
            .values(wrapped=None, subject_index=None, destroyed_at=at)
        )
    return ids


def account_key_ids(conn: Connection, account_id: str) -> list[str]:
    """Every key of an account not yet destroyed (its own and its subjects')."""
    return list(
        conn.execute(
            select(data_keys.c.id).where(
                data_keys.c.account_id == account_id, data_keys.c.destroyed_at.is_(None)
            )
        ).scalars()
    )


def destroy_account_keys(conn: Connection, account_id: str, at: datetime) -> list[str]:
    """Destroy every key of an account (its account key and all its subjects' keys)."""
    ids = account_key_ids(conn, account_id)
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            update(data_keys)
            .where(in_list(conn, data_keys.c.id, ids[start : start + _CHUNK]))
            .values(wrapped=None, subject_index=None, destroyed_at=at)
        )
    return ids


def live_key_count(conn: Connection, account_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                data_keys.c.account_id == account_id, data_keys.c.destroyed_at.is_(None)
            )
        ).scalar_one()
    )


def recorded_key_ids(conn: Connection, key_ids: Sequence[str]) -> set[str]:
    """Those of `key_ids` that have a `data_keys` row (destroyed or not)."""
    found: set[str] = set()
    for start in range(0, len(key_ids), _CHUNK):
        chunk = key_ids[start : start + _CHUNK]
        found.update(
            conn.execute(select(data_keys.c.id).where(in_list(conn, data_keys.c.id, chunk)))
            .scalars()
            .all()
        )
    return found


# A minted key's material is in the vault before the transaction that records it commits;
# no transaction runs nearly this long, so a key this old and unrecorded never will be.
UNRECORDED_GRACE = timedelta(hours=1)
_REAPED_UNTIL = "reaped_until"


class KeyRing:
    """Keys as Crypto needs them: bookkeeping from the database, material from the vault."""

    def __init__(self, db: Database, vault: KeyVault) -> None:
        self._db = db
        self.vault = vault

    def load(self, key_id: str) -> bytes | None:
        return self.load_many([key_id]).get(key_id)

    def load_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        found = self.vault.get(key_ids)
        missing = [k for k in key_ids if k not in found]
        if missing:  # keys made before the vault, still in data_keys.wrapped
            with self._db.read() as conn:
                found.update(live_wrapped_keys(conn, missing))
        return found

    def find_subjects(
        self, account_id: str, subject_indexes: Sequence[bytes]
    ) -> dict[bytes, tuple[str, bytes]]:
        with self._db.read() as conn:
            ids = live_subject_keys(conn, account_id, subject_indexes)
        wrapped = self.load_many(list(ids.values()))
        return {index: (k, wrapped[k]) for index, k in ids.items() if k in wrapped}

    def reap_unrecorded(self, now: datetime, grace: timedelta = UNRECORDED_GRACE) -> int:
        """Delete the vault's keys that no `data_keys` row records, minted more than `grace`
        before `now`; returns how many. A key's material is stored before the transaction
        that records it and writes data under it: when that transaction fails or its
        process dies, the material is left with nothing ever stored under it. Each run
        starts where the last ended (key ids sort by the time they were made)."""
        cutoff = lowest_id("dk", now - grace)
        after = self.vault.mark(_REAPED_UNTIL) or ""
        reaped = 0
        while True:
            ids = self.vault.ids_between(after, cutoff, _CHUNK)
            if not ids:
                return reaped
            with self._db.read() as conn:
                recorded = recorded_key_ids(conn, ids)
            unrecorded = [key_id for key_id in ids if key_id not in recorded]
            self.vault.destroy(unrecorded)
            reaped += len(unrecorded)
            after = ids[-1]
            self.vault.set_mark(_REAPED_UNTIL, after)

    def active_account_key(self, account_id: str) -> str | None:
        with self._db.read() as conn:
            return conn.execute(
                select(data_keys.c.id)
                .where(
                    data_keys.c.account_id == account_id,
                    data_keys.c.scope == "account",
                    data_keys.c.destroyed_at.is_(None),
                )
                .order_by(data_keys.c.id.desc())
                .limit(1)
            ).scalar()
