"""A node split in two processes: `serve --role api` accepts, `serve --role worker` delivers."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.test_readme_demo import TIDINGS, free_port


def test_api_and_worker_processes_share_the_work(database_url: str, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")},
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    created = subprocess.run(
        [TIDINGS, "account", "create", "--name", "Split", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(created.stdout)["api_key"]
    port = free_port()
    api = subprocess.Popen(
        [TIDINGS, "serve", "--role", "api", "--port", str(port), "--smpp-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        sent = httpx.post(
            f"{url}/v1/messages",
            headers=headers,
            json={"to": "+31612345678", "from": "Split", "body": "hi"},
        ).json()
        time.sleep(0.5)
        # Without a worker nothing is dispatched: the API role only accepts.
        assert (
            httpx.get(f"{url}/v1/messages/{sent['id']}", headers=headers).json()["status"]
            == "queued"
        )
        assert httpx.get(f"{url}/healthz").json()["connectors"] == []  # nobody runs them
        worker = subprocess.Popen(
            [TIDINGS, "serve", "--role", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        status = ""
        for _ in range(300):
            status = httpx.get(f"{url}/v1/messages/{sent['id']}", headers=headers).json()["status"]
            if status == "delivered":
                break
            time.sleep(0.05)
        assert status == "delivered"
        # The API process shows the connectors as the worker reports them.
        health = httpx.get(f"{url}/healthz").json()
        assert [c["name"] for c in health["connectors"]] == ["simulator"]
        assert health["connectors"][0]["node"].split(":")[1] == str(worker.pid)
        inbound = httpx.post(
            f"{url}/v1/simulator/inbound",
            headers=headers,
            json={"from": "+31612345678", "to": "+14155550100", "body": "x"},
        )
        assert inbound.status_code in (404, 409)  # no simulator in an API-only process
        worker.terminate()
        assert worker.wait(timeout=20) == 0
        # A worker that stops takes its report back.
        assert httpx.get(f"{url}/healthz").json()["connectors"] == []
    finally:
        for process in (api, worker):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
