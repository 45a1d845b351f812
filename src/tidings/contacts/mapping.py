"""Which import column fills which contact attribute.

A column maps to a standard attribute (number, first_name, last_name, email, language,
tags), to a custom field (`tier` or `fields.tier`), to the consent ledger
(`consent:sms` or `consent:sms:marketing`, see import_consent), or to nothing
(`--map column=`). Consent columns are only ever mapped explicitly.
Without an explicit mapping, a column whose name is an attribute, a custom field key or a
usual alias (phone, mobile, surname, e-mail...) maps to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from tidings.contacts.consent_cells import check_consent_target, is_consent
from tidings.contacts.records import Schema
from tidings.core.errors import InvalidInput
from tidings.domain.contacts import READ_ONLY_ATTRIBUTES, STANDARD_FIELDS

IGNORE = ""
ALIASES = {
    "phone": "number",
    "phone_number": "number",
    "mobile": "number",
    "mobile_number": "number",
    "msisdn": "number",
    "tel": "number",
    "telephone": "number",
    "firstname": "first_name",
    "first": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "e_mail": "email",
    "mail": "email",
    "lang": "language",
    "tag": "tags",
}


def _normal(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def parse_map_options(items: Iterable[str]) -> dict[str, str]:
    """`column=field` items (the CLI's --map, the API's map=) into a dict."""
    result: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip():
            raise InvalidInput(
                f"'map' takes column=field, like Phone=number or Notes= to skip a column "
                f"(got {item[:80]!r})",
                code="invalid_map",
                extra={"field": "map"},
            )
        result[column.strip()] = target.strip()
    return result


def target_of(name: str, schema: Schema) -> str | None:
    """The attribute a column or key of this name fills by default, if any."""
    normal = _normal(name)
    if normal in READ_ONLY_ATTRIBUTES:
        return IGNORE  # written by an export; not something a file sets
    if normal.startswith("fields_") and normal[7:] in schema:
        return f"fields.{normal[7:]}"
    if normal in STANDARD_FIELDS:
        return normal
    if normal in ALIASES:
        return ALIASES[normal]
    if normal in schema:
        return f"fields.{normal}"
    return None


def check_target(target: str, schema: Schema, column: str) -> str:
    """A target named in an explicit mapping: `number`, `tier`, `fields.tier` or empty."""
    if target == IGNORE:
        return IGNORE
    if is_consent(target):
        return check_consent_target(target, column)
    if target in STANDARD_FIELDS:
        return target
    key = target.removeprefix("fields.")
    if key in schema:
        return f"fields.{key}"
    raise InvalidInput(
        f"'map' sends column {column!r} to {target!r}, which is neither a contact attribute "
        f"({', '.join(STANDARD_FIELDS)}), a custom field of this account nor a consent "
        "target (consent:CHANNEL[:PURPOSE])",
        code="unknown_field",
        extra={"field": "map"},
    )


def resolve(header: Iterable[str], explicit: Mapping[str, str], schema: Schema) -> dict[str, str]:
    """column -> target for a CSV header; raises InvalidInput for what cannot be imported."""
    columns = list(header)
    unknown_explicit = [c for c in explicit if c not in columns]
    if unknown_explicit:
        raise InvalidInput(
            f"'map' names column {unknown_explicit[0]!r}, which the file's header does not "
            f"have (its columns: {', '.join(repr(c) for c in columns)})",
            code="unknown_column",
            extra={"field": "map"},
        )
    mapping: dict[str, str] = {}
    unmatched: list[str] = []
    for column in columns:
        if column in explicit:
            mapping[column] = check_target(explicit[column], schema, column)
        elif not column:
            mapping[column] = IGNORE
        else:
            target = target_of(column, schema)
            if target is None:
                unmatched.append(column)
            else:
                mapping[column] = target
    if unmatched:
        raise InvalidInput(
            f"column {unmatched[0]!r} matches no contact attribute or custom field; map it to "
            f"one ({unmatched[0]}=FIELD), skip it ({unmatched[0]}=) or define the custom "
            "field first",
            code="unknown_column",
            extra={"field": "map", "columns": unmatched},
        )
    targets = [t for t in mapping.values() if t != IGNORE]
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise InvalidInput(
            f"'map' sends two columns to {repeated[0]!r}; map one of them elsewhere or skip it",
            code="duplicate_target",
            extra={"field": "map"},
        )
    if "number" not in targets:
        raise InvalidInput(
            "no column holds the phone number; name it number (or phone, mobile) or map "
            "it (map=COLUMN=number)",
            code="missing_number_column",
            extra={"field": "map"},
        )
    return mapping
