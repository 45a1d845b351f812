"""/v1/account/statements: an account reads its own monthly statements with a reader key."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem
from tests.privacy.retention_support import at
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime

PATH = "/v1/account/statements"


def test_an_account_reads_its_statements(
    client: TestClient, runtime: Runtime, tenant: Tenant, clock: ManualClock
) -> None:
    clock.set(at(2026, 4, 2))
    runtime.statements.issue("2026-03")
    listed = tenant.get(PATH)
    assert listed.status_code == 200, listed.text
    (statement,) = listed.json()["data"]
    assert statement["account_id"] == tenant.account_id and statement["period"] == "2026-03"
    assert statement["total"] == "0.00000" and statement["currency"] == "EUR"
    assert tenant.get(f"{PATH}/{statement['id']}").json() == statement
    assert tenant.get(PATH, params={"period": "2026-02"}).json()["data"] == []
    reader = runtime.accounts.create_api_key(tenant.account_id, "books", ["messages:read"])
    headers = {"Authorization": f"Bearer {reader['api_key']}"}
    assert client.get(f"{PATH}/{statement['id']}", headers=headers).status_code == 200
    sender = runtime.accounts.create_api_key(tenant.account_id, "sender", ["messages:send"])
    refused = client.get(PATH, headers={"Authorization": f"Bearer {sender['api_key']}"})
    assert_problem(refused, 403, "insufficient_scope")


def test_bad_queries_are_named(tenant: Tenant) -> None:
    assert_problem(tenant.get(PATH, params={"period": "2026-13"}), 400, "invalid_period", "period")
    assert_problem(tenant.get(PATH, params={"limit": 501}), 400, "invalid_limit", "limit")
    assert_problem(tenant.get(PATH, params={"cursor": "x"}), 400, "invalid_cursor", "cursor")
    missing = tenant.get(f"{PATH}/stm_00000000000000000000000000")
    assert_problem(missing, 404, "statement_not_found")
