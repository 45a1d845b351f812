"""Jasmin as a peer: installed from PyPI into its own virtual environment (in the user's
cache dir, never the project's environment), one `jasmind` with every listener on
127.0.0.1 and an ephemeral port, its state under a scratch ROOT_PATH, configured through
jCli with one unthrottled SMPP client connector to the loopback SMSC, and driven through
its HTTP API `/send` with `dlr=yes`, `dlr-level=2` and a `dlr-url`.

Needs Redis at 127.0.0.1:6379 and RabbitMQ at 127.0.0.1:5672 (guest/guest).
The wheel lacks `jasmin.cfg` and `resource/amqp0-9-1.xml`: the AMQP spec comes from the
sdist; the config is written here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from common import free_port

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tidings-bench"
SERVICES = ("redis-server", "beam.smp")  # Redis and RabbitMQ's Erlang VM
USER, PASSWORD = "bench", "benchpw"  # Jasmin caps passwords at 8 characters
JCLI_USER, JCLI_PASSWORD = "jcliadmin", "jclipwd"
SHARED_QUEUES = ("DLRLookup-main", "dlr_thrower", "deliver_sm_thrower")
REDIS_DB = 7  # away from database 0, which other programs on the machine may use


class SetupFailed(Exception):
    """Jasmin could not be installed or started; the message says why."""


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def missing() -> str | None:
    """Why Jasmin cannot run here (its services are absent), or None."""
    if not _reachable(6379):
        return "no Redis at 127.0.0.1:6379"
    if not _reachable(5672):
        return "no RabbitMQ at 127.0.0.1:5672"
    return None


def ensure_installed(version: str) -> Path:
    """The virtual environment holding jasmin==version and its AMQP spec; made on first use."""
    venv = CACHE / f"jasmin-{version}"
    spec = venv / "amqp0-9-1.xml"
    python = venv / "bin" / "python"
    if spec.exists() and python.exists():
        return venv

    def run(*command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "WARNING" not in line]
            reason = " ".join(errors[-1:])[-300:]
            raise SetupFailed(f"`{' '.join(command[1:5])} ...` failed: {reason}")

    print(f"installing jasmin {version} into {venv} (first run only) ...", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        run(sys.executable, "-m", "venv", str(venv))
    run(str(python), "-m", "pip", "install", "-q", f"jasmin=={version}")
    with tempfile.TemporaryDirectory() as scratch:
        run(
            str(python),
            "-m",
            "pip",
            "download",
            "-q",
            "--no-binary",
            ":all:",
            "--no-deps",
            "-d",
            scratch,
            f"jasmin=={version}",
        )
        archives = list(Path(scratch).glob("jasmin-*.tar.gz"))
        if not archives:
            raise SetupFailed(f"no sdist of jasmin {version} to take amqp0-9-1.xml from")
        with tarfile.open(archives[0]) as archive:
            member = next(
                (m for m in archive.getmembers() if m.name.endswith("resource/amqp0-9-1.xml")),
                None,
            )
            source = archive.extractfile(member) if member is not None else None
            if source is None:
                raise SetupFailed(f"the sdist of jasmin {version} has no amqp0-9-1.xml")
            spec.write_bytes(source.read())
    return venv


def _config(root: Path, venv: Path, ports: dict[str, int]) -> str:
    log = root / "var" / "log" / "jasmin"
    store = root / "etc" / "jasmin" / "store"
    quiet = "log_level = WARNING"
    sections = {
        "smpp-server": f"bind = 127.0.0.1\nport = {ports['smpp']}\n{quiet}",
        "smpp-server-pb": f"bind = 127.0.0.1\nport = {ports['smpp_pb']}\n{quiet}",
        "client-management": (
            f"bind = 127.0.0.1\nport = {ports['cm']}\nstore_path = {store}\n{quiet}"
        ),
        "service-smppclient": quiet,
        "sm-listener": quiet,
        "dlr": quiet,
        "amqp-broker": (
            "host = 127.0.0.1\nvhost = /\nusername = guest\npassword = guest\nport = 5672\n"
            f"spec = {venv / 'amqp0-9-1.xml'}\n{quiet}"
        ),
        "http-api": f"bind = 127.0.0.1\nport = {ports['http']}\n{quiet}",
        "router": f"bind = 127.0.0.1\nport = {ports['router']}\nstore_path = {store}\n{quiet}",
        "deliversm-thrower": quiet,
        "dlr-thrower": quiet,
        "redis-client": f"host = 127.0.0.1\nport = 6379\ndbid = {REDIS_DB}\n{quiet}",
        "jcli": f"bind = 127.0.0.1\nport = {ports['jcli']}\n{quiet}",
    }
    store.mkdir(parents=True, exist_ok=True)
    log.mkdir(parents=True, exist_ok=True)
    return "\n\n".join(f"[{name}]\n{body}" for name, body in sections.items()) + "\n"


class JCli:
    """Jasmin's telnet console, line by line (prompts `jcli : ` and `> `)."""

    PROMPT = re.compile(rb"(jcli : |> )$")  # after "Authentication required." it takes a name

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buffer = b""
        self._until(re.compile(rb"Authentication required"))
        self.sock.sendall(JCLI_USER.encode() + b"\r\n")
        self._until(re.compile(rb"Password: $"))
        self.sock.sendall(JCLI_PASSWORD.encode() + b"\r\n")
        self._until(self.PROMPT)

    def _until(self, pattern: re.Pattern[bytes]) -> str:
        while True:
            text = re.sub(rb"\xff[\xfb-\xfe].|\xff[\xf0-\xfa]", b"", self.buffer)
            if pattern.search(text.rstrip(b"\x00")):
                self.buffer = b""
                return text.decode("latin-1")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SetupFailed(f"jCli closed the connection: {text[-300:]!r}")
            self.buffer += chunk

    def run(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self._until(self.PROMPT)

    def script(self, lines: list[str]) -> str:
        """Run lines; fail on an answer that reports an error."""
        output = ""
        for line in lines:
            answer = self.run(line)
            output += answer
            if re.search(r"(Unknown|Error|error|Invalid|not found|Usage:)", answer):
                raise SetupFailed(f"jCli refused `{line}`: {answer.strip()[:300]}")
        return output

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"quit\r\n")
        self.sock.close()


@dataclass
class JasminPeer:
    host: str
    port: int
    dlr_url: str
    process: subprocess.Popen[bytes]
    root: Path

    @property
    def pids(self) -> list[int]:
        return [self.process.pid]

    def target(self, n: int) -> str:
        return (
            f"/send?username={USER}&password={PASSWORD}&from=Bench"
            f"&to=%2B3161{n % 10_000_000:07d}&content=Benchmark+message+{n}"
            f"&dlr=yes&dlr-level=2&dlr-method=GET&dlr-url={quote(self.dlr_url, safe='')}"
        )

    @staticmethod
    def accepted(status: int, body: bytes) -> bool:
        return status == 200 and body.startswith(b"Success")

    @staticmethod
    def final(query: dict[str, str]) -> str | None:
        """Level 2 is the terminal receipt (the SMSC's deliver_sm)."""
        if query.get("level") in ("2", "3") and query.get("message_status"):
            return query.get("id")
        return None

    def logs(self) -> str:
        parts = []
        for path in sorted(self.root.rglob("*.log")):
            lines = path.read_text(errors="replace").splitlines()
            # An empty store at start is normal; it would hide the lines that matter.
            text = "\n".join(line for line in lines if "Cannot load configuration" not in line)
            if text.strip():
                parts.append(f"--- {path.name}\n{text[-1500:]}")
        return "\n".join(parts)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (root / "jasmind.console.log").read_text(errors="replace")[-600:]
            raise SetupFailed(f"jasmind exited with {process.returncode}: {tail}")
        if _reachable(port):
            return
        time.sleep(0.2)
    raise SetupFailed(f"jasmind did not listen on {port} within 60 s")


@contextlib.contextmanager
def run_jasmin(
    venv: Path, smpp_port: int, smsc_password: str, dlr_url: str
) -> Iterator[JasminPeer]:
    root = Path(tempfile.mkdtemp(prefix="tidings-peer-jasmin-"))
    ports = {name: free_port() for name in ("smpp", "smpp_pb", "cm", "http", "router", "jcli")}
    config = root / "etc" / "jasmin" / "jasmin.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(_config(root, venv, ports))
    env = {**os.environ, "ROOT_PATH": str(root), "PYTHONUNBUFFERED": "1"}
    with open(root / "jasmind.console.log", "wb") as console:
        process = subprocess.Popen(
            [
                str(venv / "bin" / "python"),
                str(venv / "bin" / "jasmind.py"),
                "--config",
                str(config),
                "--enable-dlr-lookup",
                "--enable-dlr-thrower",
            ],
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
            start_new_session=True,
        )
    # A connector name of its own: queues left in RabbitMQ by an earlier run stay apart.
    connector = f"peer{secrets.token_hex(3)}"
    try:
        _wait_for_port(ports["jcli"], process, root)
        _wait_for_port(ports["http"], process, root)
        cli = JCli(ports["jcli"])
        try:
            cli.script(["group -a", "gid bench", "ok"])
            cli.script(
                [
                    "user -a",
                    f"username {USER}",
                    f"password {PASSWORD}",
                    "gid bench",
                    "uid bench",
                    "ok",
                ]
            )
            cli.script(
                [
                    "smppccm -a",
                    f"cid {connector}",
                    "host 127.0.0.1",
                    f"port {smpp_port}",
                    "username jasmin",
                    f"password {smsc_password}",
                    "bind transceiver",
                    "submit_throughput 0",
                    "ok",
                ]
            )
            cli.script(
                [
                    "mtrouter -a",
                    "type DefaultRoute",
                    f"connector smppc({connector})",
                    "rate 0.00",
                    "ok",
                ]
            )
            cli.script([f"smppccm -1 {connector}"])
        finally:
            cli.close()
        yield JasminPeer("127.0.0.1", ports["http"], dlr_url, process, root)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        _drop_queues(connector)
        shutil.rmtree(root, ignore_errors=True)


def _drop_queues(connector: str) -> None:
    """Best effort, after jasmind stopped: delete the RabbitMQ queues of this run's connector
    and empty Jasmin's shared receipt queues (messages still queued when a run stopped at
    its time limit would otherwise be worked on by the next run's jasmind)."""
    rabbitmqctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listed = subprocess.run(
            [rabbitmqctl, "-q", "list_queues", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for name in listed.stdout.split():
            if name.endswith(f".{connector}") or name in SHARED_QUEUES:
                action = "purge_queue" if name in SHARED_QUEUES else "delete_queue"
                subprocess.run(
                    [rabbitmqctl, "-q", action, name],
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
