"""CPU per request of the HTTP accept path, in process: `POST /v1/messages` through the ASGI app.

Builds the API role's app (no dispatcher) on a fresh database and calls it directly as an
ASGI application, `--concurrency` requests at a time, each to a recipient not seen before
(the costly case: a new subject key per message). No sockets, no load generator: the
process CPU time per request is what the API itself costs, which stays meaningful on a
shared machine where rates do not. `--profile FILE` writes a cProfile of the timed part.
`--batch-size N` posts `POST /v1/messages/batch` bodies of N messages instead, one at a
time, and reports the CPU per message. On PostgreSQL the server's CPU per request is
reported too.

    python bench/api_accept_cpu.py --db sqlite --requests 20000
    python bench/api_accept_cpu.py --db postgres --requests 20000
    python bench/api_accept_cpu.py --db sqlite --batch-size 10000 --requests 40000 --warmup 10000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_cpu_seconds
from consent_accept import with_database

from tidings.api.app import create_app
from tidings.core import gc_pauses
from tidings.core.config import Settings
from tidings.runtime import build_runtime


def body(n: int) -> bytes:
    return orjson.dumps({"to": f"+3161{n:07d}", "from": "Bench", "body": f"Your code is {n}"})


def batch(start: int, size: int) -> bytes:
    return orjson.dumps(
        {
            "messages": [
                {"to": f"+3161{n:07d}", "from": "Bench", "body": f"Your code is {n}"}
                for n in range(start, start + size)
            ]
        }
    )


async def call(app: Any, key: bytes, payload: bytes, path: str = "/v1/messages") -> int:
    status = 0
    chunks = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop() if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", b"Bearer " + key),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status


async def drive(app: Any, key: bytes, start: int, count: int, concurrency: int) -> None:
    queue = iter(range(start, start + count))

    async def worker() -> None:
        for n in queue:
            status = await call(app, key, body(n))
            if status != 202:
                raise SystemExit(f"request {n} answered {status}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def drive_batches(app: Any, key: bytes, bodies: list[bytes]) -> None:
    for payload in bodies:
        status = await call(app, key, payload, "/v1/messages/batch")
        if status != 202:
            raise SystemExit(f"batch answered {status}")


async def measure(args: argparse.Namespace, url: str, data: Path) -> dict[str, Any]:
    settings = Settings(
        data_dir=data,
        database_url=url,
        master_key_env=base64.b64encode(os.urandom(32)).decode(),
    )
    rt = build_runtime(settings)
    app = create_app(rt, run_workers=False)

    size = args.batch_size
    # Batch bodies are built before the clock starts: the timed part is the API's work.
    bodies = {
        start: [batch(n, size) for n in range(start, start + count, size)] if size else []
        for start, count in ((0, args.warmup), (args.warmup, args.requests))
    }

    async def run(app: Any, key: bytes, start: int, count: int) -> None:
        if size:
            await drive_batches(app, key, bodies[start])
        else:
            await drive(app, key, start, count, args.concurrency)

    try:
        account = rt.accounts.create_account("Bench")["account_id"]
        key = rt.accounts.create_api_key(account)["api_key"].encode()
        async with app.router.lifespan_context(app):
            await run(app, key, 0, args.warmup)
            # the garbage collector as `tidings serve` sets it up (older trees: no threshold)
            getattr(gc_pauses, "collect_young_less_often", lambda: None)()
            gc_pauses.freeze_survivors()
            profiler = cProfile.Profile() if args.profile else None
            server = postgres_cpu_seconds() if args.db == "postgres" else 0.0
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            await run(app, key, args.warmup, args.requests)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if args.db == "postgres":
                server = postgres_cpu_seconds() - server
    finally:
        await rt.accept.close()
        rt.close()
    return {
        "db": args.db,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        # with --batch-size, "requests" are messages: the CPU per message
        "cpu_us_per_request": round(cpu / args.requests * 1e6, 1),
        "requests_per_cpu_s": round(args.requests / cpu),
        # PostgreSQL's CPU per request (its whole server: keep the machine otherwise idle)
        "server_cpu_us_per_request": round(server / args.requests * 1e6, 1),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=0, help="batch bodies of this size")
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()

    def run(url: str) -> None:
        with tempfile.TemporaryDirectory() as data:
            result = asyncio.run(measure(args, url, Path(data)))
        print("RESULT", orjson.dumps(result).decode())

    with_database(args.db, run)


if __name__ == "__main__":
    main()
