"""Kannel (the Debian package's bearerbox + smsbox) as a peer: a generated config with
ephemeral ports on 127.0.0.1, one `smsc = smpp` transceiver bound to the loopback SMSC, and
messages sent through smsbox's HTTP `sendsms` with `dlr-mask=3` and a `dlr-url`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from common import free_port

SBIN = ("/usr/sbin", "/usr/local/sbin")
USER, PASSWORD = "bench", "bench-secret"

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
log-level = 2

group = smsbox
bearerbox-host = "127.0.0.1"
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = "127.0.0.1"
log-file = "{folder}/smsbox.log"
log-level = 2

group = sendsms-user
username = "{user}"
password = "{password}"
user-allow-ip = "127.0.0.1"

group = smsc
smsc = smpp
smsc-id = "peer"
host = "127.0.0.1"
port = {smpp_port}
transceiver-mode = true
system-type = "VMA"
smsc-username = "kannel"
smsc-password = "{smsc_password}"
max-pending-submits = 1000
enquire-link-interval = 30
reconnect-delay = 1
"""


def kannel_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def missing() -> str | None:
    """Why Kannel cannot run here, or None."""
    for name in ("bearerbox", "smsbox"):
        if kannel_binary(name) is None:
            return f"`{name}` not found (Debian package `kannel`)"
    return None


def _wait_for_port(name: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f}s")


@dataclass
class KannelPeer:
    host: str
    port: int
    dlr_url: str
    processes: list[subprocess.Popen[bytes]]
    folder: Path

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def target(self, n: int) -> str:
        callback = quote(f"{self.dlr_url}?id={n}&type=%d", safe="")
        return (
            f"/cgi-bin/sendsms?username={USER}&password={PASSWORD}&from=Bench"
            f"&to=%2B3161{n % 10_000_000:07d}&text=Benchmark+message+{n}"
            f"&dlr-mask=3&dlr-url={callback}"
        )

    @staticmethod
    def accepted(status: int, body: bytes) -> bool:
        return status == 202 and body.startswith(b"0:")

    @staticmethod
    def final(query: dict[str, str]) -> str | None:
        """Kannel's DLR types: 1 delivered, 2 failed, 16 SMSC reject (all final)."""
        if query.get("type") in ("1", "2", "16"):
            return query.get("id")
        return None

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )


@contextlib.contextmanager
def run_kannel(smpp_port: int, smsc_password: str, dlr_url: str) -> Iterator[KannelPeer]:
    bearerbox, smsbox = kannel_binary("bearerbox"), kannel_binary("smsbox")
    assert bearerbox is not None and smsbox is not None
    folder = Path(tempfile.mkdtemp(prefix="tidings-peer-kannel-"))
    sendsms_port, smsbox_port = free_port(), free_port()
    config = folder / "kannel.conf"
    config.write_text(
        CONFIG.format(
            admin_port=free_port(),
            smsbox_port=smsbox_port,
            sendsms_port=sendsms_port,
            smpp_port=smpp_port,
            smsc_password=smsc_password,
            user=USER,
            password=PASSWORD,
            folder=folder,
        )
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for binary, name, port in ((bearerbox, "bearerbox", smsbox_port), (smsbox, "smsbox", 0)):
            with open(folder / f"{name}.console.log", "wb") as console:
                processes.append(
                    subprocess.Popen(
                        [binary, "-v", "2", str(config)],
                        stdout=console,
                        stderr=subprocess.STDOUT,
                        cwd=folder,
                        start_new_session=True,
                    )
                )
            try:
                _wait_for_port(name, port or sendsms_port, processes[-1], 30)
            except RuntimeError as error:
                log = (folder / f"{name}.console.log").read_text(errors="replace")
                last = [line for line in log.splitlines() if "ERROR" in line or "PANIC" in line]
                raise RuntimeError(f"{error}: {' / '.join(last[:2]) or log[-300:]}") from None
        yield KannelPeer("127.0.0.1", sendsms_port, dlr_url, processes, folder)
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
        shutil.rmtree(folder, ignore_errors=True)
