"""The API's access log: each authenticated request, listed by the account's admin and the
operator, its IP encrypted at rest."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import assert_problem
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime
from tidings.store.tables import api_access_log


def _operator(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )
    return {"Authorization": f"Bearer {key['api_key']}"}


def test_each_authenticated_request_is_logged_with_its_route_template(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    assert tenant.get("/v1/messages/msg_0000000000000000000000000").status_code == 404
    clock.advance(timedelta(seconds=1))
    assert tenant.get("/v1/numbers").status_code == 200
    assert other_tenant.get("/v1/numbers").status_code == 200
    assert client.get("/v1/numbers").status_code == 401  # no key: nobody to log
    bad = client.get("/v1/numbers", headers={"Authorization": "Bearer tdk_x_y"})
    assert bad.status_code == 401

    page = tenant.get("/v1/account/access-log").json()

    entries = [(e["method"], e["route"], e["status"]) for e in page["data"]]
    assert entries == [
        ("GET", "/v1/numbers", 200),
        ("GET", "/v1/messages/{message_id}", 404),
    ]
    first = page["data"][0]
    assert first["account_id"] == tenant.account_id
    assert first["key_id"].startswith("key_") and first["ip"] == "testclient"
    assert first["at"].endswith("Z") and page["next_cursor"] is None
    with runtime.db.read() as conn:
        stored = [bytes(r.ip_enc) for r in conn.execute(select(api_access_log))]
    assert stored and not any(b"testclient" in blob for blob in stored)


def test_pages_follow_the_cursor_and_the_operator_sees_every_account(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    for _ in range(3):
        tenant.get("/v1/numbers")
    other_tenant.get("/v1/numbers")
    first = tenant.get("/v1/account/access-log", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = tenant.get(
        "/v1/account/access-log", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    seen = first["data"] + second["data"]
    ids = [e["id"] for e in seen]
    assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)
    assert [e["route"] for e in seen].count("/v1/numbers") == 3  # none skipped
    bad = tenant.get("/v1/account/access-log", params={"cursor": "nonsense"})
    assert_problem(bad, 400, "invalid_cursor", "cursor")
    assert_problem(tenant.get("/v1/account/access-log", params={"limit": 0}), 400, "invalid_limit")

    ops = _operator(runtime, other_tenant)
    everyone = client.get("/v1/admin/access-log", headers=ops, params={"limit": 500}).json()
    assert {e["account_id"] for e in everyone["data"]} == {
        tenant.account_id,
        other_tenant.account_id,
    }
    only = client.get(
        "/v1/admin/access-log", headers=ops, params={"account_id": other_tenant.account_id}
    ).json()
    assert {e["account_id"] for e in only["data"]} == {other_tenant.account_id}
    assert_problem(tenant.get("/v1/admin/access-log"), 403, "insufficient_scope")
