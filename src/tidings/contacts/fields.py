"""The custom field schema of an account: the keys and types its contacts may carry."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tidings.contacts.records import FieldSpec, Schema
from tidings.core.clock import Clock, iso
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain import contacts as rules
from tidings.store import contacts as store
from tidings.store.database import Database

MAX_FIELDS = 100


def load_schema(conn: Connection, account_id: str) -> dict[str, FieldSpec]:
    return {
        row.key: FieldSpec(row.key, row.type, orjson.loads(row.options) if row.options else None)
        for row in store.list_fields(conn, account_id)
    }


def _resource(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "label": row.label,
        "type": row.type,
        "options": orjson.loads(row.options) if row.options else None,
        "created_at": iso(row.created_at),
    }


class FieldService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def schema(self, account_id: str) -> Schema:
        with self._db.read() as conn:
            return load_schema(conn, account_id)

    def create(
        self,
        account_id: str,
        key: str,
        type_: str,
        label: str | None = None,
        options: list[str] | None = None,
    ) -> dict[str, Any]:
        try:
            rules.check_field_key(key)
            if type_ not in rules.FIELD_TYPES:
                raise rules.ContactValueError(
                    "type", f"must be one of: {', '.join(rules.FIELD_TYPES)}"
                )
            if type_ == "enum":
                options = rules.check_enum_options(options)
            elif options is not None:
                raise rules.ContactValueError("options", "only an enum field has options")
        except rules.ContactValueError as exc:
            raise InvalidInput(
                str(exc), code=f"invalid_{exc.field}", extra={"field": exc.field}
            ) from None
        now = self._clock.now()
        field_id = new_id("fld", now)
        try:
            with self._db.write() as conn:
                if len(store.list_fields(conn, account_id)) >= MAX_FIELDS:
                    raise Conflict(
                        f"an account has at most {MAX_FIELDS} custom fields; delete one first",
                        code="too_many_fields",
                    )
                store.insert_field(
                    conn,
                    field_id=field_id,
                    account_id=account_id,
                    key=key,
                    label=label,
                    type_=type_,
                    options=orjson.dumps(options).decode() if options is not None else None,
                    created_at=now,
                )
        except IntegrityError:
            raise Conflict(
                f"this account already has a field {key!r}", code="field_exists"
            ) from None
        with self._db.read() as conn:
            return _resource(store.get_field(conn, account_id, field_id))

    def list(self, account_id: str) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            return [_resource(row) for row in store.list_fields(conn, account_id)]

    def get(self, account_id: str, field_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = self._row(conn, account_id, field_id)
        return _resource(row)

    def delete(self, account_id: str, field_id: str) -> None:
        with self._db.write() as conn:
            row = self._row(conn, account_id, field_id)
            store.delete_field(conn, account_id, field_id, row.key)

    def _row(self, conn: Connection, account_id: str, field_id: str) -> Any:
        row = store.get_field(conn, account_id, field_id) if is_valid_id(field_id, "fld") else None
        if row is None:
            raise NotFound(
                f"no custom field {field_id[:64]!r} in this account", code="field_not_found"
            )
        return row
