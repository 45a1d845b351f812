"""Kannel (bearerbox + smsbox) run by a test: a generated config with ephemeral ports, an
`smsc = smpp` group bound to our server, and a tiny HTTP receiver for its DLR callbacks."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SBIN = ("/usr/sbin", "/usr/local/sbin")


def kannel_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Callbacks:
    """DLR callbacks Kannel made, as their query parameters."""

    received: list[dict[str, str]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)


@contextmanager
def callback_receiver() -> Iterator[tuple[str, Callbacks]]:
    callbacks = Callbacks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with callbacks.arrived:
                callbacks.received.append(query)
                callbacks.arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dlr", callbacks
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Kannel:
    sendsms_url: str
    username: str
    password: str
    folder: Path

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )


CONFIG = """\
group = core
admin-port = {admin_port}
admin-interface = "127.0.0.1"
admin-password = "admin-secret"
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = "127.0.0.1"
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{folder}/bearerbox.log"
log-level = 1

group = smsbox
bearerbox-host = "127.0.0.1"
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = "127.0.0.1"
log-file = "{folder}/smsbox.log"
log-level = 1

group = sendsms-user
username = "tester"
password = "tester-secret"
user-allow-ip = "127.0.0.1"
max-messages = 10
concatenation = true

group = smsc
smsc = smpp
smsc-id = "tidings"
host = "127.0.0.1"
port = {smpp_port}
transceiver-mode = true
system-type = "VMA"
smsc-username = "{system_id}"
smsc-password = "{password}"
enquire-link-interval = 5
reconnect-delay = 1
max-pending-submits = 100
"""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)


@contextmanager
def run_kannel(folder: Path, smpp_port: int, system_id: str, password: str) -> Iterator[Kannel]:
    bearerbox, smsbox = kannel_binary("bearerbox"), kannel_binary("smsbox")
    assert bearerbox and smsbox
    sendsms_port, smsbox_port = free_port(), free_port()
    config = folder / "kannel.conf"
    config.write_text(
        CONFIG.format(
            admin_port=free_port(),
            smsbox_port=smsbox_port,
            sendsms_port=sendsms_port,
            smpp_port=smpp_port,
            system_id=system_id,
            password=password,
            folder=folder,
        )
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for binary, name in ((bearerbox, "bearerbox"), (smsbox, "smsbox")):
            with open(folder / f"{name}.console.log", "wb") as console:
                processes.append(
                    subprocess.Popen(
                        [binary, "-v", "2", str(config)],
                        stdout=console,
                        stderr=subprocess.STDOUT,
                        cwd=folder,
                    )
                )
            if name == "bearerbox":
                _wait_for_port(smsbox_port, processes[0])
        yield Kannel(
            f"http://127.0.0.1:{sendsms_port}/cgi-bin/sendsms",
            "tester",
            "tester-secret",
            folder,
        )
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:  # bearerbox lingers for an enquire-link interval
                process.kill()
                process.wait()
