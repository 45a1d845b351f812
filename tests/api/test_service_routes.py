"""The routes around the API: health, metrics, the OpenAPI document, request ids."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import VALID, api_routes
from tests.support import Tenant


def test_healthz_reports_the_database_and_connectors(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["database"]) == ("ok", "ok")
    assert [c["name"] for c in health["connectors"]] == ["sim"]


def test_metrics_are_prometheus_text(client: TestClient, tenant: Tenant) -> None:
    assert tenant.post("/v1/messages", VALID).status_code == 202
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text


def test_openapi_documents_every_v1_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    documented = {
        (method.upper(), path)
        for path, operations in response.json()["paths"].items()
        for method in operations
    }
    routes = {(m, p) for m, p in api_routes(client.app) if p.startswith("/v1")}
    assert routes <= documented, routes - documented
    assert client.get("/docs").status_code == 200


def test_every_response_carries_a_request_id(tenant: Tenant) -> None:
    given = tenant.client.get("/v1/messages", headers={**tenant.headers, "X-Request-Id": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    problem = tenant.client.get("/v1/messages")
    assert problem.status_code == 401
    assert len(problem.headers["x-request-id"]) >= 8
