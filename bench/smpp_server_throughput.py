"""SMPP submit rate with receipts: one smpp34 client (another process) submits N one-part
messages asking for receipts (registered_delivery 1, 200 in flight) to Tidings' SMPP
server and waits for every receipt (deliver_sm) to come back.

    python bench/smpp_server_throughput.py --db sqlite --messages 5000
    python bench/smpp_server_throughput.py --db postgres --messages 5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import (
    add_common_arguments,
    cpu_snapshot,
    cpu_used,
    free_port,
    report,
    run_server,
    server_config,
    tidings_command,
)

ESME = Path(__file__).resolve().parent.parent / "tests" / "smpp_server" / "smpp34_esme.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--messages", type=int, default=5_000)
    args = parser.parse_args()
    config = server_config(args)
    config.smpp_port = free_port()

    with run_server(config) as server:
        env = {
            **os.environ,
            "TIDINGS_DATA_DIR": str(server.data_dir),
            "TIDINGS_DATABASE_URL": server.database_url,
        }
        env.pop("TIDINGS_MASTER_KEY", None)
        created = subprocess.run(
            [
                *tidings_command(),
                "smpp",
                "credentials",
                "create",
                "--account",
                server.account_id,
                "--max-tps",
                "100000",
                "--json",
            ],
            env=env,
            capture_output=True,
            check=True,
            text=True,
        )
        login = json.loads(created.stdout)
        before = cpu_snapshot(server.pids, args.db)
        esme = subprocess.run(
            [
                sys.executable,
                str(ESME),
                "bench",
                str(config.smpp_port),
                login["system_id"],
                login["password"],
                str(args.messages),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        after = cpu_snapshot(server.pids, args.db)
        lines = [json.loads(line) for line in esme.stdout.splitlines() if line.startswith("{")]
        done = next((line for line in lines if line["step"] == "done"), None)
        if done is None:
            raise SystemExit(f"the smpp34 client did not finish: {lines} {esme.stderr[-2000:]}")
        count = done["count"]
        submit_rate = count / done["submit_seconds"]
        receipt_rate = count / done["receipts_seconds"]
        cpu = cpu_used(before, after)
        report(
            f"SMPP submit with receipts ({args.db})",
            [
                ("messages", count),
                ("refused", done["refused"]),
                ("receipts received", done["receipts"]),
                ("submit_sm accepted/s", submit_rate),
                ("submit -> receipt, messages/s", receipt_rate),
                ("server cores", cpu["server_cores"]),
                ("other cores", cpu["other_cores"]),
            ],
            {
                "db": args.db,
                "messages": count,
                "refused": done["refused"],
                "receipts": done["receipts"],
                "submit_per_s": round(submit_rate, 1),
                "end_to_end_per_s": round(receipt_rate, 1),
                **cpu,
            },
        )


if __name__ == "__main__":
    main()
