"""Exporting contacts as CSV, JSON or JSON lines, streamed a batch at a time.

CSV cells are made safe for spreadsheets (formula injection): a text cell that starts with
`=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, which spreadsheets
show as text and never evaluate. Two kinds of cell are written as they are, because they
cannot carry a formula: the phone number, which is E.164 by construction (a `+` and digits
only; a spreadsheet at worst reads it as a number, so the column is the number exactly as
stored), and typed custom values (numbers, booleans, dates). An import of the file strips
the `'` again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import orjson

from tidings.contacts.fields import FieldService
from tidings.contacts.lists import ListService
from tidings.contacts.service import ContactService
from tidings.domain.contacts import neutralise
from tidings.store.contacts import ContactFilter

FORMATS: Final = ("csv", "json", "jsonl")
STANDARD_COLUMNS: Final = ("id", "number", "first_name", "last_name", "email", "language")
DERIVED_COLUMNS: Final = ("region", "carrier", "time_zones", "tags", "lists")
TIME_COLUMNS: Final = ("created_at", "updated_at")
MEDIA_TYPES: Final = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}


def _typed(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def csv_rows(
    contacts: Iterable[dict[str, Any]],
    field_keys: Iterable[str],
    list_names: Mapping[str, str],
    field_types: Mapping[str, str],
) -> Iterator[str]:
    """The header, then chunks of CSV text (about a thousand rows each)."""
    keys = list(field_keys)
    header = [*STANDARD_COLUMNS, *DERIVED_COLUMNS, *keys, *TIME_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for count, contact in enumerate(contacts, 1):
        row = [contact["id"], contact["number"]]
        row += [neutralise(contact[c] or "") for c in ("first_name", "last_name", "email")]
        row.append(contact["language"] or "")
        row += [contact["region"] or "", neutralise(contact["carrier"] or "")]
        row.append(" ".join(contact["time_zones"]))
        row.append(neutralise("|".join(contact["tags"])))
        row.append(neutralise("|".join(list_names.get(i, i) for i in contact["lists"])))
        for key in keys:
            value = contact["fields"].get(key)
            text = _typed(value)
            row.append(neutralise(text) if field_types.get(key) in ("string", "enum") else text)
        row += [contact["created_at"], contact["updated_at"]]
        writer.writerow(row)
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_array(contacts: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON array, written an element at a time."""
    yield b"["
    first = True
    for contact in contacts:
        yield (b"\n" if first else b",\n") + orjson.dumps(contact)
        first = False
    yield b"\n]\n"


def json_lines(contacts: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for contact in contacts:
        yield orjson.dumps(contact) + b"\n"


def export(
    contacts: ContactService,
    lists: ListService,
    fields: FieldService,
    account_id: str,
    where: ContactFilter,
    fmt: str,
) -> Iterator[bytes]:
    """The matching contacts in `fmt`, oldest first, read a thousand at a time."""
    rows = contacts.iterate(account_id, where)
    if fmt == "json":
        yield from json_array(rows)
    elif fmt == "jsonl":
        yield from json_lines(rows)
    else:
        schema = fields.list(account_id)
        names = {item["id"]: item["name"] for item in lists.list(account_id)}
        types = {item["key"]: item["type"] for item in schema}
        for chunk in csv_rows(rows, [item["key"] for item in schema], names, types):
            yield chunk.encode()
