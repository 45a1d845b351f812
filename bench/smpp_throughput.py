"""Accept -> SMPP submit -> receipt -> delivered, against an SMSC in another process.

Starts the scriptable SMSC (smpp34's Server behind a small gate,
tests/channels/smpp_connector/smsc.py, quiet: no per-message output; `--smsc sink`: the lean
bench/sink_smsc.py instead, which leaves the CPU to Tidings) and `tidings serve`
with one `type = "smpp"` connector bound to it as a transceiver. Submits `--messages`
through POST /v1/messages/batch and waits until every one is final. Reports the intake
rate, the submit rate during intake, accept -> delivered messages/s, and the CPU time per
message of Tidings and of the SMSC, and each Tidings process's RSS (min/max/last, sampled
every `--rss-interval` seconds from the first batch to the last final status).

    python bench/smpp_throughput.py --db sqlite --messages 20000
    python bench/smpp_throughput.py --db postgres --messages 20000 --smpp-tps 5000 --smpp-window 200
"""

from __future__ import annotations

import argparse
import json
import select
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from common import (
    BENCH_DIR,
    Profiler,
    RssSampler,
    ServerConfig,
    StatusCounter,
    add_common_arguments,
    batch_body,
    cpu_seconds,
    cpu_snapshot,
    cpu_used,
    report,
    run_server,
    server_config,
)

SMSC_SCRIPTS = {
    "smpp34": BENCH_DIR.parent / "tests" / "channels" / "smpp_connector" / "smsc.py",
    "sink": BENCH_DIR / "sink_smsc.py",  # a lean SMSC: leaves the CPU to Tidings
}


@dataclass
class SmppServerConfig(ServerConfig):
    smsc_port: int = 0
    smpp_tps: float = 5000.0
    smpp_window: int = 200
    long_messages: str = "udh8"

    def toml(self) -> str:
        lines = [
            "[[connectors]]",
            'name = "op1"',
            'type = "smpp"',
            'host = "127.0.0.1"',
            f"port = {self.smsc_port}",
            'system_id = "bench"',
            'password = "secret"',
            f"tps = {float(self.smpp_tps)}",
            f"window = {int(self.smpp_window)}",
            f'long_messages = "{self.long_messages}"',
            "",
            "[[routes]]",
            'prefix = "+"',
            'connector = "op1"',
            "",
        ]
        if self.dispatch_batch is not None:
            lines += ["[pipeline]", f"dispatch_batch = {int(self.dispatch_batch)}", ""]
        return "\n".join(lines)


def start_smsc(
    receipts: str, receipt_delay: float = 0.0, kind: str = "smpp34"
) -> tuple[subprocess.Popen[str], int]:
    behaviour = {
        "password": "secret",
        "quiet": True,
        "receipts": receipts,
        "receipt_delay": receipt_delay,
    }
    process = subprocess.Popen(
        [sys.executable, str(SMSC_SCRIPTS[kind]), json.dumps(behaviour)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    listening = json.loads(process.stdout.readline())
    if listening.get("event") != "listening":
        raise SystemExit(f"the SMSC did not start: {listening}")
    return process, int(listening["port"])


class SmscEvents:
    """Reads the SMSC's event lines (JSON on its stdout) in a background thread and counts
    them by event. Without a reader the pipe fills up (the SMSC reports every receipt it
    could not deliver, `receipt_owed`, even when quiet) and the SMSC blocks in its write."""

    def __init__(self, smsc: subprocess.Popen[str]) -> None:
        self.counts: Counter[str] = Counter()
        self._smsc = smsc
        self._thread = threading.Thread(target=self._read, name="smsc-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._smsc.stdout is not None
        for line in self._smsc.stdout:
            try:
                event = json.loads(line).get("event", "?")
            except ValueError:
                event = "unreadable"
            self.counts[str(event)] += 1


def wait_for_bind(smsc: subprocess.Popen[str], http: Any, *, split: bool) -> None:
    """Until the connector is bound: the API says so, or (with --split, where the connectors
    run in the worker, not behind the API) the SMSC reports the bind."""
    deadline = time.monotonic() + 30
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if split:
            assert smsc.stdout is not None
            ready, _, _ = select.select(
                [smsc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if ready and json.loads(smsc.stdout.readline() or "{}").get("event") == "bind":
                return
            continue
        state = http.get("/healthz").json()["connectors"][0]
        if state.get("bound"):
            return
        time.sleep(0.1)
    raise SystemExit(f"the connector did not bind: {state or 'no bind at the SMSC'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--smpp-tps", type=float, default=5000.0)
    parser.add_argument("--smpp-window", type=int, default=200)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument(
        "--no-receipts", action="store_true", help="the SMSC sends none: ends at `sent`"
    )
    parser.add_argument("--stall-timeout", type=float, default=60.0)
    parser.add_argument(
        "--smsc",
        choices=tuple(SMSC_SCRIPTS),
        default="smpp34",
        help="smpp34: the tests' scriptable SMSC; sink: bench/sink_smsc.py, a lean one",
    )
    parser.add_argument(
        "--rss-interval", type=float, default=1.0, help="seconds between RSS samples"
    )
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=0.0,
        help="seconds the SMSC waits between a submit_sm_resp and its receipt",
    )
    args = parser.parse_args()
    total, size = args.messages, args.batch_size

    if args.smsc == "sink" and args.receipt_delay:
        raise SystemExit("--receipt-delay needs --smsc smpp34 (the sink sends receipts at once)")
    smsc, port = start_smsc(
        "none" if args.no_receipts else "after", args.receipt_delay, kind=args.smsc
    )
    base = server_config(args)
    config = SmppServerConfig(
        **{k: getattr(base, k) for k in base.__dataclass_fields__},
        smsc_port=port,
        smpp_tps=args.smpp_tps,
        smpp_window=args.smpp_window,
    )
    try:
        with run_server(config) as server, server.client(timeout=600) as http:
            counter = StatusCounter(server.sqlalchemy_url, server.account_id)
            wait_for_bind(smsc, http, split=args.split)
            smsc_events = SmscEvents(smsc)
            if args.profile is not None:
                # The worker (with --split) is the process that speaks SMPP.
                Profiler(server.pids[-1], args.profile_seconds, args.profile).start()
            samplers = [RssSampler(pid, args.rss_interval) for pid in server.pids]
            for sampler in samplers:
                sampler.__enter__()
            smsc_cpu0 = cpu_seconds(smsc.pid)
            before = cpu_snapshot(server.pids, args.db)
            per_process0 = [cpu_seconds(pid) for pid in server.pids]
            started = before.wall
            for start in range(0, total, size):
                count = min(size, total - start)
                response = http.post("/v1/messages/batch", content=batch_body(start, count))
                if response.status_code != 202 or response.json()["accepted"] != count:
                    raise RuntimeError(f"batch answered {response.status_code}: {response.text}")
            at_intake = cpu_snapshot(server.pids, args.db)
            intake = at_intake.wall - started
            counts_at_intake = counter.counts()
            last, last_change = -1, time.perf_counter()
            while True:
                time.sleep(args.poll)
                waiting = counter.pending()
                if args.no_receipts:
                    waiting.pop("sent", None)
                pending = sum(waiting.values())
                if pending == 0:
                    break
                if pending != last:
                    last, last_change = pending, time.perf_counter()
                elif time.perf_counter() - last_change > args.stall_timeout:
                    print(f"no progress for {args.stall_timeout:.0f}s: {counter.counts()}")
                    break
            after = cpu_snapshot(server.pids, args.db)
            for sampler in samplers:
                sampler.__exit__()
            per_process = [
                cpu_seconds(p) - c for p, c in zip(server.pids, per_process0, strict=True)
            ]
            smsc_cpu = cpu_seconds(smsc.pid) - smsc_cpu0
            final_counts = counter.counts()
            connector_state = http.get("/healthz").json()["connectors"][0]
            counter.close()
    finally:
        assert smsc.stdin is not None
        smsc.stdin.close()
        smsc.wait(timeout=10)

    end = after.wall - started
    cpu = cpu_used(before, after)
    submitted_at_intake = sum(
        counts_at_intake.get(s, 0) for s in ("sent", "delivered", "undelivered", "failed")
    )
    delivered = final_counts.get("sent" if args.no_receipts else "delivered", 0)
    result: dict[str, Any] = {
        "db": args.db,
        "messages": total,
        "receipts": not args.no_receipts,
        "smpp_tps_limit": args.smpp_tps,
        "smpp_window": args.smpp_window,
        "intake_seconds": round(intake, 2),
        "intake_per_s": round(total / intake, 1),
        "submitted_per_s_during_intake": round(submitted_at_intake / intake, 1),
        "seconds_to_all_final": round(end, 2),
        "accept_to_delivered_per_s": round(delivered / end, 1),
        "counts_at_intake": counts_at_intake,
        "final_counts": final_counts,
        "tidings_cpu_ms_per_message": round(cpu["server_cpu_s"] * 1000 / total, 3),
        # With --split: the API process (intake) and the worker (dispatch, SMPP, receipts).
        "process_cpu_ms_per_message": [round(c * 1000 / total, 3) for c in per_process],
        "split": args.split,
        "smsc_cpu_ms_per_message": round(smsc_cpu * 1000 / total, 3),
        "smsc_cpu_s": round(smsc_cpu, 2),
        # This script: the batch poster and the status counter (the load generator).
        "loadgen_cpu_ms_per_message": round(cpu["driver_cpu_s"] * 1000 / total, 3),
        "postgres_cpu_ms_per_message": round(cpu["postgres_cpu_s"] * 1000 / total, 3),
        "connector_errors": connector_state.get("errors"),
        # What the SMSC reported after the bind: `receipt_owed` is a receipt whose
        # deliver_sm was not answered in 10 s (or failed), kept for the next bind.
        "smsc_events": dict(smsc_events.counts),
        # One entry per Tidings process (with --split: the API, then the worker).
        "rss_mib": [sampler.summary() for sampler in samplers],
        "rss_by_minute_mib": [
            [
                (round(t), round(v, 1))
                for t, v in sampler.samples[:: max(1, round(60 / args.rss_interval))]
            ]
            for sampler in samplers
        ],
        **cpu,
    }
    report(
        "smpp_throughput",
        [
            ("messages", total),
            ("intake msg/s", result["intake_per_s"]),
            ("submitted msg/s during intake", result["submitted_per_s_during_intake"]),
            ("accept -> delivered msg/s", result["accept_to_delivered_per_s"]),
            ("Tidings CPU ms/message", result["tidings_cpu_ms_per_message"]),
            ("Tidings CPU ms/message by process", result["process_cpu_ms_per_message"]),
            ("SMSC CPU ms/message", result["smsc_cpu_ms_per_message"]),
            ("load generator CPU ms/message", result["loadgen_cpu_ms_per_message"]),
            (
                "RSS MiB min / max / last",
                "; ".join(
                    f"{r.get('rss_min_mib')} / {r.get('rss_max_mib')} / {r.get('rss_last_mib')}"
                    for r in result["rss_mib"]
                ),
            ),
            ("other cores", cpu["other_cores"]),
        ],
        result,
    )


if __name__ == "__main__":
    main()
