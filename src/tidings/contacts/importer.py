"""One batch of an import: records checked row by row, then written set-based in the
caller's transaction (update-or-insert by the number's blind index)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.contacts.import_consent import Answer, ConsentRecorder
from tidings.contacts.records import ContactCodec
from tidings.contacts.rows import NEW_COLUMNS, POSITION, Prepared, RowError
from tidings.store import contacts as store
from tidings.store.bulk import driver_time, insert_rows
from tidings.store.tables import contact_field_values, contact_tags, list_members


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


class BatchWriter:
    """Writes parsed rows of one import job: new numbers inserted, known ones updated."""

    def __init__(
        self,
        codec: ContactCodec,
        account_id: str,
        import_id: str,
        list_id: str | None,
        has_fields: bool,
        number_column: str,
        consent: ConsentRecorder | None = None,
    ) -> None:
        self._codec = codec
        self._account = account_id
        self._import = import_id
        self._list = list_id
        self._has_fields = has_fields
        self._number_column = number_column
        self._consent = consent

    def write(self, conn: Connection, rows: Sequence[Prepared], now: datetime) -> BatchResult:
        result = BatchResult()
        account = self._account
        by_index: dict[bytes, Prepared] = {}
        for row in rows:
            first = by_index.get(row.number_index)
            if first is not None:
                result.errors.append(_repeat(row.line, self._number_column, first.line))
            else:
                by_index[row.number_index] = row
        existing = store.contacts_by_number_indexes(
            conn, account, list(by_index), with_fields=self._has_fields
        )
        new_rows: list[tuple[Any, ...]] = []
        changes: list[dict[str, Any]] = []
        tags_new: list[dict[str, Any]] = []
        tags_replaced: dict[str, list[str]] = {}
        indexes_new: list[dict[str, Any]] = []
        indexes_replaced: dict[str, dict[str, bytes | None]] = {}
        members_new: list[str] = []
        members_existing: list[str] = []
        answers: list[Answer] = []
        # What every new contact of this batch ends with: NEW_COLUMNS after the prepared.
        tail = (self._import, driver_time(conn, now), driver_time(conn, now))
        for index, row in by_index.items():
            found = existing.get(index)
            if found is not None and found.import_id == self._import:
                result.errors.append(_repeat(row.line, self._number_column, found.import_line))
                continue
            contact_id = row.contact_id if found is None else found.id
            if row.consent:
                answers += [
                    Answer(index, contact_id, row.line, column, target, action)
                    for target, (column, action) in row.consent.items()
                ]
            if found is None:
                new_rows.append(row.values + tail)
                if row.tags:
                    tags_new += [
                        {"contact_id": contact_id, "tag": t, "account_id": account}
                        for t in row.tags
                    ]
                if row.field_indexes:
                    indexes_new += [
                        {
                            "contact_id": contact_id,
                            "field_key": key,
                            "account_id": account,
                            "value_index": value_index,
                        }
                        for key, value_index in row.field_indexes.items()
                        if value_index is not None
                    ]
                members_new.append(contact_id)
                result.created += 1
                continue
            values = row.values
            change = {c: values[POSITION[c]] for c in row.given if c not in _NUMBER_COLUMNS}
            if row.fields:
                merged = self._codec.stored_fields(account, found.fields_enc)
                merged.update({k: v for k, v in row.fields.items() if v is not None})
                change["fields_enc"] = self._codec.columns(account, {}, merged)["fields_enc"]
                indexes_replaced[contact_id] = row.field_indexes or {}
            change.update(
                id=contact_id, import_id=self._import, import_line=row.line, updated_at=now
            )
            changes.append(change)
            if row.tags is not None:
                tags_replaced[contact_id] = row.tags
            members_existing.append(contact_id)
            result.updated += 1
        store.insert_contact_values(conn, NEW_COLUMNS, new_rows)
        store.update_contacts(conn, changes)
        insert_rows(conn, contact_tags, tags_new)
        if tags_replaced:
            store.replace_tags(conn, account, tags_replaced)
        insert_rows(conn, contact_field_values, indexes_new)
        if indexes_replaced:
            store.replace_field_indexes(conn, account, indexes_replaced)
        if self._list is not None:
            insert_rows(
                conn,
                list_members,
                [
                    {"list_id": self._list, "contact_id": c, "account_id": account, "added_at": now}
                    for c in members_new
                ],
            )
            if members_existing:
                store.add_members(conn, account, self._list, members_existing, now)
        if self._consent is not None:
            self._consent.record(conn, account, answers, now)
        return result


_NUMBER_COLUMNS = frozenset(("number_enc", "number_index", "region", "carrier", "time_zones"))


def _repeat(line: int, column: str, first_line: int | None) -> RowError:
    where = f"line {first_line}" if first_line is not None else "an earlier line"
    return RowError(line, column, f"repeats the number of {where} of this file; kept that one")
