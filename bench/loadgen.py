"""A small closed-loop HTTP/1.1 load generator (the fallback when `wrk` is not installed).

Run as its own process so that its CPU is measured apart from the server's. Each of
`--connections` keep-alive connections sends POST /v1/messages, waits for the answer and
sends the next, until `--requests` have been sent in all. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]


def request_bytes(host: str, key: str, n: int) -> bytes:
    body = (
        f'{{"to":"+3161{n % 10_000_000:07d}","from":"Bench","body":"Benchmark message {n}"}}'
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def worker(
    host: str,
    port: int,
    key: str,
    counter: list[int],
    total: int,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while counter[0] < total:
            n = counter[0]
            counter[0] += 1
            started = time.perf_counter()
            writer.write(request_bytes(f"{host}:{port}", key, n))
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    counter = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    await asyncio.gather(
        *(
            worker(args.host, args.port, args.key, counter, args.requests, latencies, statuses)
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, round(fraction * (len(latencies) - 1)))] * 1e6

    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "errors_status": sum(v for k, v in statuses.items() if k >= 400),
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "p999_us": pct(0.999),
        "max_us": latencies[-1] * 1e6,
        "mean_us": sum(latencies) / len(latencies) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    if uvloop is not None:
        uvloop.install()
    result = asyncio.run(main_async(args))
    sys.stdout.write("LOADJSON " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
