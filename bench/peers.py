"""Tidings, Kannel and Jasmin side by side, end to end, against the same loopback SMSC.

For each peer, in one run, a fresh SMSC process (the scriptable SMSC of the tests:
smpp34's Server, receipts after each submit_sm_resp) on an ephemeral port, then:

    tidings-sqlite, tidings-postgres   POST /v1/messages/batch (bench/smpp_throughput.py)
    kannel                              smsbox's HTTP sendsms, dlr-mask=3 and a dlr-url
    jasmin                              its HTTP API /send, dlr=yes, dlr-level=2, dlr-url

Measured per peer: intake rate (the API's acknowledgements), submits reaching the SMSC per
second during intake, end-to-end messages/s (from the first request to the last final
status: `delivered` committed for Tidings, the last receipt callback for the others), and
CPU ms per message of the peer's own processes, of the SMSC, of the load generator (this
process, with the callback receiver), and of the services the peer needs (PostgreSQL;
Redis and RabbitMQ). A peer that cannot be set up is reported "not measured: <reason>".

    python bench/peers.py                                   # 20,000 messages, every peer
    python bench/peers.py --messages 2000 --peers kannel,jasmin
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    DEFAULT_PG_ADMIN_URL,
    cpu_seconds,
    driver_cpu_seconds,
    machine_busy_seconds,
    source_revision,
    wait_for_quiet,
)
from peer_http import CallbackSink, send_all, wait_for_receipts
from peer_smsc import SMSC_PASSWORD, LoopbackSmsc

PEERS = ("tidings", "kannel", "jasmin")
RESULTS_DIR = BENCH_DIR / "results"


def processes_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds of every live process whose command name is one of `names`."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in names:
                total += cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue
    return total


def pids_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, ValueError):
            continue
    return total


def not_measured(peer: str, reason: str) -> dict[str, Any]:
    print(f"{peer}: not measured: {reason}", file=sys.stderr)
    return {"peer": peer, "measured": False, "reason": reason}


def per_message_ms(seconds: float, messages: int) -> float | None:
    return round(seconds * 1000 / messages, 3) if messages else None


# --- Tidings ------------------------------------------------------------------------------


def measure_tidings(db: str, args: argparse.Namespace) -> dict[str, Any]:
    peer = f"tidings-{db}"
    command = [
        sys.executable,
        str(BENCH_DIR / "smpp_throughput.py"),
        "--db",
        db,
        "--messages",
        str(args.messages),
        "--batch-size",
        str(args.batch_size),
        *(["--split"] if args.split else []),
        "--stall-timeout",
        str(args.stall_timeout),
        "--pg-admin-url",
        args.pg_admin_url,
        "--pg-database",
        args.pg_database,
        "--receipt-delay",
        str(args.receipt_delay),
    ]
    busy0, wall0 = machine_busy_seconds(), time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=args.peer_timeout)
    except subprocess.TimeoutExpired:
        # SIGINT lets it stop its server and SMSC, which run in sessions of their own.
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        return not_measured(peer, f"no result within --peer-timeout {args.peer_timeout:.0f}s")
    machine_cores = (machine_busy_seconds() - busy0) / (time.perf_counter() - wall0)
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
        return not_measured(peer, f"smpp_throughput.py exited {process.returncode}: {tail[0]}")
    raw = json.loads(lines[-1][len("RESULT ") :])
    finals = int(raw["final_counts"].get("delivered", 0))
    seconds = float(raw["seconds_to_all_final"])
    return {
        "peer": peer,
        "measured": True,
        "messages": args.messages,
        "accepted": args.messages,
        "final_receipts": finals,
        "completion": "complete" if finals == args.messages else "incomplete",
        "intake_per_s": raw["intake_per_s"],
        "submitted_per_s_during_intake": raw["submitted_per_s_during_intake"],
        "seconds_to_last_final": seconds,
        "end_to_end_per_s": round(finals / seconds, 1) if seconds else None,
        "peer_cpu_ms_per_message": per_message_ms(raw["server_cpu_s"], finals),
        "services_cpu_ms_per_message": (
            per_message_ms(raw["postgres_cpu_s"], finals) if db == "postgres" else 0.0
        ),
        "services": "PostgreSQL" if db == "postgres" else "",
        "smsc_cpu_ms_per_message": per_message_ms(raw["smsc_cpu_s"], finals),
        "loadgen_cpu_ms_per_message": per_message_ms(raw["driver_cpu_s"], finals),
        "machine_cores": round(machine_cores, 2),
        "other_cores": raw["other_cores"],
        "detail": raw,
    }


# --- gateways driven over HTTP ------------------------------------------------------------


async def measure_http_peer(
    peer: str,
    gateway: Any,
    smsc: LoopbackSmsc,
    sink: CallbackSink,
    services: tuple[str, ...],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Drive `gateway` (target, accepted, pids, host, port) and watch the receipts arrive."""
    total = args.messages
    bind_deadline = time.monotonic() + 30
    while smsc.binds == 0:
        if time.monotonic() > bind_deadline:
            return not_measured(peer, "it did not bind to the SMSC within 30 s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let the session settle (enquire_link, window)

    def snapshot() -> dict[str, float]:
        return {
            "wall": time.perf_counter(),
            "peer": pids_cpu(gateway.pids),
            "smsc": cpu_seconds(smsc.pid),
            "driver": driver_cpu_seconds(),
            "services": processes_cpu(services) if services else 0.0,
            "machine": machine_busy_seconds(),
        }

    before = snapshot()
    started = before["wall"]
    intake = await send_all(
        gateway.host, gateway.port, gateway.target, total, args.concurrency, gateway.accepted
    )
    at_intake = smsc.stats()
    outcome = await wait_for_receipts(
        sink.receipts, intake.accepted, args.stall_timeout, started + args.peer_timeout
    )
    after = snapshot()
    final_stats = smsc.stats()
    finals = len(sink.receipts.final_ids)
    seconds = (sink.receipts.last_final_at - started) if finals else after["wall"] - started
    # CPU per message of the messages that got a final status; when the peer lost every
    # receipt, per message the SMSC received instead (said in `cpu_per`).
    per = finals or final_stats["submits"]
    used = {key: after[key] - before[key] for key in before}
    wall = used.pop("wall")
    other = max(0.0, used["machine"] - used["peer"] - used["smsc"] - used["driver"])
    other -= used["services"]
    return {
        "peer": peer,
        "measured": True,
        "messages": total,
        "accepted": intake.accepted,
        "refused": intake.refused,
        "first_refusal": intake.first_refusal,
        "final_receipts": finals,
        "receipt_callbacks": sink.receipts.callbacks,
        "completion": outcome,
        "intake_per_s": round(intake.accepted / intake.seconds, 1),
        "submitted_at_end_of_intake": at_intake["submits"],
        "submitted_per_s_during_intake": round(at_intake["submits"] / intake.seconds, 1),
        "smsc_submits": final_stats["submits"],
        "smsc_receipts": final_stats["receipts"],
        "seconds_to_last_final": round(seconds, 2),
        "end_to_end_per_s": round(finals / seconds, 1) if finals else 0.0,
        "peer_cpu_ms_per_message": per_message_ms(used["peer"], per),
        "services_cpu_ms_per_message": per_message_ms(used["services"], per),
        "services": " + ".join(services),
        "smsc_cpu_ms_per_message": per_message_ms(used["smsc"], per),
        "loadgen_cpu_ms_per_message": per_message_ms(used["driver"], per),
        "cpu_per": "final status" if finals else "submit_sm received by the SMSC",
        "machine_cores": round(used["machine"] / wall, 2),
        "other_cores": round(max(0.0, other) / wall, 2),
    }


async def measure_kannel(args: argparse.Namespace) -> dict[str, Any]:
    import peer_kannel

    reason = peer_kannel.missing()
    if reason is not None:
        return not_measured("kannel", reason)
    sink = CallbackSink(peer_kannel.KannelPeer.final, b"ok")
    dlr_url = await sink.start()
    try:
        with (
            LoopbackSmsc(receipt_delay=args.receipt_delay) as smsc,
            peer_kannel.run_kannel(smsc.port, SMSC_PASSWORD, dlr_url) as kannel,
        ):
            result = await measure_http_peer("kannel", kannel, smsc, sink, (), args)
            if result.get("completion") not in (None, "complete"):
                result["log_tail"] = kannel.logs()[-2000:]
            return result
    finally:
        await sink.stop()


async def measure_jasmin(args: argparse.Namespace) -> dict[str, Any]:
    import peer_jasmin

    reason = peer_jasmin.missing()
    if reason is not None:
        return not_measured("jasmin", reason)
    try:
        venv = peer_jasmin.ensure_installed(args.jasmin_version)
    except peer_jasmin.SetupFailed as error:
        return not_measured("jasmin", str(error))
    sink = CallbackSink(peer_jasmin.JasminPeer.final, b"ACK/Jasmin")
    dlr_url = await sink.start()
    try:
        with LoopbackSmsc(receipt_delay=args.receipt_delay) as smsc:
            try:
                context = peer_jasmin.run_jasmin(venv, smsc.port, SMSC_PASSWORD, dlr_url)
                jasmin = context.__enter__()
            except peer_jasmin.SetupFailed as error:
                return not_measured("jasmin", str(error))
            try:
                result = await measure_http_peer(
                    "jasmin", jasmin, smsc, sink, peer_jasmin.SERVICES, args
                )
                result["version"] = args.jasmin_version
                if result.get("completion") not in (None, "complete"):
                    result["log_tail"] = jasmin.logs()[-2000:]
                return result
            finally:
                context.__exit__(None, None, None)
    finally:
        await sink.stop()


# --- the run --------------------------------------------------------------------------------


def run_peer(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        if name == "tidings":
            return [measure_tidings(db, args) for db in args.tidings_dbs.split(",")]
        if name == "kannel":
            return [asyncio.run(measure_kannel(args))]
        return [asyncio.run(measure_jasmin(args))]
    except Exception as error:  # a peer's failure is reported, the others still run
        traceback.print_exc()
        return [not_measured(name, f"{type(error).__name__}: {error}")]


GOALS = {"kannel": 1.0, "jasmin": 10.0}  # Tidings end to end, times the peer's rate


def ratios(results: list[dict[str, Any]]) -> dict[str, float]:
    rates = {r["peer"]: r["end_to_end_per_s"] for r in results if r.get("measured")}
    found: dict[str, float] = {}
    for tidings in (peer for peer in rates if peer.startswith("tidings")):
        for other in ("kannel", "jasmin"):
            if rates.get(other):
                found[f"{tidings} / {other}"] = round(rates[tidings] / rates[other], 2)
    return found


COLUMNS = (
    ("peer", "peer"),
    ("intake/s", "intake_per_s"),
    ("submits/s in intake", "submitted_per_s_during_intake"),
    ("end-to-end/s", "end_to_end_per_s"),
    ("s to last final", "seconds_to_last_final"),
    ("finals", "final_receipts"),
    ("peer ms/msg", "peer_cpu_ms_per_message"),
    ("services ms/msg", "services_cpu_ms_per_message"),
    ("SMSC ms/msg", "smsc_cpu_ms_per_message"),
    ("loadgen ms/msg", "loadgen_cpu_ms_per_message"),
    ("other cores", "other_cores"),
)


def table(results: list[dict[str, Any]]) -> str:
    def shown(key: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.3f}" if key.endswith("_ms_per_message") else f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = [
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for result in results:
        if not result.get("measured"):
            lines.append(f"| {result['peer']} | not measured: {result['reason']} |")
            continue
        cells = [shown(key, result.get(key)) for _, key in COLUMNS]
        if result.get("completion") != "complete":
            cells[0] += f" ({result.get('completion')})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--peers", default=",".join(PEERS), help="any of tidings,kannel,jasmin")
    parser.add_argument("--tidings-dbs", default="sqlite,postgres")
    parser.add_argument("--batch-size", type=int, default=5_000, help="Tidings batch size")
    parser.add_argument(
        "--pg-database",
        default="tidings_bench_peers",
        help="the database Tidings' PostgreSQL run creates and drops",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="run Tidings as two processes: serve --role api and serve --role worker",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="HTTP connections")
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=0.05,
        help="seconds the SMSC waits between a submit_sm_resp and its receipt (Kannel drops "
        "a receipt that overtakes its submit_sm_resp on the wire)",
    )
    parser.add_argument(
        "--jasmin-version",
        default="0.11.0",
        help="0.11.1 loses every receipt (DLRMapNotFound, upstream issue jookies/jasmin#1236)",
    )
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument(
        "--peer-timeout",
        type=float,
        default=300.0,
        help="seconds a peer may take; a slower one is reported with the rate it reached",
    )
    parser.add_argument(
        "--stall-timeout", type=float, default=30.0, help="stop waiting after this long idle"
    )
    parser.add_argument(
        "--wait-for-quiet",
        action="store_true",
        help="before each peer, wait (up to 10 min) until the machine is nearly idle",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file (bench/results/...)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PEERS]
    if unknown or args.messages < 1:
        parser.error(f"--peers takes {','.join(PEERS)}; --messages at least 1")

    results: list[dict[str, Any]] = []
    for name in chosen:
        if args.wait_for_quiet:
            wait_for_quiet()
        print(f"measuring {name} with {args.messages:,} messages ...", file=sys.stderr)
        results.extend(run_peer(name, args))

    summary = {
        "benchmark": "peers",
        "revision": source_revision(),
        "messages": args.messages,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "ratios": ratios(results),
        "results": results,
    }
    out = args.out or RESULTS_DIR / f"peers-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, sort_keys=True))
    print()
    print(table(results))
    print()
    for label, value in summary["ratios"].items():
        goal = GOALS[label.rsplit(" ", 1)[-1]]
        verdict = "met" if value >= goal else "NOT met"
        print(f"end-to-end {label}: {value:.2f}x (goal >= {goal:g}x: {verdict})")
    print(f"\nfull results: {out}")


if __name__ == "__main__":
    main()
