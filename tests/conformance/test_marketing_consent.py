"""BG-01, BG-02, BSMS-15: direct marketing only on recorded consent, withdrawal at any time
(past events kept, processing after it refused), and opting out of promotional messages.

Both sides: an account's marketing to its recipients (Tidings as processor) and the
operator's own marketing to account users (Tidings' operator as controller).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import assert_problem, later, message, send
from tests.consent.helpers import HANDSET, MARKETING, consents, grant, own_number, text_in
from tests.support import Tenant
from tidings.cli.main import app as cli
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime

PASSWORD = "correct horse battery staple"


def _user(runtime: Runtime, tenant: Tenant, email: str) -> tuple[str, str]:
    runtime.accounts.create_user(tenant.account_id, email, PASSWORD)
    return (email, PASSWORD)


def _audience(client: TestClient, operator_key: str) -> list[str]:
    response = client.get(
        "/v1/admin/marketing/audience", headers={"Authorization": f"Bearer {operator_key}"}
    )
    assert response.status_code == 200, response.text
    return [u["email"] for u in response.json()["data"]]


@pytest.fixture
def operator_key(runtime: Runtime, tenant: Tenant) -> str:
    key: str = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )["api_key"]
    return key


# --- BG-01: direct marketing on recorded consent only; the default is off ----------------


@pytest.mark.promise("BG-01")
def test_recipient_marketing_needs_a_recorded_basis(tenant: Tenant, runtime: Runtime) -> None:
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")
    assert consents(runtime, tenant)["history"] == []
    event = grant(runtime, tenant)
    assert (event["action"], event["basis"], event["evidence"]["notice"]) == (
        "granted",
        "consent",
        "signup form v3",
    )
    assert send(tenant, **MARKETING)["purpose"] == "marketing"


@pytest.mark.promise("BG-01")
def test_operator_marketing_is_off_unless_the_user_ticks_the_box(
    client: TestClient, runtime: Runtime, tenant: Tenant, operator_key: str
) -> None:
    plain = _user(runtime, tenant, "plain@example.com")
    assert client.get("/v1/account/users/me/marketing", auth=plain).json() == {
        "user_id": runtime.accounts.find_user(plain[0])["id"],  # type: ignore[index]
        "opted_in": False,
        "since": None,
        "history": [],
    }
    assert _audience(client, operator_key) == []
    ticked = {"opt_in": True, "notice": "[ ] Send me news and offers (unticked by default)"}
    state = client.put("/v1/account/users/me/marketing", json=ticked, auth=plain).json()
    assert state["opted_in"] is True
    (event,) = state["history"]
    assert event["evidence"]["notice"] == ticked["notice"]
    assert event["policy_version"] == "baseline@1" and event["source"] == "api"
    assert _audience(client, operator_key) == ["plain@example.com"]


@pytest.mark.promise("BG-01")
def test_cli_sign_up_records_the_opt_in_only_with_the_flag(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }

    def run(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, input=stdin)

    account = json.loads(run("account", "create", "--name", "Acme", "--json").stdout)
    for email, flags in (("off@example.com", []), ("on@example.com", ["--marketing-opt-in"])):
        created = run(
            "user",
            "create",
            "--account",
            account["account_id"],
            "--email",
            email,
            "--password-stdin",
            *flags,
            stdin=PASSWORD + "\n",
        )
        assert created.exit_code == 0, created.stdout + created.stderr
    off = json.loads(run("user", "marketing", "--email", "off@example.com", "--json").stdout)
    on = json.loads(run("user", "marketing", "--email", "on@example.com", "--json").stdout)
    assert (off["opted_in"], off["history"]) == (False, [])
    assert on["opted_in"] is True
    assert on["history"][0]["source"] == "console"
    assert "notice" in on["history"][0]["evidence"]
    withdrawn = run("user", "marketing", "--email", "on@example.com", "--withdraw")
    assert withdrawn.exit_code == 0 and "not opted in" in withdrawn.stdout
    missing = run("user", "marketing", "--email", "nobody@example.com")
    assert missing.exit_code == 2 and "no user" in missing.stderr


# --- BG-02: withdrawal at any time; earlier events kept; no processing after it ----------


@pytest.mark.promise("BG-02")
def test_user_withdraws_in_one_call_history_kept_and_no_more_marketing(
    client: TestClient, runtime: Runtime, tenant: Tenant, operator_key: str
) -> None:
    user = _user(runtime, tenant, "fan@example.com")
    path = "/v1/account/users/me/marketing"
    assert client.put(path, json={"opt_in": True}, auth=user).status_code == 200
    assert _audience(client, operator_key) == ["fan@example.com"]
    withdrawn = client.put(path, json={"opt_in": False}, auth=user).json()
    assert withdrawn["opted_in"] is False
    assert [e["action"] for e in withdrawn["history"]] == ["granted", "withdrawn"]
    assert _audience(client, operator_key) == []
    again = client.put(path, json={"opt_in": False}, auth=user).json()  # idempotent
    assert len(again["history"]) == 2


@pytest.mark.promise("BG-02")
def test_recipient_withdrawal_cancels_waiting_marketing_and_keeps_the_record(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    grant(runtime, tenant)
    sent_before = send(tenant, **MARKETING)
    waiting = send(tenant, **MARKETING, send_at=later(clock, days=1))
    receipt = send(tenant, send_at=later(clock, days=1))  # transactional: not touched
    withdrawal = grant(runtime, tenant, action="withdrawn")
    assert withdrawal["canceled_message_ids"] == [waiting["id"]]
    assert message(tenant, waiting["id"])["error_code"] == "no_consent"
    assert message(tenant, receipt["id"])["status"] == "scheduled"
    assert message(tenant, sent_before["id"])["status"] != "canceled"  # the past stands
    assert [e["action"] for e in consents(runtime, tenant)["history"]] == [
        "granted",
        "withdrawn",
    ]
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")


@pytest.mark.promise("BG-02")
def test_user_credentials_are_required_and_checked(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    _user(runtime, tenant, "me@example.com")
    path = "/v1/account/users/me/marketing"
    assert_problem(client.get(path, headers=tenant.headers), 401, "missing_credentials")
    wrong = ("me@example.com", "not the password at all")
    assert_problem(client.put(path, json={"opt_in": True}, auth=wrong), 401, "invalid_credentials")
    bad = client.put(path, json={"opt_in": "perhaps"}, auth=("me@example.com", PASSWORD))
    assert_problem(bad, 422, "validation_error", "opt_in")


# --- BSMS-15: a recipient or a user may opt out of promotional communications -------------


@pytest.mark.promise("BSMS-15")
def test_recipient_opts_out_by_keyword_and_by_link(
    tenant: Tenant, runtime: Runtime, client: TestClient
) -> None:
    own_number(tenant)
    grant(runtime, tenant)
    text_in(tenant, "STOP")
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    text_in(tenant, "START")
    assert tenant.post("/v1/messages", MARKETING).status_code == 202
    token = tenant.post("/v1/opt-out-links", {"to": HANDSET}).json()["token"]
    assert client.post(f"/o/{token}").status_code == 200
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    sources = [e["source"] for e in consents(runtime, tenant)["history"]]
    assert sources == ["api", "keyword", "keyword", "web_form"]


@pytest.mark.promise("BSMS-15")
def test_operator_endpoint_is_for_the_operator_only(client: TestClient, tenant: Tenant) -> None:
    assert_problem(tenant.get("/v1/admin/marketing/audience"), 403, "insufficient_scope")
