"""Simulator failure rules seen through the API: rejections, non-delivery, fallback, retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.api.helpers import TO, VALID, send, serve, statuses, wait_for_status
from tests.api.receiver import Receiver
from tests.support import Tenant, wait_until
from tidings.channels.simulator.connector import SimulatorConnector
from tidings.core.clock import ManualClock
from tidings.core.config import ConnectorConfig, RouteConfig
from tidings.runtime import Runtime

FAST: dict[str, Any] = {"latency_ms": 5, "journal": False}


def _sim(name: str, **rules: Any) -> ConnectorConfig:
    return ConnectorConfig(name, "simulator", tps=5000, window=500, options={**FAST, **rules})


def _submitted(runtime: Runtime, name: str) -> int:
    connector = runtime.connectors[name]
    assert isinstance(connector, SimulatorConnector)
    return connector.submitted


def test_always_fail_number_ends_failed_with_the_error(
    database_url: str, tmp_path: Path, clock: ManualClock, receiver: Receiver
) -> None:
    with serve(database_url, tmp_path, clock, simulator={**FAST, "always_fail": [TO]}) as (
        client,
        runtime,
    ):
        tenant = Tenant(client, runtime, "Acme")
        doomed = send(tenant, status_callback=receiver.url)
        fine = send(tenant, to="+31687654321")
        failed = wait_for_status(tenant, doomed["id"], "failed")
        assert failed["error_code"] == "sim_rejected"
        assert "always_fail" in failed["error_message"]
        assert failed["sent_at"] is None
        assert statuses(failed) == ["queued", "sending", "failed"]
        wait_for_status(tenant, fine["id"], "delivered")
        (event,) = wait_until(lambda: receiver.events("message.status"))
        assert event.payload["message_id"] == doomed["id"]
        assert (event.payload["status"], event.payload["error_code"]) == (
            "failed",
            "sim_rejected",
        )


def test_delivery_ratio_zero_ends_undelivered(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with serve(database_url, tmp_path, clock, simulator={**FAST, "delivery_ratio": 0}) as (
        client,
        runtime,
    ):
        tenant = Tenant(client, runtime, "Acme")
        created = send(tenant)
        undelivered = wait_for_status(tenant, created["id"], "undelivered")
        assert undelivered["error_code"] == "sim_undelivered"
        assert undelivered["sent_at"] is not None
        assert undelivered["delivered_at"] is None
        assert statuses(undelivered) == ["queued", "sending", "sent", "undelivered"]


def test_temporary_failure_falls_back_to_the_next_route(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    connectors = (_sim("flaky", temporary_failure_ratio=1), _sim("backup"))
    routes = (RouteConfig("+31", "flaky", 10), RouteConfig("+31", "backup", 0))
    with serve(database_url, tmp_path, clock, connectors=connectors, routes=routes) as (
        client,
        runtime,
    ):
        tenant = Tenant(client, runtime, "Acme")
        created = send(tenant)
        delivered = wait_for_status(tenant, created["id"], "delivered")
        assert delivered["error_code"] is None
        assert statuses(delivered) == ["queued", "sending", "sent", "delivered"]
        sent = next(h for h in delivered["status_history"] if h["status"] == "sent")
        assert "flaky" in sent["detail"] and "fallback" in sent["detail"]
        assert (_submitted(runtime, "flaky"), _submitted(runtime, "backup")) == (0, 1)


def test_temporary_failure_without_fallback_retries_then_fails(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    simulator = {**FAST, "temporary_failure_ratio": 1}
    with serve(database_url, tmp_path, clock, simulator=simulator, max_dispatch_attempts=3) as (
        client,
        runtime,
    ):
        tenant = Tenant(client, runtime, "Acme")
        created = tenant.post("/v1/messages", VALID).json()

        def failed() -> bool:
            clock.advance(timedelta(seconds=1))  # past each retry's backoff
            status = tenant.get(f"/v1/messages/{created['id']}").json()["status"]
            return bool(status == "failed")

        wait_until(failed, message="the message to fail after its retries")
        final = tenant.get(f"/v1/messages/{created['id']}").json()
        assert final["error_code"] == "sim_throttled"
        assert statuses(final) == [
            "queued",
            "sending",
            "queued",
            "sending",
            "queued",
            "sending",
            "failed",
        ]
        retries = [h for h in final["status_history"][1:] if h["status"] == "queued"]
        assert all("retry" in h["detail"] for h in retries)
        assert _submitted(runtime, "sim") == 0
