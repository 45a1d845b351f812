"""The key vault: wrapped data keys, kept apart from the database that holds the data.

Crypto-shredding works only if a backup of the data does not also hold the keys: a copy
of the database restored after an erasure must find the erased subject's key gone. So the
key material lives here, in a database of its own (by default `keys.db` in the data
directory; `TIDINGS_KEY_VAULT_URL` for another SQLite file or a PostgreSQL database that
every node reaches), backed up on its own short schedule, while the main database's
`data_keys` table keeps only the keys' bookkeeping (account, scope, subject index, when
made and destroyed). Destroying a key deletes its row here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Connection,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)

from tidings.store.bulk import driver_in, in_list, insert_new_values
from tidings.store.database import Database
from tidings.store.tables import ACCOUNT_SECRET, OPS, col

vault_metadata = MetaData()

vault_keys = Table(
    "vault_keys",
    vault_metadata,
    col("id", String(32), OPS, primary_key=True),  # = data_keys.id
    col("wrapped", LargeBinary, ACCOUNT_SECRET, nullable=False),  # AES-GCM under the master key
)

# How far the sweep of unrecorded keys has looked (KeyRing.reap_unrecorded): one row.
vault_marks = Table(
    "vault_marks",
    vault_metadata,
    col("name", String(32), OPS, primary_key=True),
    col("value", String(32), OPS, nullable=False),
)

_CHUNK = 4096  # a power of two: see bulk.padded_list


class KeyVault:
    def __init__(self, url: str) -> None:
        self.db = Database(url, pool_size=5)
        vault_metadata.create_all(self.db.engine)

    def put(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """Store wrapped keys (committed before any data is written under them)."""
        if not keys:
            return
        with self.db.write() as conn:
            insert_new_values(conn, vault_keys, ("id", "wrapped"), keys)

    def get(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        if not key_ids:
            return found
        with self.db.read() as conn:
            for start in range(0, len(key_ids), _CHUNK):
                found.update(_rows(conn, key_ids[start : start + _CHUNK]))
        return found

    def destroy(self, key_ids: Sequence[str]) -> None:
        """Delete keys for good (SQLite's secure_delete overwrites the freed pages)."""
        if not key_ids:
            return
        with self.db.write() as conn:
            if self.db.is_sqlite:
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            for start in range(0, len(key_ids), _CHUNK):
                chunk = key_ids[start : start + _CHUNK]
                conn.execute(delete(vault_keys).where(in_list(conn, vault_keys.c.id, chunk)))

    def ids_between(self, after: str, before: str, limit: int) -> list[str]:
        """Ids of stored keys greater than `after` and less than `before`, in order."""
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(vault_keys.c.id)
                    .where(vault_keys.c.id > after, vault_keys.c.id < before)
                    .order_by(vault_keys.c.id)
                    .limit(limit)
                ).scalars()
            )

    def mark(self, name: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(
                select(vault_marks.c.value).where(vault_marks.c.name == name)
            ).scalar()

    def set_mark(self, name: str, value: str) -> None:
        """Set a mark; two nodes setting it for the first time at once both succeed."""
        with self.db.write() as conn:
            insert_new_values(conn, vault_marks, ("name", "value"), [(name, value)])
            conn.execute(update(vault_marks).where(vault_marks.c.name == name).values(value=value))

    def dispose(self) -> None:
        self.db.dispose()


def _rows(conn: Connection, key_ids: Sequence[str]) -> dict[str, bytes]:
    test, params = driver_in(conn, key_ids)
    rows = conn.exec_driver_sql(
        f"SELECT id, wrapped FROM vault_keys WHERE id {test}", tuple(params)
    )
    return {key_id: bytes(wrapped) for key_id, wrapped in rows}
