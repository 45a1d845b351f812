"""The data map is generated from the tables: data sets, roles, protection, policy periods."""

from __future__ import annotations

from sqlalchemy import LargeBinary, MetaData, String, Table

from tidings.domain.classification import DataClass, not_personal
from tidings.privacy.datamap import build_data_map, describe
from tidings.privacy.policy import load_preset
from tidings.privacy.taxonomy import load_taxonomy
from tidings.store.tables import col, metadata


def test_every_table_is_a_data_set() -> None:
    data_map = build_data_map(metadata)
    assert [d.name for d in data_map.data_sets] == sorted(metadata.tables)
    assert data_map.unclassified == ()


def test_a_new_table_appears_in_the_data_map_by_itself() -> None:
    scratch = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(scratch)
    note = DataClass(
        "user.content.inquiry", "prospect", "callbacks", "contract", "controller", "account_data"
    )
    Table(
        "callbacks",
        scratch,
        col("id", String(32), not_personal(), primary_key=True),
        col("text_enc", LargeBinary, note),
    )
    data_set = build_data_map(scratch).data_set("callbacks")
    assert data_set is not None
    assert data_set.role == "controller"
    assert [(i.name, i.protection) for i in data_set.personal] == [
        ("callbacks.text_enc", "encrypted")
    ]


def test_protection_is_read_from_how_a_column_is_stored() -> None:
    data_map = build_data_map(metadata)
    protection = {i.name: i.protection for i in data_map.items()}
    assert protection["message_bodies.body_enc"] == "encrypted"
    assert protection["messages.recipient_index"] == "blind_index"
    assert protection["users.password_hash"] == "hashed"
    assert protection["messages.reference"] == "plain"


def test_roles_per_data_set() -> None:
    data_map = build_data_map(metadata)
    roles = {d.name: d.role for d in data_map.data_sets}
    assert roles["accounts"] == roles["users"] == roles["numbers"] == "controller"
    assert roles["messages"] == roles["webhook_deliveries"] == "processor"
    assert roles["dispatch_queue"] == "none"


def test_describe_takes_periods_and_bases_from_the_policy() -> None:
    data_map = build_data_map(metadata)
    taxonomy = load_taxonomy()
    ics = describe(data_map, load_preset("ics"), taxonomy)
    icetrak = describe(data_map, load_preset("icetrak"), taxonomy)

    def column(view: dict, name: str) -> dict:  # type: ignore[type-arg]
        table = name.split(".")[0]
        data_set = next(d for d in view["data_sets"] if d["name"] == table)
        return next(c for c in data_set["columns"] if c["column"] == name)

    assert column(ics, "accounts.name_enc")["period"] == "10y"
    assert column(icetrak, "accounts.name_enc")["period"] == "7y"
    assert column(icetrak, "accounts.name_enc")["basis"] == "legitimate_interest"
    assert column(ics, "accounts.name_enc")["basis"] == "contract"
    assert column(ics, "message_bodies.body_enc")["article"] == "Art. 28 GDPR"
    assert column(ics, "message_bodies.body_enc")["category_name"] == "Message content"
