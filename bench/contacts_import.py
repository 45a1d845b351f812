"""Contact import: `tidings contacts import` of an N-row CSV into a fresh database.

Measures the import command as an operator runs it (its own process): wall time from
start to exit (runtime start, copying the upload, every batch) and its peak resident
memory (the sum over the import process and the worker processes it starts), sampled
every 0.2 s, and the CPU seconds they used (which, unlike the wall time, hardly depends on
what else runs on the machine). The CSV has a number,
first and last name and an email per row, all distinct numbers, so every row is a new
contact with four encrypted fields and two blind indexes.

    python bench/contacts_import.py --db sqlite --rows 1000000
    python bench/contacts_import.py --db postgres --rows 1000000
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    CLK_TCK,
    DEFAULT_PG_ADMIN_URL,
    RssSampler,
    _pg_admin,
    _pg_url,
    descendants,
    machine_busy_seconds,
    postgres_cpu_seconds,
    report,
    tidings_command,
)


def _backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving `database` (their title names it)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
                if title.startswith("postgres: ") and f" {database} " in title:
                    found.append(int(entry))
    return found


class WorkerCpu:
    """The CPU seconds (user, system) of the processes the import starts (or of those
    `find` names), read from /proc every `interval` seconds; each one's last reading before
    it ends is kept (so up to `interval` of its CPU may be missed). The importing
    process's own share is the total less the workers'."""

    def __init__(
        self, pid: int, interval: float = 0.2, find: Callable[[], list[int]] | None = None
    ) -> None:
        self.pid = pid
        self.interval = interval
        self._find = find or (lambda: descendants(pid))
        self.last: dict[int, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def __enter__(self) -> WorkerCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for child in self._find():
                with contextlib.suppress(OSError, ValueError), open(f"/proc/{child}/stat") as f:
                    raw = f.read()
                    fields = raw[raw.rindex(")") + 2 :].split()
                    self.last[child] = (int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK)

    def user(self) -> float:
        return sum(u for u, _ in self.last.values())

    def system(self) -> float:
        return sum(s for _, s in self.last.values())


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("number,first_name,last_name,email\n")
        for i in range(rows):
            out.write(f"+3161{i:07d},First{i},Last{i},person{i}@example.com\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--pg-database", default="tidings_bench_contacts")
    parser.add_argument("--keep", action="store_true", help="keep the data dir / database")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tidings-bench-contacts-"))
    source = work / "contacts.csv"
    write_csv(source, args.rows)
    if args.db == "sqlite":
        database_url = f"sqlite:///{work / 'tidings.db'}"
    else:
        name = args.pg_database
        _pg_admin(
            args.pg_admin_url, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"']
        )
        database_url = _pg_url(args.pg_admin_url, name)
    env = {
        **os.environ,
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(work / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "COLUMNS": "200",  # the summary line unwrapped
    }
    try:
        created = subprocess.run(
            [*tidings_command(), "account", "create", "--name", "Bench", "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        account = json.loads(created.stdout)["account_id"]
        busy_before = machine_busy_seconds()
        postgres_before = postgres_cpu_seconds() if args.db == "postgres" else 0.0
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen(
            [*tidings_command(), "contacts", "import", str(source), "--account", account],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        with (
            RssSampler(process.pid, interval=0.2, tree=True) as sampler,
            WorkerCpu(process.pid) as workers,
            WorkerCpu(
                process.pid,
                find=lambda: _backends(args.pg_database) if args.db == "postgres" else [],
            ) as backends,
        ):
            output, _ = process.communicate()
        seconds = time.monotonic() - started
        postgres_cpu = postgres_cpu_seconds() - postgres_before if args.db == "postgres" else 0.0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        user = children.ru_utime - children_before.ru_utime
        system = children.ru_stime - children_before.ru_stime
        cpu = user + system
        busy = (machine_busy_seconds() - busy_before) / seconds
        if process.returncode != 0:
            raise SystemExit(f"the import failed ({process.returncode}): {output.decode()}")
        summary = output.decode().strip().splitlines()[-1]
        rss = sampler.summary()
        result = {
            "db": args.db,
            "rows": args.rows,
            "file_mib": round(source.stat().st_size / 2**20, 1),
            "seconds": round(seconds, 2),
            "rows_per_second": round(args.rows / seconds),
            "import_cpu_seconds": round(cpu, 2),
            "rows_per_cpu_second": round(args.rows / cpu),
            "importing_cpu_seconds": round(cpu - workers.user() - workers.system(), 2),
            "importing_system_seconds": round(system - workers.system(), 2),
            "worker_cpu_seconds": round(workers.user() + workers.system(), 2),
            "worker_system_seconds": round(workers.system(), 2),
            "workers": len(workers.last),
            "postgres_cpu_seconds": round(postgres_cpu, 2),
            "backend_cpu_seconds": round(backends.user() + backends.system(), 2),
            "machine_busy_cores": round(busy, 2),
            **rss,
            "summary": summary,
        }
        report(
            f"contacts import ({args.db})",
            [
                ("rows", args.rows),
                ("file (MiB)", result["file_mib"]),
                ("seconds", seconds),
                ("rows per second", result["rows_per_second"]),
                ("import CPU seconds", cpu),
                ("rows per CPU second", result["rows_per_cpu_second"]),
                ("importing process CPU s", result["importing_cpu_seconds"]),
                ("  of it system", result["importing_system_seconds"]),
                ("worker processes CPU s", result["worker_cpu_seconds"]),
                ("  of it system", result["worker_system_seconds"]),
                ("PostgreSQL CPU s (all)", postgres_cpu),
                ("  its backends' for this db", result["backend_cpu_seconds"]),
                ("peak RSS (MiB)", rss.get("rss_max_mib", 0.0)),
                ("machine busy (cores)", busy),
            ],
            result,
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if args.db == "postgres":
                _pg_admin(args.pg_admin_url, [f'DROP DATABASE IF EXISTS "{args.pg_database}"'])


if __name__ == "__main__":
    main()
