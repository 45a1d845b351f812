"""The README's first command, tried as a new user would: start, paste the curl, see delivered."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TIDINGS = str(Path(sys.executable).with_name("tidings"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_prints_a_curl_that_sends_a_message_that_is_delivered(tmp_path: Path) -> None:
    port, smpp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    process = subprocess.Popen(
        [TIDINGS, "demo", "--port", str(port), "--smpp-port", str(smpp_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(line.startswith("SMPP: bind to") for line in lines):
            assert time.monotonic() < deadline, "demo printed no curl command"
            line = process.stdout.readline()
            assert line, "demo exited early"
            lines.append(line)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert f"127.0.0.1:{smpp_port} with system_id tid" in "".join(lines)
        key = re.search(r"tdk_\S+", "".join(lines))
        assert key is not None
        send = next(
            line.strip() for line in lines if line.strip().startswith("curl") and "-d" in line
        )
        if shutil.which("curl"):
            output = subprocess.run(
                shlex.split(send), capture_output=True, text=True, check=True
            ).stdout
            message_id = re.search(r'"id":"(msg_\w+)"', output)
            assert message_id is not None, output
            mid = message_id.group(1)
        else:
            parts = shlex.split(send)
            body = parts[parts.index("-d") + 1]
            mid = httpx.post(
                f"{url}/v1/messages",
                content=body,
                headers={
                    "Authorization": f"Bearer {key.group(0)}",
                    "Content-Type": "application/json",
                },
            ).json()["id"]
        headers = {"Authorization": f"Bearer {key.group(0)}"}
        status = ""
        for _ in range(200):
            status = httpx.get(f"{url}/v1/messages/{mid}", headers=headers).json()["status"]
            if status == "delivered":
                break
            time.sleep(0.05)
        assert status == "delivered"
        assert (tmp_path / ".tidings" / "tidings.db").exists()
        assert (tmp_path / ".tidings" / "master.key").stat().st_mode & 0o777 == 0o600
    finally:
        process.terminate()
        process.wait(timeout=20)
