"""/v1/admin/connectors and /v1/admin/routes: runtime changes, persisted, validated, observed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until
from tidings.core.config import ConnectorConfig

pytestmark = requires_smpp34

Stack = Callable[..., SmppStack]
SIM = ConnectorConfig("sim", "simulator", tps=1000, window=10, options={"journal": False})


def _operator(stack: SmppStack) -> dict[str, str]:
    key = stack.runtime.accounts.create_api_key(
        stack.tenant.account_id, "ops", ["operator"], allow_operator=True
    )["api_key"]
    return {"Authorization": f"Bearer {key}"}


def _smpp_body(port: int, **options: Any) -> dict[str, Any]:
    return {
        "name": "op2",
        "type": "smpp",
        "tps": 200,
        "window": 5,
        "options": {
            "host": "127.0.0.1",
            "port": port,
            "system_id": "tidings",
            "password": "secret",
            "reconnect_min_seconds": 0.05,
            **options,
        },
    }


def test_a_connector_and_route_made_at_runtime_carry_traffic_and_survive_a_restart(
    smsc_factory: Callable[..., SmscProcess], stack_factory: Stack
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((SIM,))
    ops = _operator(stack)
    http = stack.client
    created = http.post("/v1/admin/connectors", json=_smpp_body(smsc.port), headers=ops)
    assert created.status_code == 201, created.text
    assert created.json()["options"]["password"] == "***"
    route = http.post(
        "/v1/admin/routes", json={"prefix": "+31", "connector": "op2", "priority": 5}, headers=ops
    )
    assert route.status_code == 201, route.text
    route_id = route.json()["id"]

    def state() -> dict[str, Any]:
        found = http.get("/v1/admin/connectors/op2", headers=ops).json()
        return dict(found["state"])

    wait_until(lambda: state()["bound"], message="op2 bound")
    message_id = stack.send("+31612345678", "through the new route")
    wait_until(lambda: stack.message(message_id)["status"] == "delivered", message="delivered")
    assert stack.message(message_id)["parts"][0]["connector"] == "op2"
    assert state()["binds"] == 1 and state()["errors"] == {}

    metrics = http.get("/metrics").text
    assert 'tidings_connector_bound{connector="op2"} 1.0' in metrics
    assert 'tidings_connector_binds_total{connector="op2"} 1.0' in metrics

    routes = http.get("/v1/admin/routes", headers=ops).json()["data"]
    assert [(r["prefix"], r["connector"], r["source"]) for r in routes] == [
        ("+", "sim", "config"),
        ("+31", "op2", "api"),
    ]
    stack.client.__exit__(None, None, None)
    stack.runtime.close()

    again = stack_factory((SIM,))
    ops = _operator(again)
    listed = again.client.get("/v1/admin/connectors", headers=ops).json()["data"]
    assert [(c["name"], c["source"]) for c in listed] == [("op2", "api"), ("sim", "config")]
    wait_until(lambda: again.status_of("op2")["bound"], message="op2 bound after the restart")
    assert [r["id"] for r in again.client.get("/v1/admin/routes", headers=ops).json()["data"]][
        1
    ] == route_id

    # A connector in use cannot go; its route first, then the connector (it unbinds).
    in_use = again.client.delete("/v1/admin/connectors/op2", headers=ops)
    assert in_use.status_code == 409 and in_use.json()["code"] == "connector_in_use"
    assert again.client.delete(f"/v1/admin/routes/{route_id}", headers=ops).status_code == 204
    assert again.client.delete("/v1/admin/connectors/op2", headers=ops).status_code == 204
    smsc.wait_for(lambda e: e["event"] == "unbound", count=2)
    assert "op2" not in again.runtime.connectors


def test_an_update_rebinds_with_the_new_settings(
    smsc_factory: Callable[..., SmscProcess], stack_factory: Stack
) -> None:
    smsc = smsc_factory(password="secret")
    stack = stack_factory((SIM,))
    ops = _operator(stack)
    http = stack.client
    body = _smpp_body(smsc.port, password="wrong")
    assert http.post("/v1/admin/connectors", json=body, headers=ops).status_code == 201
    smsc.wait_for(lambda e: e["event"] == "bind_refused")
    wait_until(lambda: stack.status_of("op2")["state"] == "refused", message="refused")
    body["options"]["password"] = "secret"
    del body["name"]
    updated = http.put("/v1/admin/connectors/op2", json=body, headers=ops)
    assert updated.status_code == 200, updated.text
    wait_until(lambda: stack.status_of("op2")["bound"], message="bound with the new password")


def test_bad_connectors_and_routes_are_refused_with_the_field_to_fix(
    stack_factory: Stack,
) -> None:
    stack = stack_factory((SIM,))
    ops = _operator(stack)
    http = stack.client

    def refused(method: str, path: str, body: Any, status: int, code: str) -> dict[str, Any]:
        response = http.request(method, path, json=body, headers=ops)
        assert response.status_code == status, response.text
        problem: dict[str, Any] = response.json()
        assert problem["code"] == code, problem
        return problem

    missing = {"name": "op3", "type": "smpp", "options": {"port": 2775}}
    problem = refused("POST", "/v1/admin/connectors", missing, 400, "invalid_connector")
    assert "'host' is required" in problem["detail"] and problem["field"] == "options"
    wrong = {"name": "op3", "type": "carrier-pigeon"}
    assert refused("POST", "/v1/admin/connectors", wrong, 400, "invalid_connector")["field"] == (
        "type"
    )
    bad_name = {"name": "Op 3", "type": "simulator"}
    refused("POST", "/v1/admin/connectors", bad_name, 400, "invalid_connector")
    refused(
        "POST",
        "/v1/admin/connectors",
        {"name": "sim", "type": "simulator"},
        409,
        "connector_exists",
    )
    refused("DELETE", "/v1/admin/connectors/sim", None, 409, "connector_from_config")
    refused("DELETE", "/v1/admin/connectors/nope", None, 404, "connector_not_found")
    route = {"prefix": "31", "connector": "sim"}
    assert refused("POST", "/v1/admin/routes", route, 400, "invalid_route")["field"] == "prefix"
    route = {"prefix": "+31", "connector": "nope"}
    assert refused("POST", "/v1/admin/routes", route, 400, "invalid_route")["field"] == "connector"
    refused("DELETE", "/v1/admin/routes/config-1", None, 409, "route_from_config")
    # An account key, even an admin one, is not the operator.
    forbidden = http.get("/v1/admin/connectors", headers=stack.tenant.headers)
    assert forbidden.status_code == 403
    assert http.get("/v1/admin/connectors", headers=ops).json()["data"][0]["name"] == "sim"


def test_a_worker_follows_changes_stored_by_an_api_only_process(
    smsc_factory: Callable[..., SmscProcess], stack_factory: Stack
) -> None:
    smsc = smsc_factory()
    worker = stack_factory((SIM,))
    api_only = stack_factory((SIM,))  # the same database: stands for `serve --role api`
    ops = _operator(api_only)
    created = api_only.client.post("/v1/admin/connectors", json=_smpp_body(smsc.port), headers=ops)
    assert created.status_code == 201, created.text
    route = {"prefix": "+31", "connector": "op2", "priority": 5}
    assert api_only.client.post("/v1/admin/routes", json=route, headers=ops).status_code == 201

    async def sync() -> None:
        await worker.runtime.fleet.sync()

    worker.client.portal.call(sync)  # what its follow() loop does every few seconds
    wait_until(lambda: worker.status_of("op2")["bound"], message="the worker bound op2")
    message_id = worker.send("+31612345678", "routed by the worker's copy of the table")
    wait_until(lambda: worker.message(message_id)["status"] == "delivered", message="delivered")
    assert worker.message(message_id)["parts"][0]["connector"] == "op2"
