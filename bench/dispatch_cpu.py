"""CPU per message of the worker's three transactions, in process: claim, `sent`, receipt.

Accepts `--messages` through the batch API's ASGI app (no sockets), then repeats, `--batch`
messages at a time, what the worker does for each message of an SMPP run without the
SMPP session itself: the dispatcher's claim (`queued` -> `sending`, the text decrypted),
the commit of the submit outcomes (`sent`, the part rows), and the event recorder's
transaction for their receipts (`delivered`). The process CPU time of each step over the
messages is printed, and on PostgreSQL the server's CPU time in each step as well (the
`postgres` processes' time, sampled around each step). No other process takes part, so
on a shared machine the numbers stay comparable between commits where end-to-end rates
do not; the batch size is fixed here, while in a live worker it follows the load.

    python bench/dispatch_cpu.py --db sqlite --messages 20000 --batch 50
    python bench/dispatch_cpu.py --db postgres --messages 20000 --batch 50 --pg-database NAME
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_accept_cpu import batch, call
from common import DEFAULT_PG_ADMIN_URL, fresh_database, postgres_cpu_seconds

from tidings.api.app import create_app
from tidings.channels.base import PartResult, Receipt, SendResult
from tidings.core.config import Settings
from tidings.core.gc_pauses import collect_young_less_often, freeze_survivors
from tidings.pipeline.events import _Waiting
from tidings.runtime import build_runtime

CONNECTOR = "op1"


async def accept(rt: Any, total: int) -> None:
    app = create_app(rt, run_workers=False)
    account = rt.accounts.create_account("Bench")["account_id"]
    key = rt.accounts.create_api_key(account)["api_key"].encode()
    async with app.router.lifespan_context(app):
        for start in range(0, total, 5000):
            payload = batch(start, min(5000, total - start))
            if await call(app, key, payload, "/v1/messages/batch") != 202:
                raise SystemExit("a batch was refused")


def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            database_url=url,
            master_key_env=base64.b64encode(os.urandom(32)).decode(),
        )
        accepting = build_runtime(settings)
        try:
            asyncio.run(accept(accepting, args.messages))
        finally:
            accepting.close()
        # A runtime of its own, as the worker process has: no key cached from the accept.
        rt = build_runtime(settings, migrate=False)
        # The collector as `tidings serve` sets it: young collections less often, and what
        # start-up made out of its sight.
        collect_young_less_often()
        freeze_survivors()
        try:
            dispatcher, events = rt.dispatcher, rt.events
            spent = {"claim": 0.0, "sent": 0.0, "receipt": 0.0}
            server = dict.fromkeys(spent, 0.0)
            server_cpu = postgres_cpu_seconds if args.db == "postgres" else lambda: 0.0
            done = 0
            reference = 0
            while True:
                before = server_cpu()
                started = time.process_time()
                jobs = dispatcher._claim(args.batch)
                claimed = time.process_time()
                spent["claim"] += claimed - started
                server["claim"] += server_cpu() - before
                if not jobs:
                    break
                refs: list[str] = []
                for job in jobs:
                    reference += 1
                    ref = f"{reference:08x}"
                    refs.append(ref)
                    job.connector = CONNECTOR
                    job.result = SendResult(
                        "accepted", connector_message_id=ref, parts=(PartResult(1, ref, "sent"),)
                    )
                before = server_cpu()
                started = time.process_time()
                dispatcher._commit(jobs)
                spent["sent"] += time.process_time() - started
                server["sent"] += server_cpu() - before
                now = rt.clock.now()
                receipts = [
                    _Waiting(Receipt(CONNECTOR, ref, "delivered", now), 0.0) for ref in refs
                ]
                before = server_cpu()
                started = time.process_time()
                unmatched = events._record(receipts, [])
                spent["receipt"] += time.process_time() - started
                server["receipt"] += server_cpu() - before
                if unmatched:
                    raise SystemExit(f"{len(unmatched)} receipts matched no message")
                done += len(jobs)
            with rt.db.read() as conn:
                rows = conn.exec_driver_sql("SELECT status, count(*) FROM messages GROUP BY status")
                statuses = {status: count for status, count in rows}
        finally:
            rt.close()
    if statuses != {"delivered": args.messages}:
        raise SystemExit(f"not every message was delivered: {statuses}")
    result: dict[str, Any] = {
        "db": args.db,
        "messages": done,
        "batch": args.batch,
        **{f"{step}_us_per_message": round(s * 1e6 / done, 1) for step, s in spent.items()},
        "total_us_per_message": round(sum(spent.values()) * 1e6 / done, 1),
    }
    if args.db == "postgres":
        for step, seconds in server.items():
            result[f"server_{step}_us_per_message"] = round(seconds * 1e6 / done, 1)
        result["server_total_us_per_message"] = round(sum(server.values()) * 1e6 / done, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--pg-database", default="tidings_bench_dispatch_cpu")
    args = parser.parse_args()
    if args.messages < 1 or args.batch < 1:
        parser.error("--messages and --batch must be at least 1")
    with fresh_database(args.db, args.pg_admin_url, args.pg_database) as url:
        result = measure(args, url)
    for key, value in result.items():
        print(f"{key:>28}  {value}")
    print("RESULT " + json.dumps({"benchmark": "dispatch_cpu", **result}, sort_keys=True))


if __name__ == "__main__":
    main()
