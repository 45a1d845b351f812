"""Dispatch honours each connector's rate (messages/s) and window (submits in flight)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.support import Tenant, wait_until
from tidings.api.app import create_app
from tidings.channels.base import OutboundMessage, SendResult
from tidings.core.clock import ManualClock
from tidings.runtime import build_runtime


def _instrument(connector: Any, submit_seconds: float) -> dict[str, Any]:
    seen: dict[str, Any] = {"times": [], "in_flight": 0, "peak": 0}
    original = connector.send

    async def send(message: OutboundMessage) -> SendResult:
        seen["times"].append(time.monotonic())
        seen["in_flight"] += 1
        seen["peak"] = max(seen["peak"], seen["in_flight"])
        try:
            await asyncio.sleep(submit_seconds)
            result: SendResult = await original(message)
            return result
        finally:
            seen["in_flight"] -= 1

    connector.send = send
    return seen


def _run(
    database_url: str,
    tmp_path: Path,
    clock: ManualClock,
    *,
    tps: float,
    window: int,
    submit_seconds: float,
    count: int,
) -> dict[str, Any]:
    from tidings.core.config import ConnectorConfig

    settings = make_settings(
        database_url,
        tmp_path / "data",
        connectors=(
            ConnectorConfig(
                "sim",
                "simulator",
                tps=tps,
                window=window,
                options={"latency_ms": 1, "journal": False},
            ),
        ),
    )
    runtime = build_runtime(settings, clock)
    seen = _instrument(runtime.connectors["sim"], submit_seconds)
    try:
        with TestClient(create_app(runtime)) as client:
            tenant = Tenant(client, runtime, "Pace")
            body = {"to": [f"+3161{i:07d}" for i in range(count)], "from": "Pace", "body": "x"}
            assert tenant.post("/v1/messages/batch", body).json()["accepted"] == count

            def all_sent() -> bool:
                listed = tenant.get(
                    "/v1/messages", params={"status": "delivered", "limit": 500}
                ).json()["data"]
                return len(listed) == count

            wait_until(all_sent, timeout=30, message="all delivered")
    finally:
        runtime.close()
    return seen


def test_rate_limit_spaces_submits(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    seen = _run(database_url, tmp_path, clock, tps=40, window=100, submit_seconds=0, count=60)
    span = seen["times"][-1] - seen["times"][0]
    # 60 submits at 40/s: the first few ride the burst allowance, the rest are paced.
    assert span >= 1.2, span
    assert len(seen["times"]) == 60


def test_window_caps_submits_in_flight(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    seen = _run(database_url, tmp_path, clock, tps=10_000, window=4, submit_seconds=0.02, count=40)
    assert seen["peak"] == 4
    assert len(seen["times"]) == 40
