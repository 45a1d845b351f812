"""An account's contacts: create, read, update, delete, look up by number, list.

The stable API other packages build on (consent, campaigns): `create`, `get`, `update`,
`delete`, `get_by_number`, `number_index` and `list`; a listing takes a ContactFilter whose
`extra` conditions let a package add its own filter (the consent state, say).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.contacts.fields import load_schema
from tidings.contacts.records import ContactCodec, Schema, clean, clean_number
from tidings.core.clock import Clock
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain import contacts as rules
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.store import contacts as store
from tidings.store.contacts import ContactFilter
from tidings.store.database import Database

MAX_PAGE = 500


def invalid(exc: rules.ContactValueError) -> InvalidInput:
    """The API error for a value a contact cannot hold."""
    code = "invalid_" + exc.field.split(".", 1)[0]
    return InvalidInput(str(exc), code=code, extra={"field": exc.field})


def _printable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(ord(c) >= 0x20 and ord(c) != 0x7F for c in text)


def contact_not_found(contact_id: str) -> NotFound:
    return NotFound(f"no contact {contact_id[:64]!r} in this account", code="contact_not_found")


class ContactService:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.codec = ContactCodec(crypto)

    # --- lookups -------------------------------------------------------------------------
    def number_index(self, account_id: str, number: str) -> bytes:
        """The keyed blind index of a number (normalised first) in this account; raises
        InvalidInput for what is not a phone number."""
        try:
            return self.codec.number_index(account_id, clean_number(number))
        except rules.ContactValueError as exc:
            raise invalid(exc) from None

    def get(self, account_id: str, contact_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = self._row(conn, account_id, contact_id)
            return self._resources(conn, account_id, [row])[0]

    def get_by_number(self, account_id: str, number: str) -> dict[str, Any] | None:
        index = self.number_index(account_id, number)
        with self._db.read() as conn:
            row = store.contact_by_number_index(conn, account_id, index)
            return None if row is None else self._resources(conn, account_id, [row])[0]

    def get_by_email(self, account_id: str, email: str) -> builtins.list[dict[str, Any]]:
        index = self.codec.email_index(account_id, email.strip())
        with self._db.read() as conn:
            rows = store.contacts_by_email_index(conn, account_id, index)
            return self._resources(conn, account_id, rows)

    # --- writes --------------------------------------------------------------------------
    def create(self, account_id: str, values: Mapping[str, object]) -> dict[str, Any]:
        if "number" not in values or values["number"] is None:
            raise InvalidInput(
                "'number' is required: the contact's phone number, like +31612345678",
                code="invalid_number",
                extra={"field": "number"},
            )
        now = self._clock.now()
        contact_id = new_id("con", now)
        try:
            with self._db.write() as conn:
                schema = load_schema(conn, account_id)
                cleaned = self._clean(values, schema)
                fields = {k: v for k, v in cleaned.get("fields", {}).items() if v is not None}
                row = {
                    "id": contact_id,
                    "account_id": account_id,
                    "first_name_enc": None,
                    "last_name_enc": None,
                    "email_enc": None,
                    "email_index": None,
                    "language_enc": None,
                    **self.codec.columns(account_id, cleaned, fields),
                    "import_id": None,
                    "import_line": None,
                    "created_at": now,
                    "updated_at": now,
                }
                existing = store.contact_by_number_index(conn, account_id, row["number_index"])
                if existing is not None:
                    raise self._taken(existing.id)
                store.insert_contacts(conn, [row])
                self._write_extras(conn, account_id, contact_id, cleaned)
        except IntegrityError:  # a concurrent create of the same number won
            with self._db.read() as conn:
                existing = store.contact_by_number_index(conn, account_id, row["number_index"])
            raise self._taken(existing.id if existing is not None else None) from None
        return self.get(account_id, contact_id)

    def update(
        self, account_id: str, contact_id: str, changes: Mapping[str, object]
    ) -> dict[str, Any]:
        """Set the attributes given (None clears one; `fields` merges key by key, a None
        value removing that key; `tags` replaces the tags)."""
        if "number" in changes and changes["number"] is None:
            raise InvalidInput(
                "'number' cannot be removed; delete the contact instead",
                code="invalid_number",
                extra={"field": "number"},
            )
        with self._db.write() as conn:
            row = self._row(conn, account_id, contact_id)
            schema = load_schema(conn, account_id)
            cleaned = self._clean(changes, schema)
            fields = None
            if "fields" in cleaned:
                fields = self.codec.stored_fields(account_id, row.fields_enc)
                for key, value in cleaned["fields"].items():
                    if value is None:
                        fields.pop(key, None)
                    else:
                        fields[key] = value
            columns = self.codec.columns(account_id, cleaned, fields)
            if "number_index" in columns and columns["number_index"] != bytes(row.number_index):
                other = store.contact_by_number_index(conn, account_id, columns["number_index"])
                if other is not None:
                    raise self._taken(other.id)
            columns.update(id=contact_id, updated_at=self._clock.now())
            store.update_contacts(conn, [columns])
            self._write_extras(conn, account_id, contact_id, cleaned)
        return self.get(account_id, contact_id)

    def delete(self, account_id: str, contact_id: str) -> None:
        with self._db.write() as conn:
            if not is_valid_id(contact_id, "con") or not store.delete_contact(
                conn, account_id, contact_id
            ):
                raise contact_not_found(contact_id)

    # --- listing -------------------------------------------------------------------------
    def list(
        self,
        account_id: str,
        where: ContactFilter | None = None,
        *,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Newest first, `limit` at a time; `next_cursor` continues."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        before = decode_cursor(cursor, "con") if cursor else None
        with self._db.read() as conn:
            rows = store.list_contacts(
                conn, account_id, where or ContactFilter(), before_id=before, limit=limit + 1
            )
            page = rows[:limit]
            items = self._resources(conn, account_id, page)
        next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
        return {"data": items, "next_cursor": next_cursor}

    def iterate(
        self, account_id: str, where: ContactFilter | None = None, batch: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every matching contact, oldest first, read `batch` at a time (for exports)."""
        after: str | None = None
        while True:
            with self._db.read() as conn:
                rows = store.list_contacts(
                    conn,
                    account_id,
                    where or ContactFilter(),
                    after_id=after,
                    limit=batch,
                    newest_first=False,
                )
                items = self._resources(conn, account_id, rows)
            yield from items
            if len(rows) < batch:
                return
            after = rows[-1].id

    def filter_for(
        self,
        account_id: str,
        *,
        tag: str | None = None,
        list_id: str | None = None,
        region: str | None = None,
        field: tuple[str, str] | None = None,
        number: str | None = None,
        email: str | None = None,
    ) -> ContactFilter:
        """A ContactFilter from the API's query parameters, checked."""
        for name, text in (("tag", tag), ("region", region), ("email", email)):
            if text is not None and not _printable(text):
                raise InvalidInput(
                    f"'{name}' must be printable text without control characters",
                    code=f"invalid_{name}",
                    extra={"field": name},
                )
        where = ContactFilter(tag=tag, region=region.upper() if region else None)
        if number is not None:
            where.number_index = self.number_index(account_id, number)
        if email is not None:
            where.email_index = self.codec.email_index(account_id, email.strip())
        if list_id is not None:
            with self._db.read() as conn:
                if (
                    not is_valid_id(list_id, "lst")
                    or store.get_list(conn, account_id, list_id) is None
                ):
                    raise NotFound(
                        f"no list {list_id[:64]!r} in this account", code="list_not_found"
                    )
            where.list_id = list_id
        if field is not None:
            key, raw = field
            with self._db.read() as conn:
                schema = load_schema(conn, account_id)
            spec = schema.get(key)
            if spec is None:
                raise InvalidInput(
                    f"'field.{key}' is not a custom field of this account",
                    code="unknown_field",
                    extra={"field": f"field.{key}"},
                )
            try:
                value = rules.coerce_field(key, spec.type, spec.options, raw)
            except rules.ContactValueError as exc:
                raise invalid(exc) from None
            if value is None:
                raise InvalidInput(
                    f"'field.{key}' needs a value to match",
                    code="invalid_fields",
                    extra={"field": f"field.{key}"},
                )
            where.field_key = key
            where.field_index = self.codec.field_index(account_id, key, value)
        return where

    # --- helpers -------------------------------------------------------------------------
    def _clean(self, values: Mapping[str, object], schema: Schema) -> dict[str, Any]:
        try:
            return clean(values, schema)
        except rules.ContactValueError as exc:
            raise invalid(exc) from None

    def _row(self, conn: Connection, account_id: str, contact_id: str) -> Any:
        row = (
            store.get_contact(conn, account_id, contact_id)
            if is_valid_id(contact_id, "con")
            else None
        )
        if row is None:
            raise contact_not_found(contact_id)
        return row

    def _write_extras(
        self, conn: Connection, account_id: str, contact_id: str, cleaned: Mapping[str, Any]
    ) -> None:
        if "tags" in cleaned:
            store.replace_tags(conn, account_id, {contact_id: cleaned["tags"]})
        if cleaned.get("fields"):
            indexes = self.codec.field_indexes(account_id, cleaned["fields"])
            store.replace_field_indexes(conn, account_id, {contact_id: indexes})

    def _resources(
        self, conn: Connection, account_id: str, rows: Sequence[Any]
    ) -> builtins.list[dict[str, Any]]:
        ids = [r.id for r in rows]
        tags = store.tags_of(conn, ids)
        lists = store.lists_of(conn, ids)
        schema = load_schema(conn, account_id)
        return [self.codec.resource(r, tags[r.id], lists[r.id], schema) for r in rows]

    @staticmethod
    def _taken(existing_id: str | None) -> Conflict:
        where = f" ({existing_id})" if existing_id else ""
        return Conflict(
            f"'number' is taken: this account already has a contact with this number{where}; "
            "update that contact instead",
            code="contact_exists",
            extra={"field": "number", "contact_id": existing_id}
            if existing_id
            else {"field": "number"},
        )
