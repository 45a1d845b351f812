"""The rules a contact's attributes follow: names, email, language, tags, custom fields.

Pure. A failed check raises ContactValueError naming the field and what to fix, never the
rejected value itself (it is personal data and errors end up in logs and import reports).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Final, Literal, get_args

FieldType = Literal["string", "number", "boolean", "date", "enum"]
FIELD_TYPES: Final[tuple[str, ...]] = get_args(FieldType)
FieldValue = str | int | float | bool

STANDARD_FIELDS: Final = ("number", "first_name", "last_name", "email", "language", "tags")
READ_ONLY_ATTRIBUTES: Final = frozenset(
    {"id", "region", "carrier", "time_zones", "lists", "created_at", "updated_at"}
)
"""What a contact shows but no one sets: an export writes them, an import skips them."""
FIELD_KEY: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_NAME: Final = 100
MAX_EMAIL: Final = 254
MAX_STRING: Final = 1000
MAX_TAG: Final = 64
MAX_TAGS: Final = 50
MAX_ENUM_OPTIONS: Final = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # a free text keeps its lines
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")
_TRUE: Final = frozenset({"true", "yes", "1", "y"})
_FALSE: Final = frozenset({"false", "no", "0", "n"})
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ContactValueError(ValueError):
    """A value a contact cannot hold; `field` names it, `reason` says what to fix."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"'{field}' {reason}")

    def __reduce__(self) -> tuple[type[ContactValueError], tuple[str, str]]:
        return (type(self), (self.field, self.reason))


def _text(field: str, value: object, limit: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise ContactValueError(field, "must be text")
    value = value.strip()
    if len(value) > limit:
        raise ContactValueError(field, f"is longer than {limit} characters; shorten it")
    if (_TEXT_CONTROL if multiline else _CONTROL).search(value):
        raise ContactValueError(field, "must not contain control characters (line breaks, tabs)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ContactValueError(
            field, "must be valid Unicode text (a lone surrogate is not)"
        ) from None
    return value


def clean_name(field: str, value: object) -> str | None:
    """A first or last name; empty means none."""
    return _text(field, value, MAX_NAME) or None


def clean_email(value: object) -> str | None:
    text = _text("email", value, MAX_EMAIL)
    if not text:
        return None
    if not _EMAIL.match(text):
        raise ContactValueError("email", "is not an email address; give one like ana@example.com")
    return text


def email_index_text(email: str) -> str:
    """What the email's blind index is computed over: case does not tell addresses apart."""
    return "email:" + email.lower()


def clean_language(value: object) -> str | None:
    text = _text("language", value, 35)
    if not text:
        return None
    if not _LANGUAGE.match(text):
        raise ContactValueError(
            "language", "must be a language tag such as en, nl or pt-BR (BCP 47)"
        )
    return text


def clean_tags(value: object) -> list[str]:
    """Tags from a list, or from text separated by commas or |; duplicates dropped."""
    if isinstance(value, str):
        items: list[object] = re.split(r"[,|]", value)
    elif isinstance(value, list):
        items = list(value)
    else:
        raise ContactValueError("tags", "must be a list of tags, or text separated by commas")
    tags: list[str] = []
    for item in items:
        tag = _text("tags", item, MAX_TAG)
        if not tag:
            if isinstance(value, list):
                raise ContactValueError("tags", "must not hold an empty tag")
            continue
        if "," in tag or "|" in tag:
            raise ContactValueError("tags", "a tag cannot contain ',' or '|'")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ContactValueError("tags", f"holds more than {MAX_TAGS} tags")
    return tags


def check_field_key(key: str) -> None:
    if not FIELD_KEY.match(key):
        raise ContactValueError(
            "key",
            "must start with a lowercase letter and hold only lowercase letters, digits "
            "and _ (at most 64), like loyalty_tier",
        )
    if key in STANDARD_FIELDS or key in READ_ONLY_ATTRIBUTES or key == "fields":
        raise ContactValueError("key", f"{key!r} is a standard contact field; choose another key")


def check_enum_options(options: object) -> list[str]:
    if not isinstance(options, list) or not options:
        raise ContactValueError("options", "an enum field needs a non-empty list of options")
    if len(options) > MAX_ENUM_OPTIONS:
        raise ContactValueError("options", f"holds more than {MAX_ENUM_OPTIONS} options")
    cleaned = [_text("options", o, MAX_TAG) for o in options]
    if any(not o for o in cleaned) or len(set(cleaned)) != len(cleaned):
        raise ContactValueError("options", "must be distinct, non-empty texts")
    return cleaned


def coerce_field(
    key: str, type_: str, options: list[str] | None, value: object
) -> FieldValue | None:
    """A custom field's value in its type; text (as a CSV cell) is parsed. None clears it."""
    field = f"fields.{key}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if type_ == "string":
        return _text(field, value, MAX_STRING, multiline=True)
    if type_ == "number":
        return _number(field, value)
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ContactValueError(field, "must be a boolean: true or false (yes/no, 1/0)")
    if type_ == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise ContactValueError(field, "must be a date as YYYY-MM-DD, like 2026-03-01")
    if type_ == "enum":
        text = _text(field, value, MAX_TAG) if isinstance(value, str) else None
        if text is None or options is None or text not in options:
            allowed = ", ".join(options or [])
            raise ContactValueError(field, f"must be one of: {allowed}")
        return text
    raise ContactValueError(field, f"has an unknown type {type_!r}")


def _number(field: str, value: object) -> int | float:
    if isinstance(value, bool):
        raise ContactValueError(field, "must be a number, like 42 or 3.5")
    if isinstance(value, int | float):
        number: int | float = value
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        number = float(text) if any(c in text for c in ".eE") else int(text)
    else:
        raise ContactValueError(field, "must be a number, like 42 or 3.5")
    if isinstance(number, float) and not math.isfinite(number):
        raise ContactValueError(field, "must be a finite number")
    if isinstance(number, int) and abs(number) > 2**53:
        raise ContactValueError(field, "is too large; numbers hold up to 2^53")
    if isinstance(number, float) and number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


def field_index_text(key: str, value: FieldValue) -> str:
    """What a custom field value's blind index is computed over (equality filters)."""
    canonical = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"field:{key}:{canonical}"


SPREADSHEET_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A CSV cell a spreadsheet shows as text and never runs as a formula."""
    return "'" + text if text.startswith(SPREADSHEET_TRIGGERS) else text


def unneutralise(text: str) -> str:
    """The text a neutralised cell held (what an import reads back)."""
    if text.startswith("'") and text[1:].startswith(SPREADSHEET_TRIGGERS):
        return text[1:]
    return text
