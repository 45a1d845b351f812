"""Consent checks on batch accept, in process: transactional vs marketing, and statements.

Builds a runtime on a fresh database, records marketing consent for every recipient of the
marketing batches in one transaction, then times `AcceptService.accept_batch` for batches
of transactional messages (no check: the default policy), of marketing messages whose
recipients all consented (one check statement, all accepted) and of marketing messages
with no consent (all refused). It counts the SQL statements each batch sends, which shows
that the check is one statement per batch whatever its size.

    python bench/consent_accept.py --db sqlite --batches 4 --batch-size 10000
    python bench/consent_accept.py --db postgres --batches 4 --batch-size 10000
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import fresh_database
from sqlalchemy import event

from tidings.core.config import Settings
from tidings.pipeline.accept import MessageRequest
from tidings.runtime import Runtime, build_runtime

# Run against a commit from before consent existed, only the transactional case is measured.
HAS_PURPOSE = "purpose" in MessageRequest.__dataclass_fields__

PG_ADMIN_URL = os.environ.get(
    "TIDINGS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def recipient(n: int) -> str:
    return f"+3161{n:07d}"


def requests(start: int, count: int, purpose: str) -> list[MessageRequest]:
    extra: dict[str, Any] = {"purpose": purpose} if HAS_PURPOSE else {}
    return [
        MessageRequest(to=recipient(n), sender="Bench", body=f"Offer {n}", **extra)
        for n in range(start, start + count)
    ]


class StatementCounter:
    def __init__(self, rt: Runtime) -> None:
        self.count = 0
        event.listen(rt.db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


def timed(
    rt: Runtime, counter: StatementCounter, account: str, batches: list[list[MessageRequest]]
) -> dict[str, float]:
    accepted = refused = 0
    statements: list[int] = []
    cpu = time.process_time()
    started = time.perf_counter()
    for batch in batches:
        before = counter.count
        ok, errors = rt.accept.accept_batch(account, batch)
        statements.append(counter.count - before)
        accepted += len(ok)
        refused += len(errors)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    total = sum(len(b) for b in batches)
    return {
        "messages": total,
        "accepted": accepted,
        "refused": refused,
        "seconds": round(seconds, 3),
        "messages_per_s": round(total / seconds, 1),
        "cpu_us_per_message": round(cpu / total * 1e6, 1),
        # min..max: the opt-out policy cache refreshes (one query) every 5 s, in some batches
        "statements_per_batch": f"{min(statements)}..{max(statements)}",
    }


def grant_all(rt: Runtime, account: str, numbers: list[str]) -> None:
    from tidings.pipeline.opt_out import ledger_row
    from tidings.store import consent as consent_store

    now = rt.clock.now()
    rows = [
        ledger_row(
            rt.crypto,
            account_id=account,
            number_index=rt.crypto.blind_index(account, number),
            contact_id=None,
            channel="sms",
            purpose="marketing",
            action="granted",
            basis="consent",
            source="import",
            evidence=None,
            policy_version="bench@1",
            occurred_at=now,
            now=now,
        )
        for number in numbers
    ]
    with rt.db.write() as conn:
        consent_store.insert_events(conn, rows)


def with_database(db: str, run: Callable[[str], None]) -> None:
    with fresh_database(db, PG_ADMIN_URL, "tidings_bench_consent_accept") as url:
        run(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    size, count = args.batch_size, args.batches

    def run(url: str) -> None:
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(
                data_dir=Path(data),
                database_url=url,
                master_key_env=base64.b64encode(os.urandom(32)).decode(),
            )
            rt = build_runtime(settings)
            try:
                account = rt.accounts.create_account("Bench")["account_id"]
                counter = StatementCounter(rt)
                marketing_start = 10 * size * count
                rt.accept.accept_batch(account, requests(size * count * 30, size, "transactional"))
                results = {
                    "transactional": timed(
                        rt,
                        counter,
                        account,
                        [requests(i * size, size, "transactional") for i in range(count)],
                    ),
                }
                if HAS_PURPOSE:
                    grant_all(
                        rt,
                        account,
                        [
                            recipient(n)
                            for n in range(marketing_start, marketing_start + size * count)
                        ],
                    )
                    results |= {
                        "marketing, all consented": timed(
                            rt,
                            counter,
                            account,
                            [
                                requests(marketing_start + i * size, size, "marketing")
                                for i in range(count)
                            ],
                        ),
                        "marketing, none consented": timed(
                            rt,
                            counter,
                            account,
                            [
                                requests(size * count * 20 + i * size, size, "marketing")
                                for i in range(count)
                            ],
                        ),
                    }
            finally:
                rt.close()
        print(f"consent_accept ({args.db}, {count} x {size}, in process)")
        for name, result in results.items():
            print(f"  {name:<28} {result}")

    with_database(args.db, run)


if __name__ == "__main__":
    main()
