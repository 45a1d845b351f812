"""Contacts, their tags and custom field indexes, lists and members, and the field schema.

Every query is scoped by account id: one account's phonebook is invisible to another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA

from tidings.store.bulk import driver_in, in_list, insert_driver_values, insert_rows, update_rows
from tidings.store.tables import (
    contact_field_values,
    contact_fields,
    contact_lists,
    contact_tags,
    contacts,
    list_members,
)

CHUNK = 1024  # ids per IN list: a power of two (bulk.padded_list)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


# --- contacts ------------------------------------------------------------------------------


def insert_contacts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Rows that all have the same keys (bulk: COPY on PostgreSQL)."""
    insert_rows(conn, contacts, rows)


def insert_contact_values(
    conn: Connection, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Rows as values in the order of `columns`, ready for the driver (SQLite: times as
    `driver_time` gives them)."""
    insert_driver_values(conn, contacts, columns, rows)


def update_contacts(conn: Connection, changes: Sequence[dict[str, Any]]) -> None:
    """Each change is {"id": ..., column: value, ...}."""
    update_rows(conn, contacts, "id", changes)


def get_contact(conn: Connection, account_id: str, contact_id: str) -> Row[Any] | None:
    return conn.execute(
        select(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
    ).first()


def contact_by_number_index(
    conn: Connection, account_id: str, number_index: bytes
) -> Row[Any] | None:
    return conn.execute(
        select(contacts).where(
            contacts.c.account_id == account_id, contacts.c.number_index == number_index
        )
    ).first()


class FoundContact(NamedTuple):
    number_index: bytes
    id: str
    import_id: str | None
    import_line: int | None
    fields_enc: bytes | None = None


def contacts_by_number_indexes(
    conn: Connection, account_id: str, indexes: Sequence[bytes], *, with_fields: bool = False
) -> dict[bytes, Any]:
    """number_index -> (id, import_id, import_line[, fields_enc]) of the contacts that exist."""
    found: dict[bytes, Any] = {}
    if conn.dialect.name == "postgresql":  # one array parameter
        query = _BY_NUMBER[with_fields]
        for found_row in conn.execute(query, {"account": account_id, "indexes": list(indexes)}):
            found[bytes(found_row.number_index)] = found_row
        return found
    # SQLite: the driver's own statement; SQLAlchemy's handling of each parameter cost
    # more than the query.
    columns = "number_index, id, import_id, import_line" + (", fields_enc" if with_fields else "")
    for chunk in _chunks(indexes):
        test, params = driver_in(conn, chunk)
        sql = f"SELECT {columns} FROM contacts WHERE account_id = ? AND number_index {test}"
        for values in conn.exec_driver_sql(sql, (account_id, *params)):
            found[values[0]] = FoundContact(*values)
    return found


def _by_number(with_fields: bool) -> Any:
    columns = [contacts.c.number_index, contacts.c.id, contacts.c.import_id, contacts.c.import_line]
    if with_fields:
        columns.append(contacts.c.fields_enc)
    indexes = contacts.c.number_index == any_(bindparam("indexes", type_=ARRAY(BYTEA)))
    return select(*columns).where(contacts.c.account_id == bindparam("account"), indexes)


_BY_NUMBER = {f: _by_number(f) for f in (False, True)}  # PostgreSQL's


def contacts_by_email_index(
    conn: Connection, account_id: str, email_index: bytes
) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(contacts)
            .where(contacts.c.account_id == account_id, contacts.c.email_index == email_index)
            .order_by(contacts.c.id)
        )
    )


def delete_contact(conn: Connection, account_id: str, contact_id: str) -> bool:
    result = conn.execute(
        delete(contacts).where(contacts.c.id == contact_id, contacts.c.account_id == account_id)
    )
    if result.rowcount != 1:
        return False
    conn.execute(delete(contact_tags).where(contact_tags.c.contact_id == contact_id))
    conn.execute(
        delete(contact_field_values).where(contact_field_values.c.contact_id == contact_id)
    )
    conn.execute(delete(list_members).where(list_members.c.contact_id == contact_id))
    return True


@dataclass
class ContactFilter:
    """Which contacts a listing or an export shows. `extra` holds further conditions on the
    `contacts` table built by other packages (the consent state filter, say)."""

    tag: str | None = None
    list_id: str | None = None
    region: str | None = None
    field_key: str | None = None
    field_index: bytes | None = None
    number_index: bytes | None = None
    email_index: bytes | None = None
    extra: list[ColumnElement[bool]] = field(default_factory=list)

    def conditions(self, account_id: str) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [contacts.c.account_id == account_id]
        if self.tag is not None:
            found.append(
                exists().where(
                    contact_tags.c.contact_id == contacts.c.id,
                    contact_tags.c.account_id == account_id,
                    contact_tags.c.tag == self.tag,
                )
            )
        if self.list_id is not None:
            found.append(
                exists().where(
                    list_members.c.contact_id == contacts.c.id,
                    list_members.c.account_id == account_id,
                    list_members.c.list_id == self.list_id,
                )
            )
        if self.region is not None:
            found.append(contacts.c.region == self.region)
        if self.number_index is not None:
            found.append(contacts.c.number_index == self.number_index)
        if self.email_index is not None:
            found.append(contacts.c.email_index == self.email_index)
        if self.field_key is not None and self.field_index is not None:
            found.append(
                exists().where(
                    contact_field_values.c.contact_id == contacts.c.id,
                    contact_field_values.c.account_id == account_id,
                    contact_field_values.c.field_key == self.field_key,
                    contact_field_values.c.value_index == self.field_index,
                )
            )
        found.extend(self.extra)
        return found


def list_contacts(
    conn: Connection,
    account_id: str,
    where: ContactFilter,
    *,
    before_id: str | None = None,
    after_id: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> list[Row[Any]]:
    query = select(contacts).where(and_(*where.conditions(account_id)))
    if before_id is not None:
        query = query.where(contacts.c.id < before_id)
    if after_id is not None:
        query = query.where(contacts.c.id > after_id)
    order = contacts.c.id.desc() if newest_first else contacts.c.id.asc()
    return list(conn.execute(query.order_by(order).limit(limit)))


def count_contacts(conn: Connection, account_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(contacts).where(contacts.c.account_id == account_id)
        ).scalar()
        or 0
    )


# --- tags and custom field indexes ---------------------------------------------------------


def tags_of(conn: Connection, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {c: [] for c in contact_ids}
    for chunk in _chunks(contact_ids):
        rows = conn.execute(
            select(contact_tags.c.contact_id, contact_tags.c.tag)
            .where(in_list(conn, contact_tags.c.contact_id, chunk))
            .order_by(contact_tags.c.contact_id, contact_tags.c.tag)
        )
        for row in rows:
            result[row.contact_id].append(row.tag)
    return result


def replace_tags(conn: Connection, account_id: str, tags: Mapping[str, Sequence[str]]) -> None:
    """Set the tags of each contact id to exactly the given ones."""
    ids = list(tags)
    for chunk in _chunks(ids):
        conn.execute(delete(contact_tags).where(in_list(conn, contact_tags.c.contact_id, chunk)))
    rows = [
        {"contact_id": cid, "tag": tag, "account_id": account_id}
        for cid, values in tags.items()
        for tag in values
    ]
    insert_rows(conn, contact_tags, rows)


def replace_field_indexes(
    conn: Connection, account_id: str, values: Mapping[str, Mapping[str, bytes | None]]
) -> None:
    """For each contact id, set (or with None, remove) the index of each named field."""
    removals = [(cid, key) for cid, fields in values.items() for key in fields]
    by_key: dict[str, list[str]] = {}
    for cid, key in removals:
        by_key.setdefault(key, []).append(cid)
    for key, ids in by_key.items():
        for chunk in _chunks(ids):
            conn.execute(
                delete(contact_field_values).where(
                    contact_field_values.c.field_key == key,
                    in_list(conn, contact_field_values.c.contact_id, chunk),
                )
            )
    rows = [
        {"contact_id": cid, "field_key": key, "account_id": account_id, "value_index": index}
        for cid, fields in values.items()
        for key, index in fields.items()
        if index is not None
    ]
    insert_rows(conn, contact_field_values, rows)


# --- lists ------------------------------------------------------------------------------------


def insert_list(
    conn: Connection, *, list_id: str, account_id: str, name: str, created_at: datetime
) -> None:
    conn.execute(
        insert(contact_lists).values(
            id=list_id, account_id=account_id, name=name, created_at=created_at
        )
    )


def get_list(conn: Connection, account_id: str, list_id: str) -> Row[Any] | None:
    return conn.execute(
        select(contact_lists).where(
            contact_lists.c.id == list_id, contact_lists.c.account_id == account_id
        )
    ).first()


def list_by_name(conn: Connection, account_id: str, name: str) -> Row[Any] | None:
    return conn.execute(
        select(contact_lists).where(
            contact_lists.c.name == name, contact_lists.c.account_id == account_id
        )
    ).first()


def list_lists(
    conn: Connection, account_id: str, *, after_id: str | None = None, limit: int = 500
) -> list[Row[Any]]:
    query = select(contact_lists).where(contact_lists.c.account_id == account_id)
    if after_id is not None:
        query = query.where(contact_lists.c.id > after_id)
    return list(conn.execute(query.order_by(contact_lists.c.id).limit(limit)))


def rename_list(conn: Connection, account_id: str, list_id: str, name: str) -> bool:
    result = conn.execute(
        update(contact_lists)
        .where(contact_lists.c.id == list_id, contact_lists.c.account_id == account_id)
        .values(name=name)
    )
    return result.rowcount == 1


def delete_list(conn: Connection, account_id: str, list_id: str) -> bool:
    result = conn.execute(
        delete(contact_lists).where(
            contact_lists.c.id == list_id, contact_lists.c.account_id == account_id
        )
    )
    if result.rowcount != 1:
        return False
    conn.execute(delete(list_members).where(list_members.c.list_id == list_id))
    return True


def member_counts(conn: Connection, list_ids: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(list_ids, 0)
    if list_ids:
        rows = conn.execute(
            select(list_members.c.list_id, func.count())
            .where(in_list(conn, list_members.c.list_id, list_ids))
            .group_by(list_members.c.list_id)
        )
        counts.update({row[0]: int(row[1]) for row in rows})
    return counts


def lists_of(conn: Connection, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {c: [] for c in contact_ids}
    for chunk in _chunks(contact_ids):
        rows = conn.execute(
            select(list_members.c.contact_id, list_members.c.list_id)
            .where(in_list(conn, list_members.c.contact_id, chunk))
            .order_by(list_members.c.list_id)
        )
        for row in rows:
            result[row.contact_id].append(row.list_id)
    return result


def add_members(
    conn: Connection, account_id: str, list_id: str, contact_ids: Sequence[str], at: datetime
) -> int:
    """Add contacts to a list; those already in it are left alone. Returns how many joined."""
    existing: set[str] = set()
    for chunk in _chunks(contact_ids):
        existing.update(
            conn.execute(
                select(list_members.c.contact_id).where(
                    list_members.c.list_id == list_id,
                    in_list(conn, list_members.c.contact_id, chunk),
                )
            ).scalars()
        )
    new = [c for c in dict.fromkeys(contact_ids) if c not in existing]
    insert_rows(
        conn,
        list_members,
        [
            {"list_id": list_id, "contact_id": c, "account_id": account_id, "added_at": at}
            for c in new
        ],
    )
    return len(new)


def remove_members(conn: Connection, list_id: str, contact_ids: Sequence[str]) -> int:
    removed = 0
    for chunk in _chunks(contact_ids):
        result = conn.execute(
            delete(list_members).where(
                list_members.c.list_id == list_id, in_list(conn, list_members.c.contact_id, chunk)
            )
        )
        removed += int(result.rowcount)
    return removed


def existing_contact_ids(conn: Connection, account_id: str, contact_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(contact_ids):
        found.update(
            conn.execute(
                select(contacts.c.id).where(
                    contacts.c.account_id == account_id, in_list(conn, contacts.c.id, chunk)
                )
            ).scalars()
        )
    return found


# --- custom field schema ----------------------------------------------------------------------


def insert_field(
    conn: Connection,
    *,
    field_id: str,
    account_id: str,
    key: str,
    label: str | None,
    type_: str,
    options: str | None,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(contact_fields).values(
            id=field_id,
            account_id=account_id,
            key=key,
            label=label,
            type=type_,
            options=options,
            created_at=created_at,
        )
    )


def list_fields(conn: Connection, account_id: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(contact_fields)
            .where(contact_fields.c.account_id == account_id)
            .order_by(contact_fields.c.key)
        )
    )


def get_field(conn: Connection, account_id: str, field_id: str) -> Row[Any] | None:
    return conn.execute(
        select(contact_fields).where(
            contact_fields.c.id == field_id, contact_fields.c.account_id == account_id
        )
    ).first()


def delete_field(conn: Connection, account_id: str, field_id: str, key: str) -> bool:
    """Remove a field from the schema and its indexed values (stored values stay encrypted
    in each contact until the contact is next written, and are no longer shown)."""
    result = conn.execute(
        delete(contact_fields).where(
            contact_fields.c.id == field_id, contact_fields.c.account_id == account_id
        )
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        delete(contact_field_values).where(
            contact_field_values.c.account_id == account_id,
            contact_field_values.c.field_key == key,
        )
    )
    return True
