"""BG-10: anonymisation is irreversible; BSMS-12 (and BG-10): statistics come from
anonymous aggregates only, with every group of fewer than five left out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import LargeBinary, select

from tests.api.helpers import assert_problem, wait_for_status
from tests.support import Tenant, raw_tables
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime
from tidings.store.erasures import UNLINKED_INDEX
from tidings.store.tables import data_keys, messages

ALICE = "+31612345678"
BOB = "+31687654321"
OWN = "+447911123456"


def _send(tenant: Tenant, to: str, body: str, **extra: Any) -> str:
    sent = tenant.post("/v1/messages", {"to": to, "from": "Acme", "body": body, **extra})
    assert sent.status_code == 202, sent.text
    message_id: str = sent.json()["id"]
    return message_id


@pytest.mark.promise("BG-10")
def test_anonymised_messages_keep_counts_and_lose_every_way_back_to_the_person(
    tenant: Tenant, runtime: Runtime
) -> None:
    assert tenant.post("/v1/numbers", {"number": OWN}).status_code == 201
    alice = [
        _send(tenant, ALICE, "Alice one", reference="order-77"),
        _send(tenant, ALICE, "Alice two"),
    ]
    bob_old, bob_new = _send(tenant, BOB, "Bob old"), _send(tenant, BOB, "Bob new")
    assert tenant.post("/v1/simulator/inbound", {"from": ALICE, "to": OWN, "body": "A"}).is_success
    for message_id in [*alice, bob_old, bob_new]:
        wait_for_status(tenant, message_id, "delivered")
    inbound = [
        m["id"] for m in tenant.get("/v1/messages").json()["data"] if m["direction"] == "inbound"
    ]
    assert len(inbound) == 1
    before = {m["id"]: m for m in tenant.get("/v1/messages").json()["data"]}
    alice_index = runtime.crypto.blind_index(tenant.account_id, ALICE)
    bob_index = runtime.crypto.blind_index(tenant.account_id, BOB)

    chosen = [*alice, *inbound, bob_old]
    assert runtime.anonymiser.anonymise(chosen) == 4
    assert runtime.anonymiser.anonymise(chosen) == 0  # already done: nothing to redo

    after = {m["id"]: m for m in tenant.get("/v1/messages").json()["data"]}
    assert set(after) == set(before)  # every message is still counted
    for message_id in chosen:
        read = after[message_id]
        assert (read["from"], read["to"], read["body"], read["reference"]) == (None,) * 4
        assert read["anonymised"] is True and read["data_erased"] is False
        assert read["region"] == "NL"
        kept = ("status", "status_history", "segments", "encoding", "created_at", "channel")
        assert {k: read[k] for k in kept} == {k: before[message_id][k] for k in kept}
    assert after[bob_new]["body"] == "Bob new" and after[bob_new]["anonymised"] is False

    with runtime.db.read() as conn:
        rows = conn.execute(select(messages).where(messages.c.id.in_(chosen))).all()
        live_keys = {
            bytes(r.subject_index)
            for r in conn.execute(
                select(data_keys.c.subject_index).where(data_keys.c.destroyed_at.is_(None))
            )
            if r.subject_index is not None
        }
    binary = [c.name for c in messages.columns if isinstance(c.type, LargeBinary)]
    for row in rows:
        for name in binary:  # no ciphertext to decrypt, no pseudonym to look up
            assert getattr(row, name) in (None, UNLINKED_INDEX), name
        assert row.connector_message_id is None and row.reference is None
    # Alice has no message left: her key is gone too; Bob still has one, so his stays.
    assert alice_index not in live_keys and bob_index in live_keys
    stored = raw_tables(runtime)
    assert alice_index not in stored
    assert b"order-77" not in stored
    assert tenant.get("/v1/messages", params={"to": ALICE}).json()["data"] == []


@pytest.mark.promise("BG-10")
def test_anonymise_before_a_day_takes_only_older_messages(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    old = _send(tenant, ALICE, "old")
    clock.advance(timedelta(days=2))
    new = _send(tenant, BOB, "new")
    cutoff = clock.now() - timedelta(days=1)
    assert runtime.anonymiser.anonymise_before(cutoff, dry_run=True) == 1
    assert tenant.get(f"/v1/messages/{old}").json()["body"] == "old"
    assert runtime.anonymiser.anonymise_before(cutoff, tenant.account_id) == 1
    assert tenant.get(f"/v1/messages/{old}").json()["anonymised"] is True
    assert tenant.get(f"/v1/messages/{new}").json()["body"] == "new"


@pytest.mark.promise("BSMS-12")
@pytest.mark.promise("BG-10")
def test_statistics_show_only_groups_of_five_or_more(
    tenant: Tenant, other_tenant: Tenant, runtime: Runtime
) -> None:
    recipients = [f"+316123456{i:02}" for i in range(7)]  # NL: 7
    recipients += [f"+3247012345{i}" for i in range(3)]  # BE: 3, too few to show
    recipients += [f"+4479111234{i:02}" for i in range(5)]  # +44: 5
    batch = tenant.post("/v1/messages/batch", {"to": recipients, "from": "Acme", "body": "Hi"})
    assert batch.status_code == 202
    other = other_tenant.post(
        "/v1/messages/batch", {"to": recipients[:6], "from": "X", "body": "Y"}
    )
    assert other.status_code == 202  # another account's messages are not counted
    anonymised = [m["id"] for m in batch.json()["messages"][:4]]
    runtime.anonymiser.anonymise(anonymised)  # anonymised messages still count

    result = tenant.get("/v1/stats/messages", params={"group_by": "country"}).json()
    assert result["k"] == 5
    assert result["groups"] == [{"country": "+44", "messages": 5}, {"country": "NL", "messages": 7}]
    assert result["suppressed_groups"] == 1
    by_day = tenant.get("/v1/stats/messages", params={"group_by": "day,channel"}).json()
    assert by_day["groups"] == [{"day": "2026-03-01", "channel": "sms", "messages": 15}]
    by_all = tenant.get("/v1/stats/messages").json()  # day, channel, status, country
    assert all(g["messages"] >= 5 for g in by_all["groups"])
    assert sum(g["messages"] for g in by_all["groups"]) <= 15
    body = str(by_all) + str(result)
    assert "+316" not in body and "msg_" not in body and tenant.account_id not in body
    empty = tenant.get(
        "/v1/stats/messages", params={"since": "2026-02-01", "until": "2026-02-02"}
    ).json()
    assert empty["groups"] == [] and empty["suppressed_groups"] == 0


def test_statistics_refuse_bad_parameters(tenant: Tenant) -> None:
    bad_group = tenant.get("/v1/stats/messages", params={"group_by": "day,to"})
    assert_problem(bad_group, 400, "invalid_group_by")
    twice = tenant.get("/v1/stats/messages", params={"group_by": "day,day"})
    assert_problem(twice, 400, "invalid_group_by")
    backwards = tenant.get(
        "/v1/stats/messages", params={"since": "2026-03-02", "until": "2026-03-01"}
    )
    assert_problem(backwards, 400, "invalid_period")
    assert_problem(
        tenant.get("/v1/stats/messages", params={"since": "yesterday"}), 422, "validation_error"
    )
