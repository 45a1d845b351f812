"""Accept -> delivered throughput through the simulator connector, and the server's memory.

Submits `--messages` through POST /v1/messages/batch, then waits until every one is in a
final status. Progress is read by counting the messages table's plaintext `status`
column directly every `--poll` seconds (the API's list call is far too slow for this);
the server's RSS is sampled every second.

    python bench/throughput.py --db sqlite --messages 100000
    python bench/throughput.py --db postgres --messages 100000
    python bench/throughput.py --db sqlite --messages 1000000   # memory must stay flat
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

from common import (
    Profiler,
    RssSampler,
    StatusCounter,
    add_common_arguments,
    batch_body,
    cpu_snapshot,
    cpu_used,
    report,
    run_server,
    server_config,
)


class Monitor:
    """Polls the number of final messages in a background thread.

    final = messages the server acknowledged - messages of the account not final yet;
    it never overstates (a batch committed but not yet acknowledged only lowers it) and
    is exact once every batch is acknowledged. The poll interval stretches to ten times
    the count's own duration, so counting never takes more than a tenth of a core.
    """

    def __init__(
        self, counter: StatusCounter, interval: float, accepted: Callable[[], int]
    ) -> None:
        self.counter = counter
        self.interval = interval
        self.accepted = accepted
        self.samples: list[tuple[float, int]] = []
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-monitor", daemon=True)
        self._started = 0.0

    def start(self, started: float) -> None:
        self._started = started
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            accepted = self.accepted()
            pending = sum(self.counter.pending().values())
            self.cpu_seconds += time.thread_time() - cpu0
            took = time.perf_counter() - wall0
            self.samples.append((time.perf_counter() - self._started, max(0, accepted - pending)))
            self._stop.wait(max(self.interval, 10 * took))

    def latest(self) -> int:
        return self.samples[-1][1] if self.samples else 0


def final_rate_peak(samples: list[tuple[float, int]], window: float) -> float:
    """The highest rate of messages reaching a final status over any `window` seconds."""
    best = 0.0
    j = 0
    for i, (t, final) in enumerate(samples):
        while samples[j][0] < t - window and j < i:
            j += 1
        t0, final0 = samples[j]
        if t - t0 >= window * 0.8:
            best = max(best, (final - final0) / (t - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=1, help="batches in flight at once")
    parser.add_argument("--poll", type=float, default=0.5, help="status count interval (s)")
    parser.add_argument(
        "--stall-timeout", type=float, default=120.0, help="give up after no progress for (s)"
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=20.0, help="py-spy duration with --profile"
    )
    args = parser.parse_args()
    total, size = args.messages, args.batch_size

    with run_server(server_config(args)) as server, server.client(timeout=600) as http:
        counter = StatusCounter(server.sqlalchemy_url, server.account_id)
        next_start = [0]
        acknowledged = [0]
        lock = threading.Lock()

        def accepted() -> int:
            with lock:
                return acknowledged[0]

        monitor = Monitor(counter, args.poll, accepted)

        def submit_batches() -> None:
            while True:
                with lock:
                    start = next_start[0]
                    if start >= total:
                        return
                    next_start[0] = start + size
                count = min(size, total - start)
                response = http.post("/v1/messages/batch", content=batch_body(start, count))
                if response.status_code != 202 or response.json()["accepted"] != count:
                    raise RuntimeError(
                        f"batch answered {response.status_code}: {response.text[:500]}"
                    )
                with lock:
                    acknowledged[0] += count

        profiler = None
        if args.profile is not None:
            profiler = Profiler(server.pid, args.profile_seconds, args.profile)
        before = cpu_snapshot(server.pids, args.db)
        started = before.wall
        monitor.start(started)
        with RssSampler(server.pid, 1.0) as rss:
            if profiler is not None:
                profiler.start()
            submitters = [
                threading.Thread(target=submit_batches, name=f"submit-{i}")
                for i in range(args.concurrency)
            ]
            for thread in submitters:
                thread.start()
            for thread in submitters:
                thread.join()
            at_intake_cpu = cpu_snapshot(server.pids, args.db)
            intake = at_intake_cpu.wall - started
            at_intake = counter.counts()

            last_final, last_progress = -1, time.perf_counter()
            while True:
                time.sleep(args.poll)
                final = monitor.latest()
                if final >= total:
                    break
                if final != last_final:
                    last_final, last_progress = final, time.perf_counter()
                elif time.perf_counter() - last_progress > args.stall_timeout:
                    print(f"no progress for {args.stall_timeout:.0f}s: {counter.counts()}")
                    break
            # the monitor samples every `poll` seconds: take the first sample that saw the end
            end = next(
                (t for t, final in monitor.samples if final >= total),
                time.perf_counter() - started,
            )
        monitor.stop()
        after = cpu_snapshot(server.pids, args.db)
        cpu = cpu_used(before, after)
        intake_cpu = cpu_used(before, at_intake_cpu)
        final_counts = counter.counts()
        counter.close()
        if profiler is not None:
            profiler.wait()

    delivered = final_counts.get("delivered", 0)
    drain = end - intake
    out: dict[str, Any] = {
        "db": args.db,
        "messages": total,
        "batch_size": size,
        "intake_seconds": round(intake, 2),
        "intake_per_s": round(total / intake, 1),
        "delivered_during_intake": at_intake.get("delivered", 0),
        "delivered_per_s_during_intake": round(at_intake.get("delivered", 0) / intake, 1),
        "seconds_to_all_final": round(end, 2),
        "accept_to_delivered_per_s": round(delivered / end, 1),
        "drain_seconds_after_intake": round(drain, 2),
        "final_per_s_peak_5s": round(final_rate_peak(monitor.samples, 5.0), 1),
        "final_counts": final_counts,
        **cpu,
        "server_cores_intake": intake_cpu["server_cores"],
        "postgres_cores_intake": intake_cpu["postgres_cores"],
        "monitor_cpu_s": round(monitor.cpu_seconds, 2),
        **rss.summary(),
        "target_per_s": 3000,
        "met": delivered == total and delivered / end >= 3000,
    }
    rows: list[tuple[str, Any]] = [
        ("messages", total),
        ("intake seconds", out["intake_seconds"]),
        ("intake messages / s", out["intake_per_s"]),
        ("delivered / s during intake", out["delivered_per_s_during_intake"]),
        ("seconds until all final", out["seconds_to_all_final"]),
        ("accept -> delivered / s", out["accept_to_delivered_per_s"]),
        ("peak final / s (5 s)", out["final_per_s_peak_5s"]),
        ("delivered", delivered),
        ("not delivered", total - delivered),
        ("server CPU s (cores)", f"{cpu['server_cpu_s']:.1f} ({cpu['server_cores']:.2f})"),
        ("postgres CPU s (cores)", f"{cpu['postgres_cpu_s']:.1f} ({cpu['postgres_cores']:.2f})"),
        (
            "driver CPU s (of it counting)",
            f"{cpu['driver_cpu_s']:.1f} ({monitor.cpu_seconds:.1f})",
        ),
        ("other processes (cores)", cpu["other_cores"]),
        (
            "RSS MiB min / max / last",
            f"{out['rss_min_mib']} / {out['rss_max_mib']} / {out['rss_last_mib']}",
        ),
        ("target >= 3,000/s", "met" if out["met"] else "NOT met"),
    ]
    report(
        f"throughput ({args.db}{', split' if args.split else ''}, {total:,} messages)", rows, out
    )
    if args.messages >= 500_000:
        print("RSS by minute (s, MiB):", [(round(t), v) for t, v in rss.samples[::60]])


if __name__ == "__main__":
    main()
