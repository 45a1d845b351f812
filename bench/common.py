"""Shared helpers for the benchmarks: a `tidings serve` subprocess, process sampling, output.

Nothing here imports the application: the server runs as its own process, exactly as an
operator starts it, and the benchmarks talk to it over HTTP (plus a read-only SQL count
of the messages table where polling the API would be too slow).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

BENCH_DIR = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_PG_DATABASE = "tidings_bench"


# --- process accounting -------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        raw = handle.read()
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def rss_mib(pid: int) -> float:
    """Resident set size of a live process in MiB (VmRSS from /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def postgres_cpu_seconds() -> float:
    """CPU seconds of all live `postgres` processes (the server's backends and workers).

    Sampled before and after a run, the difference approximates the database's share of
    the machine. Backends that start and exit in between count too: the postmaster reaps
    them, and their time is added to its children's time (PostgreSQL serves everyone on
    the machine: other databases' backends count as well).
    """
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += cpu_seconds(int(entry.name)) + _reaped_seconds(int(entry.name))
        except OSError:
            continue
    return total


def _reaped_seconds(pid: int) -> float:
    """CPU seconds of a process's children that have exited and been waited for."""
    with open(f"/proc/{pid}/stat") as handle:
        raw = handle.read()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[13]) + int(fields[14])) / CLK_TCK


def source_revision() -> str:
    """The commit the server code is at, with `+dirty` when src/ has uncommitted changes."""
    root = BENCH_DIR.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


def descendants(pid: int) -> list[int]:
    """The live processes started by `pid`, and by those, and so on (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as handle:
            raw = handle.read()
            parent = int(raw[raw.rindex(")") + 2 :].split()[1])
            parents.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def tree_rss_mib(pid: int) -> float:
    """The RSS of a process and all its descendants, summed (pages they share are counted
    once per process, so this is an upper bound of the memory they use)."""
    total = rss_mib(pid)
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            total += rss_mib(child)
    return total


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a background thread (with
    `tree`, the sum over the process and every process it started)."""

    def __init__(self, pid: int, interval: float = 1.0, tree: bool = False) -> None:
        self.pid = pid
        self.interval = interval
        self._measure = tree_rss_mib if tree else rss_mib
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        start = time.monotonic()
        while True:
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic() - start, self._measure(self.pid)))
            if self._stop.wait(self.interval):
                return

    def summary(self) -> dict[str, float]:
        values = [v for _, v in self.samples]
        if not values:
            return {}
        return {
            "rss_min_mib": round(min(values), 1),
            "rss_max_mib": round(max(values), 1),
            "rss_last_mib": round(values[-1], 1),
            "rss_samples": len(values),
        }


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK  # user..steal; guest is inside user


def driver_cpu_seconds() -> float:
    """CPU seconds of this process plus its reaped children (wrk, the python load generator)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    server: float
    api: float  # the first `api_count` server processes: with --split, the API processes
    postgres: float
    driver: float
    machine: float


def cpu_snapshot(pids: int | Sequence[int], db: str, api_count: int = 1) -> CpuSnapshot:
    """Wall clock and CPU seconds: the server (all its processes, and the first `api_count`
    of them: the API processes with --split), PostgreSQL, this driver, the whole machine."""
    pids = [pids] if isinstance(pids, int) else list(pids)
    api = sum(cpu_seconds(pid) for pid in pids[:api_count])
    return CpuSnapshot(
        wall=time.perf_counter(),
        server=api + sum(cpu_seconds(pid) for pid in pids[api_count:]),
        api=api,
        postgres=postgres_cpu_seconds() if db == "postgres" else 0.0,
        driver=driver_cpu_seconds(),
        machine=machine_busy_seconds(),
    )


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds between two snapshots, and as cores busy (seconds / wall seconds).

    `other_cores` is what the rest of the machine used meanwhile (other people's test
    runs, for instance): when it is not near 0 the numbers are disturbed.
    """
    wall = after.wall - before.wall
    server = after.server - before.server
    postgres = after.postgres - before.postgres
    driver = after.driver - before.driver
    machine = after.machine - before.machine
    other = max(0.0, machine - server - postgres - driver)
    return {
        "server_cpu_s": round(server, 2),
        "server_cores": round(server / wall, 2),
        "api_cpu_s": round(after.api - before.api, 2),
        "api_cores": round((after.api - before.api) / wall, 2),
        "postgres_cpu_s": round(postgres, 2),
        "postgres_cores": round(postgres / wall, 2),
        "driver_cpu_s": round(driver, 2),
        "driver_cores": round(driver / wall, 2),
        "machine_cores": round(machine / wall, 2),
        "other_cores": round(other / wall, 2),
    }


def wait_for_quiet(max_cores: float = 0.25, sample: float = 3.0, timeout: float = 600.0) -> float:
    """Wait until the machine is nearly idle (other work would skew a benchmark).

    Returns the busy cores of the last sample; gives up (and says so) after `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        before, started = machine_busy_seconds(), time.monotonic()
        time.sleep(sample)
        busy = (machine_busy_seconds() - before) / (time.monotonic() - started)
        if busy <= max_cores:
            return busy
        if time.monotonic() > deadline:
            print(f"machine still busy ({busy:.2f} cores); running anyway", file=sys.stderr)
            return busy
        print(f"machine busy ({busy:.2f} cores); waiting", file=sys.stderr)


# --- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tidings_command() -> list[str]:
    """The `tidings` console script of this interpreter, run by the interpreter itself.

    Running the interpreter directly (not a pyenv shim or a wrapper script) makes the
    subprocess's pid the server's own pid, so /proc and py-spy see the real process.
    """
    script = Path(sys.executable).parent / "tidings"
    if script.exists():
        return [sys.executable, str(script)]
    found = shutil.which("tidings")
    if found is None:
        raise SystemExit("the `tidings` command is not installed: pip install -e .")
    return [sys.executable, found]


@dataclass
class ServerConfig:
    db: str = "sqlite"  # sqlite | postgres
    tps: float = 20_000
    window: int = 5_000
    latency_ms: float = 1.0
    dispatch_batch: int | None = None
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    pg_database: str = DEFAULT_PG_DATABASE
    keep: bool = False  # keep the data dir / database afterwards (for inspection)
    split: bool = False  # `serve --role api` + `serve --role worker` instead of one process
    api_processes: int = 1  # with split: this many `serve --role api --reuse-port` on one port
    smpp_port: int = 0  # the SMPP server's port; 0: none (no fixed port to collide on)

    def toml(self) -> str:
        lines = [
            "[[connectors]]",
            'name = "bench"',
            'type = "simulator"',
            f"tps = {float(self.tps)}",
            f"window = {int(self.window)}",
            f"latency_ms = {float(self.latency_ms)}",
            "journal = false",
            "",
            "[[routes]]",
            'prefix = "+"',
            'connector = "bench"',
            "",
        ]
        if self.dispatch_batch is not None:
            lines += ["[pipeline]", f"dispatch_batch = {int(self.dispatch_batch)}", ""]
        return "\n".join(lines)


@dataclass
class Server:
    """A running `tidings serve` with an account and an API key."""

    url: str
    pid: int
    database_url: str
    sqlalchemy_url: str
    account_id: str
    api_key: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)
    worker: subprocess.Popen[bytes] | None = None
    more_api: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The server's processes: one, or the API processes and the worker with --split."""
        return (
            [self.pid]
            + [p.pid for p in self.more_api]
            + ([self.worker.pid] if self.worker is not None else [])
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mib(self.pid)

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)


def _pg_admin(admin_url: str, statements: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def _pg_url(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{database}"


@contextlib.contextmanager
def fresh_database(db: str, admin_url: str, name: str) -> Iterator[str]:
    """The URL of a fresh database (SQLite: a file in a temporary directory), dropped after."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    _pg_admin(admin_url, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'])
    try:
        yield _pg_url(admin_url, name)
    finally:
        _pg_admin(admin_url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


@contextlib.contextmanager
def run_server(config: ServerConfig, *, startup_timeout: float = 60.0) -> Iterator[Server]:
    """Start `tidings serve` on a free port with a fresh database; stop and clean up after."""
    data_dir = Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    config_path = data_dir / "bench.toml"
    config_path.write_text(config.toml())
    if config.db == "sqlite":
        database_url = f"sqlite:///{data_dir / 'tidings.db'}"
        sqlalchemy_url = database_url
    elif config.db == "postgres":
        name = config.pg_database
        _pg_admin(
            config.pg_admin_url,
            [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'],
        )
        database_url = _pg_url(config.pg_admin_url, name)
        sqlalchemy_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        raise SystemExit(f"--db must be sqlite or postgres, not {config.db!r}")

    env = {
        **os.environ,
        "TIDINGS_DATA_DIR": str(data_dir),
        "TIDINGS_DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TIDINGS_MASTER_KEY", None)  # a master.key file in the temp data dir
    command = tidings_command()
    log_path = data_dir / "server.log"
    process: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    more_api: list[subprocess.Popen[bytes]] = []
    try:
        created = subprocess.run(
            [*command, "account", "create", "--name", "Bench", "--json"],
            env=env,
            capture_output=True,
            check=False,
            timeout=120,
        )
        if created.returncode != 0:
            raise RuntimeError(f"account create failed:\n{created.stderr.decode()}")
        account = json.loads(created.stdout)
        port = free_port()
        api_command = [
            *command,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(config_path),
            "--smpp-port",
            str(config.smpp_port),
            *(["--role", "api"] if config.split else []),
            *(["--reuse-port"] if config.api_processes > 1 else []),
        ]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                api_command,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(config.api_processes - 1):
                more_api.append(
                    subprocess.Popen(
                        api_command,
                        env=env,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            if config.split:
                worker = subprocess.Popen(
                    [*command, "serve", "--role", "worker", "--config", str(config_path)],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log_path, startup_timeout)
        for extra in [process, *more_api] if more_api else []:
            # Any one process answers /healthz; the kernel spreads connections only over
            # those already listening, so wait for each to listen before the clock starts.
            _wait_listening(extra, port, log_path, startup_timeout)
        yield Server(
            url=url,
            pid=process.pid,
            database_url=database_url,
            sqlalchemy_url=sqlalchemy_url,
            account_id=account["account_id"],
            api_key=account["api_key"],
            data_dir=data_dir,
            process=process,
            log_path=log_path,
            worker=worker,
            more_api=more_api,
        )
    finally:
        if process is not None:
            _stop(process)
        for extra in more_api:
            _stop(extra)
        if worker is not None:
            _stop(worker)
        if config.db == "postgres" and not config.keep:
            with contextlib.suppress(Exception):
                _pg_admin(
                    config.pg_admin_url,
                    [f'DROP DATABASE IF EXISTS "{config.pg_database}" WITH (FORCE)'],
                )
        if not config.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept {data_dir}", file=sys.stderr)


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (any address), from /proc/net/tcp{,6}."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _wait_listening(
    process: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float
) -> None:
    """Wait until `process` holds a socket listening on `port`."""
    deadline = time.monotonic() + timeout
    fd_dir = Path(f"/proc/{process.pid}/fd")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"tidings serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        listening = _listening_inodes(port)
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in listening:
                        return
        time.sleep(0.1)
    raise RuntimeError(f"API process {process.pid} did not listen on {port} in {timeout:.0f}s")


def _wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"tidings serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"tidings serve did not become healthy in {timeout:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- message bodies ---------------------------------------------------------------------


def recipient(n: int) -> str:
    """A distinct, valid Dutch mobile number for each n below 10 million."""
    return f"+3161{n % 10_000_000:07d}"


def batch_body(start: int, count: int) -> bytes:
    """A POST /v1/messages/batch body of `count` distinct messages."""
    return orjson.dumps(
        {
            "messages": [
                {"to": recipient(n), "from": "Bench", "body": f"Benchmark message {n}"}
                for n in range(start, start + count)
            ]
        }
    )


# --- status counts ----------------------------------------------------------------------


PENDING_STATUSES = ("scheduled", "queued", "sending", "sent")


class StatusCounter:
    """Counts the messages table's plaintext `status` column directly (read-only).

    `counts()` counts every row (a full index scan: at a million rows it costs the machine
    a noticeable share of a core when repeated every half second); `pending()` counts
    only one account's messages that are not final yet, a range of the
    (account_id, status) index that is as small as the backlog.
    """

    def __init__(self, sqlalchemy_url: str, account_id: str) -> None:
        from sqlalchemy import bindparam, create_engine, text

        self._engine = create_engine(sqlalchemy_url, pool_size=1, max_overflow=0)
        self._account_id = account_id
        self._all = text("SELECT status, COUNT(*) FROM messages GROUP BY status")
        self._pending = text(
            "SELECT status, COUNT(*) FROM messages "
            "WHERE account_id = :account_id AND status IN :statuses GROUP BY status"
        ).bindparams(bindparam("statuses", expanding=True))

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(self._all)}

    def pending(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._pending,
                {"account_id": self._account_id, "statuses": list(PENDING_STATUSES)},
            )
            return {status: int(n) for status, n in rows}

    def close(self) -> None:
        self._engine.dispose()


# --- profiling ------------------------------------------------------------------------------


class Profiler:
    """py-spy recording a pid for `seconds` in the background (raw collapsed stacks).

    With `gil` (the default) only the thread holding the GIL is sampled, so the profile
    shows where the process's Python CPU time goes, not threads waiting for the GIL or
    for the database.
    """

    def __init__(
        self, pid: int, seconds: float, output: Path, *, rate: int = 100, gil: bool = True
    ) -> None:
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        py_spy = shutil.which("py-spy")
        if py_spy is None:
            print("py-spy is not installed (pip install py-spy); not profiling", file=sys.stderr)
            return
        self.command = [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nolineno",
            "--threads",
            "--nonblocking",
            *(["--gil"] if gil else []),
            "--output",
            str(output),
        ]

    def start(self) -> None:
        if getattr(self, "command", None):
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )

    def wait(self) -> Path | None:
        if self.process is None:
            return None
        _, stderr = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.output.exists():
            print(f"py-spy failed: {stderr.decode()[-2000:]}", file=sys.stderr)
            return None
        return self.output


# --- command line and output -----------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--pg-database", default=DEFAULT_PG_DATABASE)
    parser.add_argument("--tps", type=float, default=20_000, help="simulator connector tps")
    parser.add_argument("--window", type=int, default=5_000, help="simulator connector window")
    parser.add_argument("--latency-ms", type=float, default=1.0, help="simulator receipt delay")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="FILE",
        help="record the server with py-spy during the measurement (raw collapsed stacks)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir / database")
    parser.add_argument(
        "--split",
        action="store_true",
        help="run the node as two processes: serve --role api and serve --role worker",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="with --split: API processes sharing the port (serve --role api --reuse-port)",
    )


def server_config(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        db=args.db,
        tps=args.tps,
        window=args.window,
        latency_ms=args.latency_ms,
        pg_admin_url=args.pg_admin_url,
        pg_database=args.pg_database,
        keep=args.keep,
        split=args.split,
        api_processes=args.api_processes,
    )


def report(name: str, rows: Sequence[tuple[str, Any]], result: dict[str, Any]) -> None:
    """Print a small table and one JSON line (prefixed `RESULT `) with every number."""
    width = max(len(label) for label, _ in rows)
    print(f"\n{name}")
    print("-" * (width + 24))
    for label, value in rows:
        shown = (
            f"{value:,.1f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        print(f"{label:<{width}}  {shown:>20}")
    print("-" * (width + 24))
    print(
        "RESULT "
        + json.dumps({"benchmark": name, "revision": source_revision(), **result}, sort_keys=True),
        flush=True,
    )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]
