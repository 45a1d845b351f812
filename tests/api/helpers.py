"""Shared helpers for the HTTP API tests: problem checks, polling, custom runtimes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.support import Tenant, wait_until
from tidings.api.app import create_app
from tidings.core.clock import ManualClock, iso
from tidings.runtime import Runtime, build_runtime

TO = "+31612345678"
VALID: dict[str, Any] = {"to": TO, "from": "Acme", "body": "Hello"}


def assert_problem(
    response: Any, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem with this status and code; with `field`, one that names it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["code"] == code, problem
    assert problem["type"].endswith(f"/{code}")
    assert problem["title"] and problem["detail"]
    if field is not None:
        named = {problem.get("field")} | {e["field"] for e in problem.get("errors", [])}
        assert field in named, problem
        detail = problem["detail"]
        assert f"'{field}'" in detail or detail.startswith(f"{field} "), problem
    return problem


Case = tuple[str, Any, int, str, str | None]


def expect_problems(call: Callable[[Any], Any], cases: list[Case]) -> None:
    """Run every case (id, argument, status, code, field); report all that fail at once."""
    failures: list[str] = []
    for case_id, argument, status, code, field in cases:
        try:
            assert_problem(call(argument), status, code, field)
        except AssertionError as exc:
            failures.append(f"{case_id}: {exc}")
    assert not failures, "\n".join(failures)


def message_ids(tenant: Tenant, **params: Any) -> list[str]:
    response = tenant.get("/v1/messages", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["data"]]


def message(tenant: Tenant, message_id: str) -> dict[str, Any]:
    response = tenant.get(f"/v1/messages/{message_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def status_of(tenant: Tenant, message_id: str) -> str:
    return str(message(tenant, message_id)["status"])


def wait_for_status(tenant: Tenant, message_id: str, status: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(message(tenant, message_id))
        return found["status"] == status

    try:
        wait_until(reached, message=f"{message_id} to be {status}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it is {found.get('status')}: {found}") from None
    return found


def send(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = tenant.post("/v1/messages", {**VALID, **fields})
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def statuses(resource: dict[str, Any]) -> list[str]:
    return [h["status"] for h in resource["status_history"]]


def later(clock: ManualClock, **delta: float) -> str:
    """An RFC 3339 time this far after the ManualClock's now."""
    value = iso(clock.now() + timedelta(**delta))
    assert value is not None
    return value


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def api_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, HEAD aside, including included routers."""
    try:  # FastAPI >= 0.16x keeps included routers as branches of app.routes
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    found: list[tuple[str, str]] = []
    for route in routes:
        path = getattr(route, "path", None)
        for method in sorted((getattr(route, "methods", None) or set()) - {"HEAD"}):
            if path:
                found.append((method, path))
    return found


@contextmanager
def serve(
    database_url: str, data_dir: Path, clock: ManualClock, **overrides: Any
) -> Iterator[tuple[TestClient, Runtime]]:
    """The API and its workers on a runtime built from `make_settings(..., **overrides)`."""
    runtime = build_runtime(make_settings(database_url, data_dir, **overrides), clock)
    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            yield client, runtime
    finally:
        runtime.close()
