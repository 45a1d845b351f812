"""`tidings serve --smpp-port`: the command a user runs, binds from an ESME, and a clear
error when the port is taken."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.cli.test_readme_demo import TIDINGS, free_port
from tests.smpp_server.conftest import Esme, Login
from tidings.channels.smpp.constants import CommandStatus
from tidings.channels.smpp.pdu import SubmitSm, SubmitSmResp


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")},
        "TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'tidings.db'}",
        "TIDINGS_DATA_DIR": str(tmp_path),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def _cli(env: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run([TIDINGS, *args], env=env, capture_output=True, text=True, check=True)
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_serve_accepts_binds_and_submits_on_the_smpp_port(tmp_path: Path) -> None:
    env = _env(tmp_path)
    account = _cli(env, "account", "create", "--name", "Acme", "--json")["account_id"]
    login = _cli(env, "smpp", "credentials", "create", "--account", account, "--json")
    port, smpp_port = free_port(), free_port()
    server = subprocess.Popen(
        [TIDINGS, "serve", "--port", str(port), "--smpp-port", str(smpp_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert f"SMPP on 127.0.0.1:{smpp_port}" in banner
        deadline = time.monotonic() + 30
        while True:
            try:
                esme = Esme(smpp_port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the SMPP port never opened"
                time.sleep(0.1)
        try:
            who = Login(account, login["id"], login["system_id"], login["password"])
            assert esme.bind(who).command_status == CommandStatus.ESME_ROK
            resp = esme.request(
                SubmitSm(
                    sequence_number=2,
                    source_addr="Acme",
                    source_addr_ton=5,
                    destination_addr="31612345678",
                    short_message=b"through tidings serve",
                )
            )
            assert isinstance(resp, SubmitSmResp)
            assert resp.command_status == CommandStatus.ESME_ROK
            assert resp.message_id.startswith("msg_")
        finally:
            esme.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_says_so_when_the_smpp_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        smpp_port = taken.getsockname()[1]
        done = subprocess.run(
            [TIDINGS, "serve", "--port", str(free_port()), "--smpp-port", str(smpp_port)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen for SMPP on 127.0.0.1:{smpp_port}" in done.stderr
    assert "Traceback" not in done.stderr
