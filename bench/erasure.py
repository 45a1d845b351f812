"""Erasing one data subject among N messages: the time of `erase_subject`.

Generates N messages of one account into a fresh database (COPY on PostgreSQL, the
driver's executemany on SQLite), spread over N/10 subjects with a key record each, with a
delivered status webhook for every tenth message, plus
`--subject-messages` messages (outbound and inbound) of one target subject whose key is
real (minted by Tidings, its material in the key vault). Then erases the target through
`ErasureService.erase_subject`, as `tidings privacy erase` and the operator API do, and
reports the time of a dry run and of the erasure, and checks what it did.

The erasure touches only the subject's rows: its key (O(1) in the vault and `data_keys`,
found by the `(account_id, subject_index)` index), its messages (found by the
`(account_id, recipient_index)` and `(account_id, sender_index)` indexes) and their work
and webhooks (by message id). So its time should not grow with N.

    python bench/erasure.py --db postgres --messages 1000000
    python bench/erasure.py --db sqlite --messages 1000000
    python bench/erasure.py --db postgres --messages 10000000      # the spec's size (slow to build)
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_PG_ADMIN_URL, _pg_admin, _pg_url, report

from tidings.core.clock import ManualClock
from tidings.core.config import Settings
from tidings.core.ids import new_id
from tidings.runtime import build_runtime
from tidings.store.database import Database
from tidings.store.partitions import Month, ensure_months

TARGET = "+31612345678"
START = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = (
    "id",
    "account_id",
    "direction",
    "channel",
    "sender_enc",
    "sender_index",
    "recipient_enc",
    "recipient_index",
    "encoding",
    "segments",
    "status",
    "attempts",
    "created_at",
    "updated_at",
)
KEY_COLUMNS = ("id", "account_id", "scope", "subject_index", "created_at")


def _accepted(n: int, count: int) -> datetime:
    """The n-th message's time: the messages are spread over 2026 (twelve monthly
    partitions on PostgreSQL)."""
    return START + timedelta(days=365) / count * n


def _message_ids(count: int) -> list[str]:
    return [new_id("msg", _accepted(n, count)) for n in range(count)]


def _rows(account: str, count: int, target: bytes, target_count: int, ids: list[str]) -> Any:
    """Messages: every 10 share a subject; `target_count` of them (spread out) are the target's."""
    blob = os.urandom(60)  # stands in for ciphertext: erasure never decrypts
    own = os.urandom(16)
    step = max(1, count // max(1, target_count))
    index = os.urandom(16)
    for n in range(count):
        if n % 10 == 0:
            index = os.urandom(16)
        at = _accepted(n, count)
        mine = n % step == 0 and n // step < target_count
        subject = target if mine else index
        inbound = mine and n // step % 2 == 1
        yield (
            ids[n],
            account,
            "inbound" if inbound else "outbound",
            "sms",
            blob,
            subject if inbound else own,
            blob,
            own if inbound else subject,
            "gsm7",
            1,
            "received" if inbound else "delivered",
            1,
            at,
            at,
        )


def _body_rows(ids: list[str]) -> Any:
    blob = os.urandom(60)
    for message_id in ids:
        yield (message_id, blob)


def _webhook_rows(account: str, ids: list[str]) -> Any:
    """A status webhook for every tenth message, delivered."""
    payload = os.urandom(80)
    for n in range(0, len(ids), 10):
        yield (
            f"whk_{n:026d}",
            account,
            ids[n],
            "message.status",
            "https://example.com/hooks",
            payload,
            "delivered",
            1,
            START,
            START,
        )


WEBHOOK_COLUMNS = (
    "id",
    "account_id",
    "message_id",
    "event",
    "url",
    "payload_enc",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def _key_rows(account: str, count: int) -> Any:
    for n in range(count // 10):
        yield (f"dk_{n:026d}", account, "subject", os.urandom(16), START)


def generate_postgres(url: str, account: str, count: int, target: bytes, targets: int) -> None:
    db = Database(url)
    try:
        with db.write() as conn:  # as serve would have made them, month by month
            ensure_months(conn, [Month(2026, m) for m in range(1, 13)])
    finally:
        db.dispose()
    ids = _message_ids(count)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY messages ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in _rows(account, count, target, targets, ids):
                    copy.write_row(row)
            with cur.copy("COPY message_bodies (message_id, body_enc) FROM STDIN") as copy:
                for row in _body_rows(ids):
                    copy.write_row(row)
            with cur.copy(f"COPY data_keys ({', '.join(KEY_COLUMNS)}) FROM STDIN") as copy:
                for row in _key_rows(account, count):
                    copy.write_row(row)
            columns = ", ".join(WEBHOOK_COLUMNS)
            with cur.copy(f"COPY webhook_deliveries ({columns}) FROM STDIN") as copy:
                for row in _webhook_rows(account, ids):
                    copy.write_row(row)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE messages")
        conn.execute("VACUUM ANALYZE message_bodies")
        conn.execute("VACUUM ANALYZE data_keys")
        conn.execute("VACUUM ANALYZE webhook_deliveries")


def generate_sqlite(path: str, account: str, count: int, target: bytes, targets: int) -> None:
    def text(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row
        )

    ids = _message_ids(count)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            (text(r) for r in _rows(account, count, target, targets, ids)),
        )
        conn.executemany(
            "INSERT INTO message_bodies (message_id, body_enc) VALUES (?, ?)", _body_rows(ids)
        )
        conn.executemany(
            f"INSERT INTO data_keys ({', '.join(KEY_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
            (text(r) for r in _key_rows(account, count)),
        )
        conn.executemany(
            f"INSERT INTO webhook_deliveries ({', '.join(WEBHOOK_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(WEBHOOK_COLUMNS))})",
            (text(r) for r in _webhook_rows(account, ids)),
        )
    conn.execute("ANALYZE")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--subject-messages", type=int, default=20)
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--pg-database", default="tidings_bench_erasure")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tidings-bench-erasure-"))
    if args.db == "postgres":
        name = args.pg_database
        _pg_admin(
            args.pg_admin_url, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"']
        )
        url = _pg_url(args.pg_admin_url, name)
    else:
        url = f"sqlite:///{work / 'tidings.db'}"
    settings = Settings(
        data_dir=work,
        database_url=url,
        master_key_env=base64.b64encode(os.urandom(32)).decode(),
    )
    clock = ManualClock(START + timedelta(days=30))
    rt = build_runtime(settings, clock)
    try:
        account = rt.accounts.create_account("Bench")["account_id"]
        index = rt.crypto.blind_index(account, TARGET)
        started = time.perf_counter()
        if args.db == "postgres":
            generate_postgres(
                url.replace("+psycopg", ""), account, args.messages, index, args.subject_messages
            )
        else:
            generate_sqlite(
                str(work / "tidings.db"), account, args.messages, index, args.subject_messages
            )
        generated = time.perf_counter() - started
        key = rt.crypto.subject_key(account, index, clock.now())  # a real key, in the vault
        with rt.db.write() as conn:
            from tidings.store.keys import insert_minted_keys

            insert_minted_keys(conn, [key.row] if key.row else [])
        rt.crypto.confirm([key.key_id])

        started = time.perf_counter()
        dry = rt.erasure.erase_subject(account, TARGET, requested_by="bench", dry_run=True)
        dry_seconds = time.perf_counter() - started
        started = time.perf_counter()
        done = rt.erasure.erase_subject(account, TARGET, requested_by="bench")
        seconds = time.perf_counter() - started
        if (done.messages, done.keys_destroyed) != (args.subject_messages, 1) or dry.messages != (
            done.messages
        ):
            raise SystemExit(f"unexpected erasure: dry run {dry}, erasure {done}")
        report(
            f"erase one subject ({args.db}, {args.messages:,} messages)",
            [
                ("messages in the database", args.messages + 0),
                ("subject keys in the database", args.messages // 10 + 1),
                ("webhook deliveries in the database", args.messages // 10),
                ("the subject's messages", done.messages),
                ("generation s", round(generated, 1)),
                ("dry run ms", round(dry_seconds * 1000, 1)),
                ("erasure ms", round(seconds * 1000, 1)),
                ("target <= 1 s", "met" if seconds <= 1 else "NOT met"),
            ],
            {
                "db": args.db,
                "messages": args.messages,
                "subject_messages": done.messages,
                "dry_run_seconds": dry_seconds,
                "erasure_seconds": seconds,
                "met": seconds <= 1,
            },
        )
    finally:
        rt.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if args.db == "postgres":
                _pg_admin(
                    args.pg_admin_url,
                    [f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)'],
                )


if __name__ == "__main__":
    main()
