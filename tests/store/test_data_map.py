"""Every column that exists declares its classification; personal data is never stored plain."""

from __future__ import annotations

from sqlalchemy import LargeBinary

from tidings.domain.classification import INFO_KEY, DataClass
from tidings.privacy.datamap import build_data_map, taxonomy_problems
from tidings.privacy.taxonomy import load_taxonomy
from tidings.store.tables import metadata

# Personal columns stored as readable text, each with the reason it may be.
READABLE_PERSONAL = {
    # An account's own order/reference id: set by the customer, needed for their lookups.
    "messages.reference",
    # An argon2id hash, not the password.
    "users.password_hash",
    # The DPO / privacy contact: published by law in every notice (Art. 13(1)(b), 37(7) GDPR).
    "privacy_contacts.name",
    "privacy_contacts.email",
    "privacy_contacts.phone",
    "privacy_contacts.address",
    # Derived from a contact number's prefix and shared by every number of that range (a
    # country, an operator, its time zones): filters and send-time windows need them, and
    # they single out no one.
    "contacts.region",
    "contacts.carrier",
    "contacts.time_zones",
    # The account a statement bills: the statement is found by it and outlives the account
    # (accounting law), and it names no one without the account's own (encrypted) name.
    "account_statements.account_id",
}


def all_columns() -> list[tuple[str, DataClass | None]]:
    return [
        (f"{table.name}.{column.name}", column.info.get(INFO_KEY))
        for table in metadata.sorted_tables
        for column in table.columns
    ]


def test_every_column_of_every_table_is_classified() -> None:
    unclassified = [name for name, data in all_columns() if not isinstance(data, DataClass)]
    assert unclassified == []


def test_personal_columns_are_encrypted_or_blind_indexed() -> None:
    plain = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            data = column.info[INFO_KEY]
            name = f"{table.name}.{column.name}"
            if not data.personal or name in READABLE_PERSONAL:
                continue
            stored_as_bytes = isinstance(column.type, LargeBinary)
            named_for_protection = column.name.endswith(("_enc", "_index"))
            if not (stored_as_bytes and named_for_protection):
                plain.append(name)
    assert plain == []


def test_classifications_name_role_basis_and_retention() -> None:
    for name, data in all_columns():
        assert data is not None
        assert data.role in ("controller", "processor"), name
        assert data.retention, name
        if data.personal:
            assert data.basis != "not_personal", name
            assert data.category.startswith("user."), name


def test_roles_follow_the_fixed_decision() -> None:
    """Controller of account data; processor of accounts' messages (ICE-03)."""
    roles = {name: data.role for name, data in all_columns() if data and data.personal}
    assert roles["accounts.name_enc"] == "controller"
    assert roles["users.email_enc"] == "controller"
    assert roles["message_bodies.body_enc"] == "processor"
    assert roles["messages.recipient_enc"] == "processor"
    assert roles["messages.sender_enc"] == "processor"


def test_a_new_unclassified_column_is_caught() -> None:
    from sqlalchemy import Column, MetaData, String, Table

    scratch = MetaData()
    table = Table("scratch", scratch, Column("phone", String(20)))
    missing = [c.name for c in table.columns if INFO_KEY not in c.info]
    assert missing == ["phone"]


def test_every_category_and_subject_is_in_the_taxonomy() -> None:
    """The taxonomy is data (privacy/data/taxonomy.toml); the data map may use only its terms."""
    assert taxonomy_problems(build_data_map(metadata), load_taxonomy()) == []
    assert load_taxonomy().problems() == []


def test_a_category_outside_the_taxonomy_is_caught() -> None:
    from sqlalchemy import MetaData, String, Table

    from tidings.store.tables import col

    scratch = MetaData()
    made_up = DataClass(
        "user.made_up.thing", "pen_pal", "fun", "consent", "controller", "account_data"
    )
    Table("scratch", scratch, col("thing", String(20), made_up))
    problems = taxonomy_problems(build_data_map(scratch), load_taxonomy())
    assert len(problems) == 2
    assert "scratch.thing: category 'user.made_up.thing' is not in the taxonomy" in problems[0]
    assert "data subject 'pen_pal'" in problems[1]
