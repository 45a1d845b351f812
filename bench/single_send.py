"""Single-message accept rate and latency: POST /v1/messages under concurrent load.

Uses `wrk` (apt-get install wrk) with a Lua script that gives every request its own
recipient; without wrk, falls back to bench/loadgen.py (asyncio, its own process). The
load generator's CPU seconds are reported next to the server's, so it is visible how
much of the 2 cores the client took.

    python bench/single_send.py --db sqlite
    python bench/single_send.py --db postgres --connections 64 --duration 15
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    Profiler,
    Server,
    add_common_arguments,
    cpu_snapshot,
    cpu_used,
    report,
    run_server,
    server_config,
)

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local counter = 0
local thread_base = 0
local idempotency = %(idempotency)s
local next_base = 0

setup = function(thread)
  thread:set("thread_base", next_base)
  next_base = next_base + 1000000
end

request = function()
  counter = counter + 1
  local n = thread_base + counter
  local body = string.format(
    '{"to":"+3161%%07d","from":"Bench","body":"Benchmark message %%d"}', n %% 10000000, n)
  local headers = nil
  if idempotency then
    -- wrk.format uses either the given headers or wrk.headers, not both
    headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Idempotency-Key"] = string.format("%(run)s-%%d", n)
  end
  return wrk.format(nil, "/v1/messages", headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"errors_connect":%%d,"errors_read":%%d,' ..
    '"errors_write":%%d,"errors_status":%%d,"errors_timeout":%%d,"p50_us":%%d,' ..
    '"p90_us":%%d,"p99_us":%%d,"p999_us":%%d,"max_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    server: Server, args: argparse.Namespace, duration: float, script: Path
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
            return result
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def run_loadgen(server: Server, args: argparse.Namespace, requests: int) -> dict[str, Any]:
    port = server.url.rsplit(":", 1)[1]
    command = [
        sys.executable,
        str(BENCH_DIR / "loadgen.py"),
        "--port",
        port,
        "--key",
        server.api_key,
        "--connections",
        str(args.connections),
        "--requests",
        str(requests),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("LOADJSON "):
            result: dict[str, Any] = json.loads(line[len("LOADJSON ") :])
            return result
    raise RuntimeError(f"loadgen printed no result:\n{done.stdout}\n{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (wrk)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (wrk)")
    parser.add_argument(
        "--requests", type=int, default=5000, help="measured requests (python client only)"
    )
    parser.add_argument(
        "--client", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--idempotency", action="store_true", help="send a unique Idempotency-Key on each call"
    )
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "python" and args.idempotency:
        raise SystemExit("--idempotency needs --client wrk")

    with run_server(server_config(args)) as server, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "send.lua"
        script.write_text(
            WRK_SCRIPT
            % {
                "key": server.api_key,
                "idempotency": "true" if args.idempotency else "false",
                "run": f"bench{int(time.time())}",
            }
        )
        # Warm-up: imports, caches, connection pools, the SQLite file's first pages.
        if client == "wrk":
            run_wrk(server, args, args.warmup, script)
        else:
            run_loadgen(server, args, max(500, args.requests // 5))
        time.sleep(1.0)  # let the dispatcher drain the warm-up's messages

        profiler = None
        if args.profile is not None:
            seconds = max(1.0, args.duration - 1) if client == "wrk" else 5.0
            profiler = Profiler(server.pid, seconds, args.profile)
            profiler.start()
        before, load_cpu0 = cpu_snapshot(server.pids, args.db), children_cpu()
        if client == "wrk":
            result = run_wrk(server, args, args.duration, script)
        else:
            result = run_loadgen(server, args, args.requests)
        after, load_cpu = cpu_snapshot(server.pids, args.db), children_cpu() - load_cpu0
        wall = after.wall - before.wall
        cpu = cpu_used(before, after)
        rss = server.rss()
        if profiler is not None:
            profiler.wait()

    seconds = result["duration_us"] / 1e6
    ok = result["requests"] - result.get("errors_status", 0)
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    out = {
        "db": args.db,
        "client": client,
        "split": args.split,
        "api_processes": args.api_processes if args.split else 1,
        "connections": args.connections,
        "idempotency": args.idempotency,
        "requests": result["requests"],
        "errors": errors,
        "seconds": round(seconds, 2),
        "accepted_per_s": round(ok / seconds, 1),
        "p50_ms": round(result["p50_us"] / 1000, 2),
        "p90_ms": round(result["p90_us"] / 1000, 2),
        "p99_ms": round(result["p99_us"] / 1000, 2),
        "p999_ms": round(result["p999_us"] / 1000, 2),
        "max_ms": round(result["max_us"] / 1000, 2),
        **cpu,
        "server_cpu_us_per_msg": round(cpu["server_cpu_s"] * 1e6 / max(ok, 1)),
        "api_cpu_us_per_msg": round(cpu["api_cpu_s"] * 1e6 / max(ok, 1)),
        "loadgen_cpu_s": round(load_cpu, 2),
        "loadgen_cores": round(load_cpu / wall, 2),
        "server_rss_mib": round(rss, 1),
        "target_per_s": 1500,
        "target_p99_ms": 50,
        "met": ok / seconds >= 1500 and result["p99_us"] < 50_000 and errors == 0,
    }
    report(
        f"single_send ({args.db}"
        f"{f', split, {args.api_processes} API' if args.split else ''}, {client}, "
        f"{args.connections} connections)",
        [
            ("requests", out["requests"]),
            ("errors (non-2xx, socket)", out["errors"]),
            ("accepted / s", out["accepted_per_s"]),
            ("latency p50 ms", out["p50_ms"]),
            ("latency p90 ms", out["p90_ms"]),
            ("latency p99 ms", out["p99_ms"]),
            ("latency max ms", out["max_ms"]),
            ("server CPU s (cores)", f"{cpu['server_cpu_s']:.1f} ({cpu['server_cores']:.2f})"),
            ("API process CPU µs / message", out["api_cpu_us_per_msg"]),
            (
                "postgres CPU s (cores)",
                f"{cpu['postgres_cpu_s']:.1f} ({cpu['postgres_cores']:.2f})",
            ),
            ("load generator CPU s (cores)", f"{load_cpu:.1f} ({out['loadgen_cores']:.2f})"),
            ("other processes (cores)", cpu["other_cores"]),
            ("server RSS MiB", out["server_rss_mib"]),
            ("target >= 1500/s, p99 < 50 ms", "met" if out["met"] else "NOT met"),
        ],
        out,
    )


if __name__ == "__main__":
    main()
