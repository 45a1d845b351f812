"""API keys: 401 for a missing, malformed, unknown or revoked key; 403 for a missing scope."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import (
    VALID,
    Case,
    api_routes,
    assert_problem,
    expect_problems,
    message_ids,
)
from tests.support import Tenant
from tidings.core.errors import Forbidden
from tidings.runtime import Runtime


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_key(tenant: Tenant, scopes: list[str] | None) -> dict[str, Any]:
    response = tenant.post("/v1/api-keys", {"name": "ci", "scopes": scopes})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_missing_or_malformed_or_unknown_key_is_401(client: TestClient, tenant: Tenant) -> None:
    wrong_secret = tenant.key[:-4] + ("aaaa" if not tenant.key.endswith("aaaa") else "bbbb")

    def send(headers: dict[str, str]) -> Any:
        return client.post("/v1/messages", json=VALID, headers=headers)

    cases: list[Case] = [
        ("no_header", {}, 401, "missing_api_key", None),
        ("basic_scheme", {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "missing_api_key", None),
        ("bearer_without_key", {"Authorization": "Bearer"}, 401, "missing_api_key", None),
        ("malformed", _auth("not-a-key"), 401, "invalid_api_key", None),
        ("unknown", _auth("tdk_000000000000_" + "x" * 43), 401, "invalid_api_key", None),
        ("wrong_secret", _auth(wrong_secret), 401, "invalid_api_key", None),
    ]
    expect_problems(send, cases)
    response = send({})
    assert response.headers["www-authenticate"] == "Bearer"
    assert message_ids(tenant) == []


def test_a_right_key_still_works_after_a_wrong_secret_for_its_prefix(
    client: TestClient, tenant: Tenant
) -> None:
    wrong_secret = tenant.key[:-4] + ("aaaa" if not tenant.key.endswith("aaaa") else "bbbb")
    assert client.get("/v1/messages", headers=_auth(tenant.key)).status_code == 200
    assert client.get("/v1/messages", headers=_auth(wrong_secret)).status_code == 401
    assert client.get("/v1/messages", headers=_auth(tenant.key)).status_code == 200


# A person's own choices take that person's email and password, not the account's API key.
USER_ROUTES = {
    ("GET", "/v1/account/users/me/marketing"),
    ("PUT", "/v1/account/users/me/marketing"),
}


def test_every_v1_route_requires_a_key(client: TestClient) -> None:
    failures: list[str] = []
    routes = [(m, p) for m, p in api_routes(client.app) if p.startswith("/v1")]
    assert len(routes) >= 17
    assert set(routes) >= USER_ROUTES
    for method, path in routes:
        concrete = re.sub(r"\{[^}]+\}", "msg_00000000000000000000000000", path)
        response = client.request(method, concrete, json={})
        code = "missing_credentials" if (method, path) in USER_ROUTES else "missing_api_key"
        if response.status_code != 401 or response.json().get("code") != code:
            failures.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


def test_revoked_key_is_refused_at_once(client: TestClient, tenant: Tenant) -> None:
    created = _new_key(tenant, ["messages:send", "messages:read"])
    assert client.get("/v1/messages", headers=_auth(created["api_key"])).status_code == 200
    assert tenant.delete(f"/v1/api-keys/{created['id']}").status_code == 204
    response = client.get("/v1/messages", headers=_auth(created["api_key"]))
    assert_problem(response, 401, "invalid_api_key")
    sent = client.post("/v1/messages", json=VALID, headers=_auth(created["api_key"]))
    assert_problem(sent, 401, "invalid_api_key")
    listed = {k["id"]: k for k in tenant.get("/v1/api-keys").json()["data"]}
    assert listed[created["id"]]["revoked_at"] is not None
    assert_problem(tenant.delete(f"/v1/api-keys/{created['id']}"), 404, "api_key_not_found")
    assert message_ids(tenant) == []


def test_api_key_secret_is_shown_once_and_never_listed(tenant: Tenant) -> None:
    created = _new_key(tenant, None)
    assert created["api_key"].startswith("tdk_")
    assert created["scopes"] == ["messages:send", "messages:read"]
    listed = {k["id"]: k for k in tenant.get("/v1/api-keys").json()["data"]}
    assert "api_key" not in listed[created["id"]]
    assert created["api_key"].startswith(listed[created["id"]]["prefix"] + "_")
    assert created["api_key"] not in tenant.get("/v1/api-keys").text


def test_read_only_key_cannot_send_and_nothing_is_written(
    client: TestClient, tenant: Tenant
) -> None:
    reader = _auth(_new_key(tenant, ["messages:read"])["api_key"])
    problem = assert_problem(
        client.post("/v1/messages", json=VALID, headers=reader), 403, "insufficient_scope"
    )
    assert "messages:send" in problem["detail"]
    batch = client.post("/v1/messages/batch", json={"messages": [VALID]}, headers=reader)
    assert_problem(batch, 403, "insufficient_scope")
    assert client.get("/v1/messages", headers=reader).json()["data"] == []
    assert message_ids(tenant) == []


def test_non_admin_keys_cannot_manage_keys_numbers_or_webhooks(
    client: TestClient, tenant: Tenant
) -> None:
    key = _auth(_new_key(tenant, ["messages:send", "messages:read"])["api_key"])
    cases: list[Case] = [
        ("list_keys", ("GET", "/v1/api-keys", None), 403, "insufficient_scope", None),
        ("create_key", ("POST", "/v1/api-keys", {"name": "x"}), 403, "insufficient_scope", None),
        (
            "read_webhook_secret",
            ("GET", "/v1/account/webhook", None),
            403,
            "insufficient_scope",
            None,
        ),
        (
            "add_number",
            ("POST", "/v1/numbers", {"number": "+14155550100"}),
            403,
            "insufficient_scope",
            None,
        ),
    ]
    expect_problems(lambda r: client.request(r[0], r[1], json=r[2], headers=key), cases)
    assert tenant.get("/v1/numbers").json()["data"] == []
    assert len(tenant.get("/v1/api-keys").json()["data"]) == 2


def test_send_only_key_cannot_read_messages(client: TestClient, tenant: Tenant) -> None:
    key = _auth(_new_key(tenant, ["messages:send"])["api_key"])
    assert client.post("/v1/messages", json=VALID, headers=key).status_code == 202
    assert_problem(client.get("/v1/messages", headers=key), 403, "insufficient_scope")


def test_unknown_scope_is_refused(tenant: Tenant) -> None:
    response = tenant.post("/v1/api-keys", {"name": "ci", "scopes": ["messages:delete"]})
    assert_problem(response, 400, "invalid_scope", "scopes")
    # a lone surrogate (JSON can escape one) is no text: refused, not a 500 quoting it
    lone = tenant.post(
        "/v1/api-keys",
        content=b'{"name": "ci", "scopes": ["\\ud800"]}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(lone, 422, "validation_error", "scopes")
    assert len(tenant.get("/v1/api-keys").json()["data"]) == 1


def test_operator_scope_is_granted_only_on_the_server(tenant: Tenant) -> None:
    response = tenant.post("/v1/api-keys", {"name": "ops", "scopes": ["operator"]})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_scope"
    assert "tidings apikey create" in response.json()["detail"]


def test_account_admin_does_not_imply_operator(runtime: Runtime, tenant: Tenant) -> None:
    admin_key = runtime.accounts.create_api_key(tenant.account_id, "ops", ["admin"])
    with pytest.raises(Forbidden):
        runtime.accounts.authenticate(admin_key["api_key"]).require("operator")
    operator_key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )
    runtime.accounts.authenticate(operator_key["api_key"]).require("operator")
