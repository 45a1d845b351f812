"""The retention sweep on PostgreSQL: redact (or delete) N expired messages.

Generates N messages accepted through January 2026 (with one history event each) into a
fresh database with COPY (they fill January's partitions), then runs
`tidings retention run --now 2026-06-01T00:00:00Z` as an operator would: under `baseline`
the message text (90 days) is due and the numbers (12 months) are not, so the sweep
redacts N bodies. `--scenario delete` runs under a copy of `baseline` whose
`message_metadata` rule deletes the message instead, so the
sweep removes N messages and their N events.

The time reported is the sweep's own (its run's `started_at` to `finished_at`, from the
audit), and the wall time of the whole command (interpreter start, migrations check,
policy check) beside it.

    python bench/retention_sweep.py --messages 1000000
    python bench/retention_sweep.py --messages 1000000 --scenario delete
    python bench/retention_sweep.py --messages 1000000 --fillfactor 50
    python bench/retention_sweep.py --messages 10000000 --batch 50000      # the spec's size
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    DEFAULT_PG_ADMIN_URL,
    _pg_admin,
    _pg_url,
    cpu_snapshot,
    cpu_used,
    report,
    tidings_command,
)

from tidings.core.ids import new_id
from tidings.store.database import Database
from tidings.store.partitions import Month, ensure_months

ACCOUNT = "acc_bench0000000000000000000000"
ACCEPTED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = "2026-06-01T00:00:00Z"
COLUMNS = (
    "id, account_id, direction, channel, sender_enc, sender_index, recipient_enc, "
    "recipient_index, encoding, segments, status, attempts, created_at, updated_at"
)


def generate(url: str, count: int) -> float:
    """COPY `count` delivered messages accepted through January 2026, and their texts and
    events; returns the seconds it took. January's partitions are made first, as `serve`
    would have made them before the month began."""
    started = time.perf_counter()
    db = Database(url)
    try:
        with db.write() as conn:
            ensure_months(conn, [Month.of(ACCEPTED)])
    finally:
        db.dispose()
    blob = os.urandom(60)  # stands in for ciphertext: the sweep never decrypts
    index = os.urandom(16)
    step = timedelta(days=31) / count
    ids = [new_id("msg", ACCEPTED + step * n) for n in range(count)]
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY messages ({COLUMNS}) FROM STDIN") as copy:
                for n, message_id in enumerate(ids):
                    at = ACCEPTED + step * n
                    copy.write_row(
                        (
                            message_id,
                            ACCOUNT,
                            "outbound",
                            "sms",
                            blob,
                            index,
                            blob,
                            index,
                            "gsm7",
                            1,
                            "delivered",
                            1,
                            at,
                            at,
                        )
                    )
            with cur.copy("COPY message_bodies (message_id, body_enc) FROM STDIN") as copy:
                for message_id in ids:
                    copy.write_row((message_id, blob))
            with cur.copy("COPY message_events (message_id, status, at) FROM STDIN") as copy:
                for message_id in ids:
                    copy.write_row((message_id, "delivered", ACCEPTED))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE messages")
        conn.execute("VACUUM ANALYZE message_events")
        conn.execute("VACUUM ANALYZE message_bodies")
    return time.perf_counter() - started


def from_template(admin: str, template: str, name: str, count: int) -> float:
    """Copy `template` (generated first if missing) into `name`; returns the seconds
    generation took, 0 for a copy."""
    with psycopg.connect(admin, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        exists = conn.execute(query, (template,)).fetchone()
    took = 0.0
    if exists is None:
        _pg_admin(admin, [f'CREATE DATABASE "{template}"'])
        turl = _pg_url(admin, template)
        env = {**os.environ, "TIDINGS_DATABASE_URL": turl}
        subprocess.run([*tidings_command(), "db", "upgrade"], env=env, check=True)
        took = generate(turl, count)
    with psycopg.connect(_pg_url(admin, template)) as conn:
        found = conn.execute("SELECT count(*) FROM messages").fetchone()[0]  # type: ignore[index]
    if found != count:
        raise SystemExit(f"template {template} holds {found} messages, not {count}")
    _pg_admin(
        admin,
        [
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
        ],
    )
    return took


def delete_policy(directory: Path) -> Path:
    """`baseline` with message_metadata set to delete the message after 90 days."""
    from importlib import resources

    text = resources.files("tidings.privacy").joinpath("presets", "baseline.toml").read_text()
    old = (
        'period = "12m"\nanchor = "collected"\naction = "pseudonymise"\n'
        'fields = ["messages.sender_enc", "messages.recipient_enc", "messages.reference"]'
    )
    if old not in text:
        raise SystemExit("the baseline preset changed: update delete_policy()")
    text = text.replace(old, 'period = "90d"\nanchor = "collected"\naction = "delete"')
    text = text.replace('name = "baseline"', 'name = "bench-delete"', 1)
    path = directory / "policy.toml"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--scenario", choices=("redact", "delete"), default="redact")
    parser.add_argument("--batch", type=int, default=10_000, help="[privacy] retention_batch")
    parser.add_argument(
        "--workers", type=int, default=2, help="[privacy] retention_workers (PostgreSQL)"
    )
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--pg-database", default="tidings_bench_retention")
    parser.add_argument(
        "--fillfactor",
        type=int,
        default=None,
        help="set the messages table's fillfactor before generating (e.g. 50: room in each "
        "page for the redacted version, so the update is HOT and touches no index)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--template",
        help="generate into this database once and copy it for each run (generating "
        "10,000,000 messages takes minutes; a copy, seconds). Same --messages every time.",
    )
    args = parser.parse_args()

    admin, name = args.pg_admin_url, args.pg_database
    url = _pg_url(admin, name)
    generated: float | None = None
    if args.template:
        generated = from_template(admin, args.template, name, args.messages)
    else:
        _pg_admin(admin, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'])
    work = Path(tempfile.mkdtemp(prefix="tidings-bench-retention-"))
    config = work / "tidings.toml"
    config.write_text(
        f"[privacy]\nretention_batch = {args.batch}\nretention_workers = {args.workers}\n"
    )
    env = {
        **os.environ,
        "TIDINGS_DATABASE_URL": url,
        "TIDINGS_DATA_DIR": str(work),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "TIDINGS_POLICY": str(delete_policy(work)) if args.scenario == "delete" else "baseline",
    }
    tidings = [*tidings_command()]
    try:
        subprocess.run([*tidings, "db", "upgrade", "--config", str(config)], env=env, check=True)
        if generated is None:
            if args.fillfactor is not None:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"ALTER TABLE messages SET (fillfactor = {int(args.fillfactor)})")
            generated = generate(url, args.messages)
        dry_started = time.perf_counter()
        dry = subprocess.run(
            [
                *tidings,
                "retention",
                "run",
                "--dry-run",
                "--now",
                NOW,
                "--json",
                "--config",
                str(config),
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        dry_wall = time.perf_counter() - dry_started
        before = cpu_snapshot(os.getpid(), "postgres")
        started = time.perf_counter()
        run = subprocess.run(
            [*tidings, "retention", "run", "--now", NOW, "--json", "--config", str(config)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        cpu = cpu_used(before, cpu_snapshot(os.getpid(), "postgres"))
        swept = json.loads(run.stdout)
        with psycopg.connect(url) as conn:
            started_at, finished_at = conn.execute(
                "SELECT started_at, finished_at FROM retention_runs WHERE id = %s",
                (swept["run_id"],),
            ).fetchone()  # type: ignore[misc]
            left = conn.execute("SELECT count(*) FROM message_bodies").fetchone()[0]  # type: ignore[index]
        sweep_seconds = (finished_at - started_at).total_seconds()
        counts = {
            f"{e['rule']}/{e['data_set']}/{e['action']}": e["count"]
            for e in swept["entries"]
            if e["count"]
        }
        due = {
            f"{e['rule']}/{e['data_set']}/{e['action']}": e["count"]
            for e in json.loads(dry.stdout)["entries"]
            if e["count"]
        }
        if left != 0 or due != counts:
            raise SystemExit(f"the sweep left {left} bodies; dry run {due}, run {counts}")
        changed = counts.get(
            "message_content/message_bodies/redact"
            if args.scenario == "redact"
            else "message_metadata/messages/delete",
            0,
        )
        rows = [
            ("messages generated (COPY)", args.messages),
            ("generation s", round(generated, 1)),
            ("dry run s (command wall)", round(dry_wall, 1)),
            (f"messages {'redacted' if args.scenario == 'redact' else 'deleted'}", changed),
            ("sweep s (audit start→end)", round(sweep_seconds, 2)),
            ("command wall s", round(wall, 2)),
            ("messages/s", round(changed / sweep_seconds)),
            ("projected s for 10,000,000", round(10_000_000 / (changed / sweep_seconds), 1)),
            ("fillfactor", args.fillfactor or "default (100)"),
            ("other cores", cpu["other_cores"]),
        ]
        report(
            f"retention sweep ({args.scenario}, PostgreSQL)",
            rows,
            {
                "messages": args.messages,
                "scenario": args.scenario,
                "batch": args.batch,
                "workers": args.workers,
                "fillfactor": args.fillfactor,
                "sweep_seconds": sweep_seconds,
                "command_seconds": wall,
                "dry_run_seconds": dry_wall,
                "counts": counts,
                **cpu,
            },
        )
    finally:
        if not args.keep:
            _pg_admin(admin, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


if __name__ == "__main__":
    main()
