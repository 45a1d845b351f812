"""Erasure of a data subject through the operator API and the CLI."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.api.helpers import assert_problem, later, wait_for_status
from tests.api.receiver import Receiver
from tests.support import Tenant, wait_until
from tidings.cli.main import app as cli
from tidings.core.clock import ManualClock
from tidings.core.crypto import KeyUnavailable, key_id_of
from tidings.runtime import Runtime
from tidings.store.erasures import UNLINKED_INDEX
from tidings.store.tables import data_keys, erasures, messages, users, webhook_deliveries

ALICE = "+31612345678"
BOB = "+31687654321"
OWN = "+447911123456"


def operator_headers(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )["api_key"]
    return {"Authorization": f"Bearer {key}"}


def erase(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/v1/admin/privacy/erasures", json=body, headers=headers)


def _messages(tenant: Tenant) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in tenant.get("/v1/messages", params={"limit": 500}).json()["data"]}


def test_erasing_a_subject_shreds_their_messages_and_spares_others(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    ops = operator_headers(runtime, tenant)
    with Receiver() as receiver:
        receiver.status = 500  # keep the inbound webhook pending
        assert tenant.put("/v1/account/webhook", {"url": receiver.url}).status_code == 200
        assert tenant.post("/v1/numbers", {"number": OWN}).status_code == 201
        to_alice = tenant.post("/v1/messages", {"to": ALICE, "from": "Acme", "body": "A1"}).json()
        to_bob = tenant.post("/v1/messages", {"to": BOB, "from": "Acme", "body": "B1"}).json()
        inbound = {"from": ALICE, "to": OWN, "body": "Alice writes"}
        assert tenant.post("/v1/simulator/inbound", inbound).status_code == 202
        wait_for_status(tenant, to_alice["id"], "delivered")
        wait_for_status(tenant, to_bob["id"], "delivered")
        (from_alice,) = wait_until(
            lambda: [m for m in _messages(tenant).values() if m["direction"] == "inbound"]
        )
        wait_until(lambda: receiver.requests, message="a webhook attempt")

        dry = erase(client, ops, account_id=tenant.account_id, subject=ALICE, dry_run=True)
        assert dry.status_code == 200, dry.text
        assert dry.json()["outcome"] == "dry_run" and dry.json()["id"] is None
        assert dry.json()["messages"] == 2 and dry.json()["keys_destroyed"] == 1
        assert _messages(tenant)[to_alice["id"]]["body"] == "A1"  # nothing changed

        done = erase(client, ops, account_id=tenant.account_id, subject="+31 6 1234 5678")
        assert done.status_code == 201, done.text
        result = done.json()
        assert result["outcome"] == "erased" and result["id"].startswith("era_")
        assert result["keys_destroyed"] == 1 and result["messages"] == 2
        assert result["webhooks_deleted"] == 1 and result["messages_deleted"] == 0

    listed = _messages(tenant)  # the list never fails on shredded rows
    for message_id in (to_alice["id"], from_alice["id"]):
        for read in (listed[message_id], tenant.get(f"/v1/messages/{message_id}").json()):
            assert read["data_erased"] is True
            assert read["body"] is None
            assert ALICE not in (read["to"], read["from"])
    assert listed[to_alice["id"]]["to"] is None and listed[to_alice["id"]]["from"] == "Acme"
    assert listed[from_alice["id"]]["from"] is None and listed[from_alice["id"]]["to"] == OWN
    assert listed[to_bob["id"]] | {"status_history": None} == _messages(tenant)[to_bob["id"]] | {
        "status_history": None
    }
    assert listed[to_bob["id"]]["body"] == "B1" and listed[to_bob["id"]]["data_erased"] is False
    # Nothing leads back to Alice any more: no key, no index, no payload.
    assert tenant.get("/v1/messages", params={"to": ALICE}).json()["data"] == []
    alice_index = runtime.crypto.blind_index(tenant.account_id, ALICE)
    with runtime.db.read() as conn:
        assert (
            conn.execute(select(data_keys).where(data_keys.c.subject_index == alice_index)).all()
            == []
        )
        rows = conn.execute(
            select(messages).where(messages.c.id.in_([to_alice["id"], from_alice["id"]]))
        )
        for row in rows:
            assert alice_index not in (bytes(row.recipient_index), bytes(row.sender_index))
            assert UNLINKED_INDEX in (bytes(row.recipient_index), bytes(row.sender_index))
        hooks = conn.execute(select(webhook_deliveries.c.event)).scalars().all()
        assert "message.inbound" not in hooks
        (audit,) = conn.execute(select(erasures)).all()
    assert audit.requested_by.startswith("api:key_") and audit.messages == 2
    log = client.get("/v1/admin/privacy/erasures", headers=ops).json()["data"]
    assert [e["id"] for e in log] == [result["id"]]
    assert ALICE not in json.dumps(log) and ALICE[1:] not in json.dumps(log)
    # Alice may write again later: a new key, readable, unrelated to the erased one.
    again = tenant.post("/v1/messages", {"to": ALICE, "from": "Acme", "body": "A2"}).json()
    assert tenant.get(f"/v1/messages/{again['id']}").json()["body"] == "A2"


def test_erasure_cancels_unsent_work(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    ops = operator_headers(runtime, tenant)
    scheduled = tenant.post(
        "/v1/messages",
        {"to": ALICE, "from": "Acme", "body": "later", "send_at": later(clock, days=1)},
    ).json()
    assert (
        erase(client, ops, account_id=tenant.account_id, subject=ALICE).json()["work_canceled"] == 1
    )
    read = tenant.get(f"/v1/messages/{scheduled['id']}").json()
    assert read["status"] == "canceled" and read["error_code"] == "data_erased"
    clock.advance(timedelta(days=2))
    assert wait_for_status(tenant, scheduled["id"], "canceled")["body"] is None


def test_erasure_requests_that_cannot_be_done(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    ops = operator_headers(runtime, tenant)
    assert_problem(
        erase(client, ops, account_id=tenant.account_id, subject="not a number"),
        400,
        "invalid_subject",
    )
    assert_problem(
        erase(client, ops, account_id="acc_nothere", subject=ALICE), 404, "account_not_found"
    )
    assert_problem(erase(client, ops, account_id=tenant.account_id), 422, "validation_error")
    both = erase(client, ops, account_id=tenant.account_id, subject=ALICE, whole_account=True)
    assert_problem(both, 422, "validation_error")
    # An account's own admin key is no operator key.
    assert_problem(
        erase(client, tenant.headers, account_id=tenant.account_id, subject=ALICE),
        403,
        "insufficient_scope",
    )
    assert_problem(
        client.get("/v1/admin/privacy/erasures", headers=tenant.headers), 403, "insufficient_scope"
    )
    with runtime.db.read() as conn:
        assert conn.execute(select(erasures)).all() == []


def test_cli_erase_and_log(database_url: str, tmp_path: Path) -> None:
    env = {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), env=env)

    account = json.loads(run("account", "create", "--name", "Acme", "--json").stdout)["account_id"]
    dry = run("privacy", "erase", "--account", account, "--subject", ALICE, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["outcome"] == "dry_run"
    done = run("privacy", "erase", "--account", account, "--subject", ALICE, "--json")
    assert done.exit_code == 0 and json.loads(done.stdout)["outcome"] == "erased"
    log = run("privacy", "erasures", "--json")
    assert [e["outcome"] for e in json.loads(log.stdout)] == ["erased"]
    assert json.loads(log.stdout)[0]["requested_by"].startswith("cli")
    bad = run("privacy", "erase", "--account", account, "--subject", "12ab")
    assert bad.exit_code == 2 and "error:" in bad.stderr and "Traceback" not in bad.output
    neither = run("privacy", "erase", "--account", account)
    assert neither.exit_code == 2 and "--subject" in neither.stderr
    missing = run("privacy", "erase", "--account", "acc_missing", "--subject", ALICE)
    assert missing.exit_code == 2 and "no account" in missing.stderr


def test_a_subject_under_legal_hold_is_not_erased_until_the_hold_is_released(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    ops = operator_headers(runtime, tenant)
    kept = tenant.post("/v1/messages", {"to": ALICE, "from": "Acme", "body": "evidence"}).json()
    other = tenant.post("/v1/messages", {"to": BOB, "from": "Acme", "body": "B"}).json()
    hold = runtime.holds.create(
        tenant.account_id, reason="court order 12/2026", authority="District court", subject=ALICE
    )
    refused = erase(client, ops, account_id=tenant.account_id, subject=ALICE)
    assert_problem(refused, 409, "subject_on_hold")
    assert refused.json()["erasure"]["outcome"] == "held"
    assert tenant.get(f"/v1/messages/{kept['id']}").json()["body"] == "evidence"
    # The hold names Alice only: Bob may still be erased; a whole-account erasure may not.
    assert erase(client, ops, account_id=tenant.account_id, subject=BOB).status_code == 201
    assert tenant.get(f"/v1/messages/{other['id']}").json()["data_erased"] is True
    whole = erase(client, ops, account_id=tenant.account_id, whole_account=True)
    assert_problem(whole, 409, "subject_on_hold")
    runtime.holds.release(hold["id"])
    assert erase(client, ops, account_id=tenant.account_id, subject=ALICE).status_code == 201
    assert tenant.get(f"/v1/messages/{kept['id']}").json()["data_erased"] is True
    outcomes = sorted(e["outcome"] for e in runtime.erasure.list(tenant.account_id))
    assert outcomes == ["erased", "erased", "held", "held"]  # refusals are logged too


def test_a_hold_of_past_records_only_covers_those(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    ops = operator_headers(runtime, tenant)
    tenant.post("/v1/messages", {"to": ALICE, "from": "Acme", "body": "old"})
    start = clock.now().date()
    runtime.holds.create(
        tenant.account_id, reason="audit", authority="Tax office", held_from=start, held_to=start
    )
    assert_problem(
        erase(client, ops, account_id=tenant.account_id, subject=ALICE), 409, "subject_on_hold"
    )
    # Bob's only record is from after the held days: nothing of his is preserved.
    clock.advance(timedelta(days=3))
    tenant.post("/v1/messages", {"to": BOB, "from": "Acme", "body": "new"})
    assert erase(client, ops, account_id=tenant.account_id, subject=BOB).status_code == 201


def test_erasing_an_account_user_shreds_their_email_and_removes_their_sign_in(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    ops = operator_headers(runtime, tenant)
    user = runtime.accounts.create_user(tenant.account_id, "Ann@Example.org", "a long passphrase")
    other = runtime.accounts.create_user(tenant.account_id, "bo@example.org", "another passphrase")
    with runtime.db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(users))}
        scopes = {r.id: r.scope for r in conn.execute(select(data_keys))}
    ann_email = bytes(rows[user["id"]].email_enc)
    assert scopes[key_id_of(ann_email)] == "subject"  # her own key, not the account's
    assert key_id_of(ann_email) != key_id_of(rows[other["id"]].email_enc)
    assert runtime.accounts.verify_user("ann@example.org", "a long passphrase") == tenant.account_id

    dry = erase(client, ops, account_id=tenant.account_id, subject=user["id"], dry_run=True)
    assert dry.status_code == 200 and dry.json()["scope"] == "user"
    done = erase(client, ops, account_id=tenant.account_id, subject=user["id"])
    assert done.status_code == 201, done.text
    assert done.json()["scope"] == "user" and done.json()["keys_destroyed"] == 1
    with pytest.raises(KeyUnavailable):  # a copy of her row from a backup is unreadable
        runtime.crypto.decrypt(tenant.account_id, "users.email", ann_email)
    assert runtime.accounts.verify_user("ann@example.org", "a long passphrase") is None
    assert runtime.accounts.verify_user("bo@example.org", "another passphrase") == tenant.account_id
    again = erase(client, ops, account_id=tenant.account_id, subject=user["id"])
    assert_problem(again, 404, "user_not_found")
    assert_problem(
        erase(client, ops, account_id=tenant.account_id, subject="usr_bad"), 404, "user_not_found"
    )
    runtime.holds.create(tenant.account_id, reason="audit", authority="Tax office")
    held = erase(client, ops, account_id=tenant.account_id, subject=other["id"])
    assert_problem(held, 409, "subject_on_hold")
