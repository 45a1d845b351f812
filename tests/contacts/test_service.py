"""The contacts service on SQLite and PostgreSQL: CRUD, lookups by blind index, lists,
custom fields, filters; personal fields never stored readable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.runtime import Runtime
from tidings.store.contacts import ContactFilter
from tidings.store.tables import contacts


@pytest.fixture
def account(runtime: Runtime) -> str:
    return str(runtime.accounts.create_account("Acme")["account_id"])


def test_create_read_update_delete(runtime: Runtime, account: str) -> None:
    created = runtime.contacts.create(
        account,
        {"number": "+31 6 1234 5678", "first_name": "Ana", "email": "Ana@Example.com"},
    )
    assert created["id"].startswith("con_")
    assert created["number"] == "+31612345678"
    assert (created["region"], created["carrier"]) == ("NL", "KPN")
    assert created["time_zones"] == ["Europe/Amsterdam"]
    assert runtime.contacts.get(account, created["id"]) == created

    changed = runtime.contacts.update(
        account, created["id"], {"last_name": "Silva", "first_name": None, "language": "pt-BR"}
    )
    assert (changed["first_name"], changed["last_name"], changed["language"]) == (
        None,
        "Silva",
        "pt-BR",
    )
    assert changed["email"] == "Ana@Example.com"

    runtime.contacts.delete(account, created["id"])
    with pytest.raises(NotFound):
        runtime.contacts.get(account, created["id"])
    with pytest.raises(NotFound):
        runtime.contacts.delete(account, created["id"])


def test_lookup_by_number_and_email_through_blind_indexes(runtime: Runtime, account: str) -> None:
    created = runtime.contacts.create(account, {"number": "+14155550100", "email": "a@b.co"})
    found = runtime.contacts.get_by_number(account, "001 415 555 0100")
    assert found is not None and found["id"] == created["id"]
    assert runtime.contacts.get_by_number(account, "+14155550199") is None
    assert [c["id"] for c in runtime.contacts.get_by_email(account, "A@B.CO")] == [created["id"]]
    other = str(runtime.accounts.create_account("Globex")["account_id"])
    assert runtime.contacts.get_by_number(other, "+14155550100") is None
    assert runtime.contacts.get_by_email(other, "a@b.co") == []
    with pytest.raises(NotFound):
        runtime.contacts.get(other, created["id"])
    with pytest.raises(InvalidInput):
        runtime.contacts.get_by_number(account, "not a number")


def test_one_contact_per_number_per_account(runtime: Runtime, account: str) -> None:
    first = runtime.contacts.create(account, {"number": "+31612345678"})
    with pytest.raises(Conflict) as raised:
        runtime.contacts.create(account, {"number": "0031612345678"})
    assert raised.value.code == "contact_exists"
    second = runtime.contacts.create(account, {"number": "+31612345679"})
    with pytest.raises(Conflict):
        runtime.contacts.update(account, second["id"], {"number": "+31612345678"})
    other = str(runtime.accounts.create_account("Globex")["account_id"])
    assert runtime.contacts.create(other, {"number": "+31612345678"})["id"] != first["id"]


def test_personal_fields_are_encrypted_at_rest(runtime: Runtime, account: str) -> None:
    runtime.contact_fields.create(account, "nickname", "string")
    runtime.contacts.create(
        account,
        {
            "number": "+31612345678",
            "first_name": "Zebulon",
            "last_name": "Quixote",
            "email": "zeb@example.org",
            "fields": {"nickname": "Zeppelin"},
        },
    )
    with runtime.db.read() as conn:
        row = conn.execute(select(contacts)).one()
    stored = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    for secret in (b"31612345678", b"Zebulon", b"Quixote", b"zeb@example", b"Zeppelin"):
        assert secret not in stored


def test_custom_fields_are_typed_by_the_schema(runtime: Runtime, account: str) -> None:
    fields = runtime.contact_fields
    fields.create(account, "score", "number")
    fields.create(account, "vip", "boolean")
    fields.create(account, "birthday", "date")
    fields.create(account, "tier", "enum", options=["gold", "silver"])
    created = runtime.contacts.create(
        account,
        {
            "number": "+31612345678",
            "fields": {"score": "42", "vip": "yes", "birthday": "1990-05-17", "tier": "gold"},
        },
    )
    assert created["fields"] == {
        "birthday": "1990-05-17",
        "score": 42,
        "tier": "gold",
        "vip": True,
    }
    bad = [
        ({"score": "many"}, "fields.score"),
        ({"vip": "perhaps"}, "fields.vip"),
        ({"birthday": "17/05/1990"}, "fields.birthday"),
        ({"tier": "bronze"}, "fields.tier"),
        ({"unknown": "x"}, "fields.unknown"),
    ]
    for value, field in bad:
        with pytest.raises(InvalidInput) as raised:
            runtime.contacts.update(account, created["id"], {"fields": value})
        assert raised.value.extra["field"] == field
    changed = runtime.contacts.update(account, created["id"], {"fields": {"score": None}})
    assert "score" not in changed["fields"] and changed["fields"]["tier"] == "gold"
    with pytest.raises(InvalidInput):
        fields.create(account, "number", "string")
    with pytest.raises(Conflict):
        fields.create(account, "score", "string")


def test_lists_membership_and_filters(runtime: Runtime, account: str) -> None:
    runtime.contact_fields.create(account, "tier", "enum", options=["gold", "silver"])
    nl = runtime.contacts.create(
        account, {"number": "+31612345678", "tags": ["vip", "nl"], "fields": {"tier": "gold"}}
    )
    us = runtime.contacts.create(account, {"number": "+14155550100", "tags": "vip|us"})
    gb = runtime.contacts.create(account, {"number": "+447911123456"})
    customers = runtime.lists.create(account, "Customers")
    with pytest.raises(Conflict):
        runtime.lists.create(account, "Customers")
    assert runtime.lists.add(account, customers["id"], [nl["id"], gb["id"]])["added"] == 2
    assert runtime.lists.add(account, customers["id"], [nl["id"]])["added"] == 0
    assert runtime.contacts.get(account, nl["id"])["lists"] == [customers["id"]]

    def ids(**query: object) -> set[str]:
        where = runtime.contacts.filter_for(account, **query)  # type: ignore[arg-type]
        return {c["id"] for c in runtime.contacts.list(account, where, limit=500)["data"]}

    assert ids() == {nl["id"], us["id"], gb["id"]}
    assert ids(tag="vip") == {nl["id"], us["id"]}
    assert ids(list_id=customers["id"]) == {nl["id"], gb["id"]}
    assert ids(region="us") == {us["id"]}
    assert ids(field=("tier", "gold")) == {nl["id"]}
    assert ids(tag="vip", list_id=customers["id"]) == {nl["id"]}
    runtime.lists.remove(account, customers["id"], [gb["id"]])
    assert ids(list_id=customers["id"]) == {nl["id"]}
    runtime.lists.delete(account, customers["id"])
    assert runtime.contacts.get(account, nl["id"])["lists"] == []
    other = str(runtime.accounts.create_account("Globex")["account_id"])
    with pytest.raises(NotFound):
        runtime.lists.add(other, customers["id"], [nl["id"]])


def test_pages_follow_the_cursor(runtime: Runtime, account: str) -> None:
    made = [runtime.contacts.create(account, {"number": f"+3161234560{i}"})["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = runtime.contacts.list(account, ContactFilter(), cursor=cursor, limit=2)
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)
    assert [c["id"] for c in runtime.contacts.iterate(account, batch=2)] == sorted(made)
