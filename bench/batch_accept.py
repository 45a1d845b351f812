"""Batch accept rate: messages/s through POST /v1/messages/batch (10,000 per batch).

Bodies are built before the clock starts; each batch is timed from request to answer.
The simulator connector keeps dispatching in the background, as in production; pass
`--tps 1` to measure the accept path with the dispatcher almost idle.

    python bench/batch_accept.py --db sqlite --batches 6
    python bench/batch_accept.py --db postgres --batches 6 --batch-size 10000
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from common import (
    Profiler,
    add_common_arguments,
    batch_body,
    cpu_snapshot,
    cpu_used,
    percentile,
    report,
    run_server,
    server_config,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--batches", type=int, default=6, help="measured batches")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--warmup-batches", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1, help="batches in flight at once")
    args = parser.parse_args()

    size = args.batch_size
    warmup = [batch_body(i * size, size) for i in range(args.warmup_batches)]
    base = args.warmup_batches * size
    bodies = [batch_body(base + i * size, size) for i in range(args.batches)]

    with run_server(server_config(args)) as server, server.client(timeout=300) as http:

        def post(body: bytes) -> float:
            started = time.perf_counter()
            response = http.post("/v1/messages/batch", content=body)
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"batch answered {response.status_code}: {response.text[:500]}")
            data = response.json()
            if data["accepted"] != size:
                raise RuntimeError(
                    f"batch accepted {data['accepted']} of {size}: {data['errors'][:3]}"
                )
            return elapsed

        for body in warmup:
            post(body)

        profiler = None
        if args.profile is not None:
            profiler = Profiler(server.pid, 8, args.profile)
            profiler.start()
        before = cpu_snapshot(server.pids, args.db, 1 + len(server.more_api))
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            latencies = list(pool.map(post, bodies))
        after = cpu_snapshot(server.pids, args.db, 1 + len(server.more_api))
        wall = after.wall - before.wall
        cpu = cpu_used(before, after)
        rss = server.rss()
        if profiler is not None:
            profiler.wait()

    total = size * args.batches
    latencies.sort()
    rate = total / wall
    out = {
        "db": args.db,
        "batch_size": size,
        "batches": args.batches,
        "concurrency": args.concurrency,
        "messages": total,
        "seconds": round(wall, 2),
        "messages_per_s": round(rate, 1),
        "batch_p50_s": round(percentile(latencies, 0.5), 3),
        "batch_max_s": round(latencies[-1], 3),
        **cpu,
        "server_cpu_us_per_msg": round(cpu["server_cpu_s"] * 1e6 / total),
        "api_cpu_us_per_msg": round(cpu["api_cpu_s"] * 1e6 / total),
        "server_rss_mib": round(rss, 1),
        "target_per_s": 20_000,
        "met": rate >= 20_000,
    }
    report(
        f"batch_accept ({args.db}{', split' if args.split else ''}, {args.batches} x {size})",
        [
            ("messages", total),
            ("seconds", out["seconds"]),
            ("messages / s", out["messages_per_s"]),
            ("one batch p50 s", out["batch_p50_s"]),
            ("one batch max s", out["batch_max_s"]),
            ("server CPU s (cores)", f"{cpu['server_cpu_s']:.1f} ({cpu['server_cores']:.2f})"),
            ("API processes CPU µs / message", out["api_cpu_us_per_msg"]),
            (
                "postgres CPU s (cores)",
                f"{cpu['postgres_cpu_s']:.1f} ({cpu['postgres_cores']:.2f})",
            ),
            ("client (this script) CPU s", cpu["driver_cpu_s"]),
            ("other processes (cores)", cpu["other_cores"]),
            ("server RSS MiB", out["server_rss_mib"]),
            ("target >= 20,000/s", "met" if out["met"] else "NOT met"),
        ],
        out,
    )


if __name__ == "__main__":
    main()
