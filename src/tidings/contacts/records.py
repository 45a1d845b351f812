"""A contact's attributes: checked against the rules and the account's field schema, turned
into encrypted columns and blind indexes, and read back into the API's resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from tidings.core.clock import iso
from tidings.core.crypto import Crypto
from tidings.domain import contacts as rules
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.number_info import describe_number

ENCRYPTED = ("first_name", "last_name", "email", "language")
ATTRIBUTES = ("number", "first_name", "last_name", "email", "language", "fields", "tags")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    type: str
    options: list[str] | None


Schema = Mapping[str, FieldSpec]


def clean_number(value: object) -> str:
    if not isinstance(value, str):
        raise rules.ContactValueError("number", "must be text, like +31612345678")
    try:
        return normalise_number(value, "number")
    except AddressError as exc:
        raise rules.ContactValueError("number", exc.reason) from None


def clean(values: Mapping[str, object], schema: Schema) -> dict[str, Any]:
    """The attributes given, checked and normalised. A key that is absent is left as it is;
    None (or an empty text) clears an attribute. Raises ContactValueError."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key == "number":
            cleaned["number"] = clean_number(value)
        elif key in ("first_name", "last_name"):
            cleaned[key] = None if value is None else rules.clean_name(key, value)
        elif key == "email":
            cleaned[key] = None if value is None else rules.clean_email(value)
        elif key == "language":
            cleaned[key] = None if value is None else rules.clean_language(value)
        elif key == "tags":
            cleaned[key] = [] if value is None else rules.clean_tags(value)
        elif key == "fields":
            cleaned[key] = clean_fields(value, schema)
        else:
            raise rules.ContactValueError(key, "is not a contact attribute")
    return cleaned


def clean_fields(value: object, schema: Schema) -> dict[str, rules.FieldValue | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise rules.ContactValueError("fields", "must be an object of custom field values")
    result: dict[str, rules.FieldValue | None] = {}
    for key, raw in value.items():
        spec = schema.get(key)
        if spec is None:
            raise rules.ContactValueError(
                f"fields.{key}",
                "is not a custom field of this account; define it first "
                "(POST /v1/contact-fields or tidings contacts fields add)",
            )
        result[key] = rules.coerce_field(key, spec.type, spec.options, raw)
    return result


class Sealing(Protocol):
    """Encryption and blind indexes: `Crypto`, or one account's `AccountSealer`."""

    def encrypt(self, account_id: str, column: str, plaintext: str) -> bytes: ...

    def blind_index(self, scope: str, value: str) -> bytes: ...


class ColumnCodec:
    """Columns (ciphertexts, blind indexes, derived number facts) from cleaned attributes."""

    def __init__(self, sealing: Sealing) -> None:
        self._sealing = sealing

    def number_index(self, account_id: str, e164: str) -> bytes:
        """The same keyed index messages use for their recipient, so both can be joined."""
        return self._sealing.blind_index(account_id, e164)

    def email_index(self, account_id: str, email: str) -> bytes:
        return self._sealing.blind_index(account_id, rules.email_index_text(email))

    def field_index(self, account_id: str, key: str, value: rules.FieldValue) -> bytes:
        return self._sealing.blind_index(account_id, rules.field_index_text(key, value))

    def columns(
        self,
        account_id: str,
        cleaned: Mapping[str, Any],
        fields: Mapping[str, rules.FieldValue] | None = None,
        number_index: bytes | None = None,
    ) -> dict[str, Any]:
        """Column values for the attributes in `cleaned`; `fields` is the full set of custom
        values to store (the existing ones merged with the new) when fields changed."""
        encrypt = self._sealing.encrypt
        out: dict[str, Any] = {}
        number = cleaned.get("number")
        if number is not None:
            info = describe_number(number)
            out["number_enc"] = encrypt(account_id, "contacts.number", number)
            out["number_index"] = number_index or self.number_index(account_id, number)
            out["region"] = info.region
            out["carrier"] = info.carrier
            out["time_zones"] = " ".join(info.time_zones) or None
        for name in ENCRYPTED:
            if name in cleaned:
                value = cleaned[name]
                out[f"{name}_enc"] = (
                    None if value is None else encrypt(account_id, f"contacts.{name}", value)
                )
        if "email" in cleaned:
            email = cleaned["email"]
            out["email_index"] = None if email is None else self.email_index(account_id, email)
        if fields is not None:
            out["fields_enc"] = (
                encrypt(account_id, "contacts.fields", orjson.dumps(dict(fields)).decode())
                if fields
                else None
            )
        return out

    def field_indexes(
        self, account_id: str, changed: Mapping[str, rules.FieldValue | None]
    ) -> dict[str, bytes | None]:
        return {
            key: None if value is None else self.field_index(account_id, key, value)
            for key, value in changed.items()
        }


class ContactCodec(ColumnCodec):
    """Columns from cleaned attributes, and the resource from a stored row."""

    def __init__(self, crypto: Crypto) -> None:
        super().__init__(crypto)
        self._crypto = crypto

    def sealer(self, account_id: str) -> ColumnCodec:
        """The column work of one account, for another process (see `AccountSealer`)."""
        return ColumnCodec(self._crypto.account_sealer(account_id))

    def stored_fields(self, account_id: str, blob: bytes | None) -> dict[str, Any]:
        text = self._crypto.decrypt_or_none(account_id, "contacts.fields", blob)
        if text is None:
            return {}
        value = orjson.loads(text)
        return value if isinstance(value, dict) else {}

    def resource(
        self,
        row: Any,
        tags: Sequence[str],
        lists: Sequence[str],
        schema: Schema,
    ) -> dict[str, Any]:
        account_id = row.account_id
        decrypt = self._crypto.decrypt_or_none
        fields = self.stored_fields(account_id, row.fields_enc)
        return {
            "id": row.id,
            "number": decrypt(account_id, "contacts.number", row.number_enc),
            "first_name": decrypt(account_id, "contacts.first_name", row.first_name_enc),
            "last_name": decrypt(account_id, "contacts.last_name", row.last_name_enc),
            "email": decrypt(account_id, "contacts.email", row.email_enc),
            "language": decrypt(account_id, "contacts.language", row.language_enc),
            "region": row.region,
            "carrier": row.carrier,
            "time_zones": row.time_zones.split(" ") if row.time_zones else [],
            "fields": {k: v for k, v in sorted(fields.items()) if k in schema},
            "tags": list(tags),
            "lists": list(lists),
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }
