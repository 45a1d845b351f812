"""The routes around the API: health, metrics, the OpenAPI document, request ids."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient

from tests.api.helpers import VALID, api_routes
from tests.support import Tenant
from tidings.api.problems import problem


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


def test_openapi_describes_errors_as_problems_and_every_reference_resolves(
    client: TestClient,
) -> None:
    response = client.get("/openapi.json")
    document = response.json()
    schemas = document["components"]["schemas"]
    # the batch body once referred to BatchShared, which was not among the components
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', response.text))
    assert referenced <= set(schemas), referenced - set(schemas)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # not FastAPI's HTTPValidationError
            if path.startswith("/v1"):
                assert responses["4XX"]["content"] == problem, (method, path)
    assert "HTTPValidationError" not in schemas
    assert "200" in document["paths"]["/v1/messages"]["post"]["responses"]  # idempotent replay
    assert set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {
        "text/plain"
    }


def test_a_problem_quoting_text_that_is_not_unicode_is_still_rendered() -> None:
    response = problem(400, "invalid_scope", "Invalid request", "unknown scope '\ud800'")
    assert orjson.loads(response.body)["detail"] == "unknown scope '\\ud800'"


def test_every_response_carries_a_request_id(tenant: Tenant) -> None:
    given = tenant.client.get("/v1/messages", headers={**tenant.headers, "X-Request-Id": "req-42"})
    assert given.headers["x-request-id"] == "req-42"
    problem = tenant.client.get("/v1/messages")
    assert problem.status_code == 401
    assert len(problem.headers["x-request-id"]) >= 8
