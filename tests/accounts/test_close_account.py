"""Closing an account: `closed_at` from the clock, keys and SMPP credentials revoked, sends
refused with a clear reason, and a second close refused with 409."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import assert_problem
from tests.support import Tenant
from tidings.cli.main import app
from tidings.core.clock import ManualClock, iso, to_utc
from tidings.runtime import Runtime
from tidings.smpp_server.credentials import CredentialService
from tidings.store import accounts as account_store

SEND = {"to": "+31612345678", "from": "Acme", "body": "hello"}


def _operator(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )
    return {"Authorization": f"Bearer {key['api_key']}"}


def test_operator_closes_an_account_and_its_sends_are_refused(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    ops = _operator(runtime, other_tenant)
    smpp = CredentialService(runtime.db, runtime.clock)
    login = smpp.create(tenant.account_id)
    assert tenant.post("/v1/messages", json=SEND).status_code == 202
    closing = clock.now()

    response = client.post(f"/v1/admin/accounts/{tenant.account_id}/close", headers=ops)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "closed"
    assert body["closed_at"] == iso(closing)
    assert body["revoked_api_keys"] == 1 and body["revoked_smpp_credentials"] == 1
    with runtime.db.read() as conn:
        row = account_store.get_account(conn, tenant.account_id)
    assert row is not None and row.closed_at is not None
    assert to_utc(row.closed_at) == closing
    refused = tenant.post("/v1/messages", json=SEND)
    assert_problem(refused, 401, "account_closed")
    assert "closed" in refused.json()["detail"]
    assert smpp.authenticate(login["system_id"], login["password"]) is None
    assert smpp.list(tenant.account_id)[0]["revoked_at"] is not None
    # the operator's own account is untouched
    assert other_tenant.post("/v1/messages", json=SEND).status_code == 202

    again = client.post(f"/v1/admin/accounts/{tenant.account_id}/close", headers=ops)
    assert_problem(again, 409, "account_already_closed")
    assert tenant.account_id in again.json()["detail"]


def test_closing_needs_the_operator_and_an_existing_account(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    own_admin = tenant.post(f"/v1/admin/accounts/{tenant.account_id}/close")
    assert_problem(own_admin, 403, "insufficient_scope")
    ops = _operator(runtime, tenant)
    missing = client.post("/v1/admin/accounts/acc_nothing/close", headers=ops)
    assert_problem(missing, 404, "account_not_found")
    assert tenant.get("/v1/account").json()["status"] == "active"


def test_cli_closes_an_account_once(database_url: str, tmp_path: Path) -> None:
    env = {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    runner = CliRunner()
    created = runner.invoke(app, ["account", "create", "--name", "Acme", "--json"], env=env)
    account_id = json.loads(created.stdout)["account_id"]

    closed = runner.invoke(app, ["account", "close", account_id, "--json"], env=env)

    assert closed.exit_code == 0, closed.stderr
    result = json.loads(closed.stdout)
    assert result["status"] == "closed" and result["revoked_api_keys"] == 1
    assert datetime.fromisoformat(result["closed_at"].replace("Z", "+00:00")).tzinfo
    again = runner.invoke(app, ["account", "close", account_id], env=env)
    assert again.exit_code == 2
    assert "already closed" in again.stderr and account_id in again.stderr
    missing = runner.invoke(app, ["account", "close", "acc_nothing"], env=env)
    assert missing.exit_code == 2 and "no account" in missing.stderr
