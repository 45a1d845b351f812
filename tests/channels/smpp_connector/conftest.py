from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.conftest import make_settings
from tests.support import Tenant
from tidings.api.app import create_app
from tidings.core.clock import ManualClock
from tidings.core.config import ConnectorConfig, RouteConfig
from tidings.runtime import Runtime, build_runtime


@pytest.fixture
def smsc_factory() -> Iterator[Callable[..., SmscProcess]]:
    started: list[SmscProcess] = []

    def start(**behaviour: Any) -> SmscProcess:
        smsc = SmscProcess(**behaviour)
        started.append(smsc)
        return smsc

    yield start
    for smsc in started:
        smsc.close()


def smpp_connector(name: str, port: int, **options: Any) -> ConnectorConfig:
    tps = options.pop("tps", 500)
    window = options.pop("window", 10)
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": "tidings",
        "password": "secret",
        "reconnect_min_seconds": 0.05,
        "reconnect_max_seconds": 0.4,
        "response_timeout_seconds": 3.0,
        "throttle_pause_seconds": 0.05,
    }
    values.update(options)
    return ConnectorConfig(name, "smpp", tps=tps, window=window, options=values)


class SmppStack:
    """Tidings with SMPP connectors, its HTTP API running, and an account."""

    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        self.tenant = Tenant(client, runtime, "Acme")

    def send(self, to: str, body: str, sender: str = "Acme") -> str:
        response = self.tenant.post("/v1/messages", {"from": sender, "to": to, "body": body})
        assert response.status_code == 202, response.text
        message_id: str = response.json()["id"]
        return message_id

    def message(self, message_id: str) -> dict[str, Any]:
        response = self.tenant.get(f"/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def status_of(self, connector: str) -> dict[str, Any]:
        return self.runtime.connectors[connector].status()


@pytest.fixture
def stack_factory(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> Iterator[Callable[..., SmppStack]]:
    opened: list[tuple[Runtime, TestClient]] = []
    master_key = base64.b64encode(os.urandom(32)).decode()  # one key: a restart reads its data
    # Stacks on one database are nodes of one installation: they share the key vault too
    # (each its own vault: a message claimed by another stack's dispatcher could not be
    # decrypted there, and failed as `data_erased`).
    key_vault_url = f"sqlite:///{tmp_path / 'keys.db'}"

    def build(
        connectors: tuple[ConnectorConfig, ...], routes: tuple[RouteConfig, ...] | None = None
    ) -> SmppStack:
        settings = make_settings(
            database_url,
            tmp_path / f"data{len(opened)}",
            connectors=connectors,
            routes=routes or (RouteConfig("+", connectors[0].name, 0),),
            master_key_env=master_key,
            key_vault_url=key_vault_url,
        )
        runtime = build_runtime(settings, clock)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        client.__enter__()
        opened.append((runtime, client))
        return SmppStack(runtime, client)

    yield build
    for runtime, client in opened:
        client.__exit__(None, None, None)
        runtime.close()
