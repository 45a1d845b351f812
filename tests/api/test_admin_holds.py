"""/v1/admin/holds: the operator places, lists and releases legal holds."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem
from tests.support import Tenant
from tidings.runtime import Runtime


def operator_headers(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )
    return {"Authorization": f"Bearer {key['api_key']}"}


def test_operator_places_lists_and_releases_a_hold(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    ops = operator_headers(runtime, tenant)
    body = {
        "account_id": tenant.account_id,
        "subject": "+31612345678",
        "from": "2025-01-01",
        "to": "2025-03-31",
        "reason": "litigation",
        "authority": "District court",
    }
    created = client.post("/v1/admin/holds", json=body, headers=ops)
    assert created.status_code == 201, created.text
    hold = created.json()
    assert hold["status"] == "active" and hold["to"] == "2025-03-31"
    assert "+31612345678" not in created.text
    overlap = client.post("/v1/admin/holds", json={**body, "from": "2025-03-31"}, headers=ops)
    problem = assert_problem(overlap, 409, "hold_overlaps")
    assert hold["id"] in problem["detail"]
    listed = client.get("/v1/admin/holds", headers=ops).json()["data"]
    assert [h["id"] for h in listed] == [hold["id"]]
    assert client.get(f"/v1/admin/holds/{hold['id']}", headers=ops).json() == hold
    released = client.post(f"/v1/admin/holds/{hold['id']}/release", headers=ops)
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert_problem(
        client.post(f"/v1/admin/holds/{hold['id']}/release", headers=ops), 409, "hold_released"
    )
    assert_problem(
        client.post("/v1/admin/holds/hld_00000000000000000000000000/release", headers=ops),
        404,
        "hold_not_found",
    )


def test_holds_need_the_operator_scope_and_valid_input(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    body = {"account_id": tenant.account_id, "reason": "r", "authority": "a"}
    assert_problem(tenant.post("/v1/admin/holds", body), 403, "insufficient_scope")
    assert tenant.get("/v1/admin/holds").status_code == 403
    ops = operator_headers(runtime, tenant)
    assert_problem(
        client.post("/v1/admin/holds", json={**body, "subject": "12"}, headers=ops),
        400,
        "invalid_subject",
        "subject",
    )
    assert_problem(
        client.post(
            "/v1/admin/holds", json={**body, "from": "2025-02-01", "to": "2025-01-01"}, headers=ops
        ),
        400,
        "invalid_hold_dates",
        "to",
    )
    missing = client.post(
        "/v1/admin/holds",
        json={**body, "account_id": "acc_00000000000000000000000000"},
        headers=ops,
    )
    assert_problem(missing, 404, "account_not_found")
    assert client.get("/v1/admin/holds", headers=ops).json()["data"] == []


def test_operator_reads_the_retention_log(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    from datetime import UTC, datetime

    report = runtime.retention.sweep(datetime(2030, 1, 1, tzinfo=UTC))
    assert tenant.get("/v1/admin/retention/log").status_code == 403
    ops = operator_headers(runtime, tenant)
    response = client.get("/v1/admin/retention/log", headers=ops)
    assert response.status_code == 200
    runs = response.json()["data"]
    assert [r["run_id"] for r in runs] == [report.run_id]
    assert runs[0]["policy"] == {"name": "baseline", "version": "1"}
    too_few = client.get("/v1/admin/retention/log?limit=0", headers=ops)
    assert_problem(too_few, 422, "validation_error", "limit")
