"""A record of an import file checked row by row: its cleaned attributes or the errors
of its cells, and the prepared row (ciphertexts, indexes, the id a new contact gets) that
`importer.BatchWriter` writes. No database code: the rows of a large import are prepared in
worker processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from tidings.contacts.consent_cells import is_consent, parse_answer
from tidings.contacts.mapping import IGNORE, check_target, target_of
from tidings.contacts.reader import Record
from tidings.contacts.records import Schema, clean_number
from tidings.domain import contacts as rules


@dataclass
class RowError:
    line: int
    column: str | None
    reason: str


@dataclass
class ParsedRow:
    line: int
    values: dict[str, Any]  # cleaned attributes: number (E.164), names..., fields, tags


# A new contact's row, in this order: `Prepared.values`, then the writer's three.
NEW_COLUMNS = (
    "id",
    "account_id",
    "number_enc",
    "number_index",
    "region",
    "carrier",
    "time_zones",
    "first_name_enc",
    "last_name_enc",
    "email_enc",
    "email_index",
    "language_enc",
    "fields_enc",
    "import_line",
    "import_id",
    "created_at",
    "updated_at",
)
PREPARED_COLUMNS = NEW_COLUMNS[:-3]
POSITION = {name: i for i, name in enumerate(PREPARED_COLUMNS)}


class Prepared(NamedTuple):
    """A checked row, ready to be written as a new contact or as an update of one."""

    line: int
    number_index: bytes
    contact_id: str  # the id it gets if it is new
    values: tuple[Any, ...]  # a new contact's columns (PREPARED_COLUMNS), None where not given
    given: tuple[str, ...]  # the columns of the given attributes, the number's included
    fields: dict[str, Any] | None  # the custom values given (None clears one)
    field_indexes: dict[str, bytes | None] | None
    tags: list[str] | None  # None: not given
    consent: dict[str, tuple[str, str]] | None  # target -> (column, action)


class RowParser:
    """Turns a record into cleaned attributes, or the errors of its cells."""

    def __init__(self, mapping: Sequence[tuple[str, str]], schema: Schema) -> None:
        self._columns = list(mapping)
        self._explicit = dict(mapping)
        self._schema = schema

    def parse(self, record: Record) -> ParsedRow | list[RowError]:
        if record.values is None:
            return [RowError(record.line, None, record.error or "cannot be read")]
        if isinstance(record.values, list):
            cells: list[tuple[str, str, object]] = [
                (column, target, rules.unneutralise(value) if value[:1] == "'" else value)
                for (column, target), value in zip(self._columns, record.values, strict=False)
                if target != IGNORE and value.strip()
            ]
            errors: list[RowError] = []
        else:
            cells, errors = self._json_cells(record)
        values: dict[str, Any] = {}
        for column, target, raw in cells:
            try:
                cleaner = _CLEANERS.get(target)
                if cleaner is not None:
                    values[target] = cleaner(raw)
                elif target.startswith("fields."):
                    key = target[7:]
                    spec = self._schema[key]
                    value = rules.coerce_field(key, spec.type, spec.options, raw)
                    values.setdefault("fields", {})[key] = value
                elif is_consent(target):
                    values.setdefault("consent", {})[target] = (column, parse_answer(column, raw))
                else:
                    raise rules.ContactValueError(target, "is not a contact attribute")
            except rules.ContactValueError as exc:
                errors.append(RowError(record.line, column, exc.reason))
        if "number" not in values and not any(e.column and _is_number(e, cells) for e in errors):
            number_column = next((c for c, t in self._columns if t == "number"), "number")
            errors.append(
                RowError(record.line, number_column, "is empty; every row needs a number")
            )
        return errors or ParsedRow(record.line, values)

    def _json_cells(self, record: Record) -> tuple[list[tuple[str, str, object]], list[RowError]]:
        assert isinstance(record.values, dict)
        cells: list[tuple[str, str, object]] = []
        errors: list[RowError] = []
        for key, value in record.values.items():
            if key == "fields" and isinstance(value, dict):
                for name, inner in value.items():
                    if name in self._schema:
                        cells.append((f"fields.{name}", f"fields.{name}", inner))
                    else:
                        errors.append(
                            RowError(record.line, f"fields.{name}", "is not a custom field")
                        )
                continue
            try:
                target = (
                    check_target(self._explicit[key], self._schema, key)
                    if key in self._explicit
                    else target_of(key, self._schema)
                )
            except Exception:
                target = None
            if target is None:
                errors.append(
                    RowError(record.line, key, "matches no contact attribute or custom field")
                )
            elif target != IGNORE and value is not None and value != "":
                cells.append((key, target, value))
        return cells, errors


def _is_number(error: RowError, cells: list[tuple[str, str, object]]) -> bool:
    return any(c == error.column and t == "number" for c, t, _ in cells)


_CLEANERS: dict[str, Callable[[object], Any]] = {
    "number": clean_number,
    "first_name": partial(rules.clean_name, "first_name"),
    "last_name": partial(rules.clean_name, "last_name"),
    "email": rules.clean_email,
    "language": rules.clean_language,
    "tags": rules.clean_tags,
}
