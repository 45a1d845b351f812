"""Lists (groups) of an account's contacts, and their members."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.core.clock import Clock, iso
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.store import contacts as store
from tidings.store.database import Database

MAX_NAME = 100
MAX_MEMBERS_PER_CALL = 10_000


def list_not_found(list_id: str) -> NotFound:
    return NotFound(f"no list {list_id[:64]!r} in this account", code="list_not_found")


def _storable(text: str) -> bool:
    """Text a database can hold and a name can be: no control characters, valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(ord(c) >= 0x20 and ord(c) != 0x7F for c in text)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not _storable(name):
        raise InvalidInput(
            f"'name' must be 1 to {MAX_NAME} characters without control characters",
            code="invalid_name",
            extra={"field": "name"},
        )
    return name


class ListService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create(self, account_id: str, name: str) -> dict[str, Any]:
        name = _check_name(name)
        now = self._clock.now()
        list_id = new_id("lst", now)
        try:
            with self._db.write() as conn:
                if store.list_by_name(conn, account_id, name) is not None:
                    raise self._taken(name)
                store.insert_list(
                    conn, list_id=list_id, account_id=account_id, name=name, created_at=now
                )
        except IntegrityError:
            raise self._taken(name) from None
        return self.get(account_id, list_id)

    def get(self, account_id: str, list_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = self.row(conn, account_id, list_id)
            return self._resource(row, store.member_counts(conn, [row.id])[row.id])

    def by_name(self, account_id: str, name: str) -> dict[str, Any]:
        printable = _storable(name)
        with self._db.read() as conn:
            row = store.list_by_name(conn, account_id, name.strip()) if printable else None
            if row is None:
                raise NotFound(
                    f"'list': no list named {name[:100]!r} in this account; create it first "
                    "(POST /v1/lists or tidings lists create NAME)",
                    code="list_not_found",
                    extra={"field": "list"},
                )
            return self._resource(row, store.member_counts(conn, [row.id])[row.id])

    def list(self, account_id: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = store.list_lists(conn, account_id, limit=10_000)
            counts = store.member_counts(conn, [r.id for r in rows])
        return [self._resource(r, counts[r.id]) for r in rows]

    def rename(self, account_id: str, list_id: str, name: str) -> dict[str, Any]:
        name = _check_name(name)
        try:
            with self._db.write() as conn:
                row = self.row(conn, account_id, list_id)
                other = store.list_by_name(conn, account_id, name)
                if other is not None and other.id != row.id:
                    raise self._taken(name)
                store.rename_list(conn, account_id, list_id, name)
        except IntegrityError:
            raise self._taken(name) from None
        return self.get(account_id, list_id)

    def delete(self, account_id: str, list_id: str) -> None:
        """Delete a list; its contacts stay."""
        with self._db.write() as conn:
            self.row(conn, account_id, list_id)
            store.delete_list(conn, account_id, list_id)

    def add(self, account_id: str, list_id: str, contact_ids: Sequence[str]) -> dict[str, Any]:
        with self._db.write() as conn:
            self.row(conn, account_id, list_id)
            ids = self._check_ids(contact_ids)
            found = store.existing_contact_ids(conn, account_id, ids)
            missing = [c for c in ids if c not in found]
            if missing:
                raise NotFound(
                    f"no contact {missing[0][:64]!r} in this account"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                    code="contact_not_found",
                    extra={"field": "contact_ids"},
                )
            added = store.add_members(conn, account_id, list_id, ids, self._clock.now())
        return {**self.get(account_id, list_id), "added": added}

    def remove(self, account_id: str, list_id: str, contact_ids: Sequence[str]) -> dict[str, Any]:
        with self._db.write() as conn:
            self.row(conn, account_id, list_id)
            ids = self._check_ids(contact_ids)
            removed = store.remove_members(conn, list_id, ids)
        return {**self.get(account_id, list_id), "removed": removed}

    def row(self, conn: Connection, account_id: str, list_id: str) -> Any:
        row = store.get_list(conn, account_id, list_id) if is_valid_id(list_id, "lst") else None
        if row is None:
            raise list_not_found(list_id)
        return row

    @staticmethod
    def _check_ids(contact_ids: Sequence[str]) -> builtins.list[str]:
        if not contact_ids or len(contact_ids) > MAX_MEMBERS_PER_CALL:
            raise InvalidInput(
                f"'contact_ids' must hold 1 to {MAX_MEMBERS_PER_CALL} contact ids",
                code="invalid_contact_ids",
                extra={"field": "contact_ids"},
            )
        bad = [c for c in contact_ids if not is_valid_id(c, "con")]
        if bad:
            raise NotFound(
                f"no contact {bad[0][:64]!r} in this account",
                code="contact_not_found",
                extra={"field": "contact_ids"},
            )
        return list(dict.fromkeys(contact_ids))

    @staticmethod
    def _resource(row: Any, members: int) -> dict[str, Any]:
        return {
            "id": row.id,
            "name": row.name,
            "members": members,
            "created_at": iso(row.created_at),
        }

    @staticmethod
    def _taken(name: str) -> Conflict:
        return Conflict(
            f"'name' is taken: this account already has a list named {name!r}; choose another",
            code="list_exists",
            extra={"field": "name"},
        )
