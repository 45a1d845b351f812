"""Crash safety: SIGKILL `tidings serve` in the middle of a 10,000-message batch, start it again.

From the product spec: every accepted message reaches exactly one final state, no message
whose acknowledgement by the connector was recorded before the kill is sent again, and the
number re-sent (the submits the connector had acknowledged but whose outcome was not yet
committed) is reported and never exceeds the connector's window.

The simulator journals `S <connector_ref> <message_id>` for every submit it acknowledges (and
`R`/`A` lines for receipts emitted and recorded) in a file that survives the kill, so the test
counts dispatches across the restart. Run with `-s` to see the numbers measured; they are also
recorded as JUnit properties.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from tests.conftest import fresh_postgres_database
from tidings.channels.base import Inbound, OutboundMessage, Receipt
from tidings.channels.simulator.connector import SimulatorConnector, SimulatorRules
from tidings.domain.status import FINAL
from tidings.store.tables import dispatch_queue, message_events, messages

BATCH = 10_000
WINDOW = 200
TPS = 2_000  # 10,000 messages take about five seconds to dispatch
KILL_AT_SENDS = 2_000  # acknowledged submits in the journal when the process is killed
# What a restarted node waits, on PostgreSQL, before it takes over the dead run's leases
# (another live node could hold them, so they are not released at start as on SQLite).
LEASE_SECONDS = 10
FINISH_TIMEOUT = 120.0
START_TIMEOUT = 30.0


@dataclass
class Journal:
    """The submits the simulator acknowledged, from its durable journal."""

    sends: list[tuple[str, str]] = field(default_factory=list)  # (connector ref, message id)

    @classmethod
    def read(cls, path: Path) -> Journal:
        journal = cls()
        if not path.exists():
            return journal
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "S":
                journal.sends.append((parts[1], parts[2]))
        return journal

    def per_message(self) -> Counter[str]:
        return Counter(message_id for _, message_id in self.sends)


def count_sends(path: Path) -> int:
    if not path.exists():
        return 0
    data = path.read_bytes()
    return data.count(b"\nS ") + (1 if data.startswith(b"S ") else 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Servers:
    """`tidings serve` subprocesses; every one still running is killed at teardown."""

    def __init__(self, env: dict[str, str], config: Path, log: Path) -> None:
        self.env = env
        self.config = config
        self.log = log
        self.running: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tidings", *args],
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()

    def start(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tidings",
                    "serve",
                    "--config",
                    str(self.config),
                    "--port",
                    str(port),
                    "--smpp-port",
                    "0",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.running.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode} at start:\n{self.tail()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer /healthz in {START_TIMEOUT:.0f}s\n{self.tail()}")
            time.sleep(0.05)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgres"])
def crash_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: an SQLite file, or a PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tidings.db'}"
        return
    with fresh_postgres_database("tidings_crash") as url:
        yield url


@pytest.fixture
def servers(crash_database_url: str, tmp_path: Path) -> Iterator[Servers]:
    data_dir = tmp_path / "data"
    journal = tmp_path / "sim.journal"
    config = tmp_path / "tidings.toml"
    config.write_text(
        f"""
[pipeline]
lease_seconds = {LEASE_SECONDS}

[[connectors]]
name = "sim"
type = "simulator"
tps = {TPS}
window = {WINDOW}
latency_ms = 5
journal = "{journal}"

[[routes]]
prefix = "+"
connector = "sim"
"""
    )
    env = {
        **os.environ,
        "TIDINGS_DATA_DIR": str(data_dir),
        "TIDINGS_DATABASE_URL": crash_database_url,
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    group = Servers(env, config, tmp_path / "serve.log")
    try:
        yield group
    finally:
        group.close()


def statuses(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(messages.c.id, messages.c.status).where(messages.c.direction == "outbound")
            )
            return {row.id: row.status for row in rows}
    finally:
        engine.dispose()


def wait_all_final(url: str, expected: int, timeout: float, servers: Servers) -> dict[str, int]:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                counts = {
                    row[0]: int(row[1])
                    for row in conn.execute(
                        select(messages.c.status, func.count()).group_by(messages.c.status)
                    )
                }
            if sum(n for s, n in counts.items() if s in FINAL) >= expected:
                return counts
            time.sleep(0.25)
    finally:
        engine.dispose()
    pytest.fail(f"not every message is final after {timeout:.0f}s: {counts}\n{servers.tail()}")


@pytest.mark.slow
def test_sigkill_mid_batch_resends_at_most_the_window(
    servers: Servers, crash_database_url: str, tmp_path: Path, record_property: Any
) -> None:
    journal_path = tmp_path / "sim.journal"
    account = servers.cli("account", "create", "--name", "Acme", "--json")
    api_key = json.loads(account)["api_key"]

    # --- run 1: accept the batch, kill the process while it dispatches -------------------
    started = time.monotonic()
    proc, url = servers.start()
    numbers = [f"+3161{i:07d}" for i in range(BATCH)]
    response = httpx.post(
        f"{url}/v1/messages/batch",
        json={"to": numbers, "from": "Acme", "body": "Your parcel arrives today."},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=120.0,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (BATCH, 0)
    accepted = {item["id"] for item in body["messages"]}
    assert len(accepted) == BATCH

    deadline = time.monotonic() + 60
    while count_sends(journal_path) < KILL_AT_SENDS:
        assert proc.poll() is None, f"serve died on its own:\n{servers.tail()}"
        assert time.monotonic() < deadline, f"dispatch did not start:\n{servers.tail()}"
        time.sleep(0.002)
    servers.kill(proc)
    killed = time.monotonic()

    # What was durable at the kill: the journal and the database, with nothing running.
    before = Journal.read(journal_path)
    at_kill = statuses(crash_database_url)
    acked_before = set(before.per_message())
    committed = {m for m, s in at_kill.items() if s == "sent" or s in FINAL}
    sending = {m for m, s in at_kill.items() if s == "sending"}
    in_flight = acked_before - committed  # acknowledged by the connector, outcome not recorded
    assert set(at_kill) == accepted
    assert len(acked_before) < BATCH, "the kill came after the whole batch was dispatched"
    assert max(before.per_message().values()) == 1, "a message was sent twice before the kill"
    assert committed <= acked_before, "a message is recorded as sent that was never acknowledged"
    assert in_flight <= sending, "an acknowledged message is neither sending nor recorded"
    assert len(in_flight) <= WINDOW

    # --- run 2: start again on the same data; everything must finish -------------------------
    servers.start()
    restarted = time.monotonic()
    counts = wait_all_final(crash_database_url, BATCH, FINISH_TIMEOUT, servers)
    finished = time.monotonic()

    after = Journal.read(journal_path)
    per_message = after.per_message()
    resent = {m for m, n in per_message.items() if n > 1}
    final = statuses(crash_database_url)
    engine = create_engine(crash_database_url)
    try:
        with engine.connect() as conn:
            queue_left = conn.execute(select(func.count()).select_from(dispatch_queue)).scalar()
            refs = {
                row.id: row.connector_message_id
                for row in conn.execute(select(messages.c.id, messages.c.connector_message_id))
            }
            final_events = Counter(
                row.message_id
                for row in conn.execute(
                    select(message_events.c.message_id).where(
                        message_events.c.status.in_(sorted(FINAL)),
                        message_events.c.detail.is_(None)
                        | message_events.c.detail.not_like("ignored:%"),
                    )
                )
            )
    finally:
        engine.dispose()

    summary = {
        "database": make_url(crash_database_url).get_backend_name(),
        "acknowledged_at_kill": len(acked_before),
        "sent_or_later_at_kill": len(committed),
        "sending_at_kill": len(sending),
        "in_flight_at_kill": len(in_flight),
        "resent": len(resent),
        "window": WINDOW,
        "dispatches": len(after.sends),
        "seconds_to_kill": round(killed - started, 2),
        "seconds_restart_to_final": round(finished - restarted, 2),
        "seconds_total": round(finished - started, 2),
    }
    for key, value in summary.items():
        record_property(key, value)
    print(f"\ncrash-safety: {summary}")

    # every accepted message reaches exactly one final state, and nothing is stuck
    assert set(final) == accepted
    assert counts == {"delivered": BATCH}, counts
    assert queue_left == 0
    assert all(final_events[m] == 1 for m in accepted), "a message reached a final state twice"
    # every message was dispatched, and its recorded reference is one the connector gave it
    assert set(per_message) == accepted
    refs_of: dict[str, set[str]] = {}
    for ref, message_id in after.sends:
        refs_of.setdefault(message_id, set()).add(ref)
    assert all(refs[m] in refs_of[m] for m in accepted)
    # no message whose acknowledgement was recorded before the kill went out again ...
    assert not resent & committed, sorted(resent & committed)[:5]
    assert all(per_message[m] == 1 for m in committed)
    # ... re-sends are only the submits in flight at the kill, and never more than the window
    assert resent <= in_flight
    assert max(per_message.values()) <= 2
    assert len(resent) <= WINDOW
    assert len(after.sends) == BATCH + len(resent)


class _Sink:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    def receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)

    def inbound(self, message: Inbound) -> None:
        raise AssertionError("no inbound expected")


async def test_simulator_owes_a_receipt_until_the_pipeline_has_recorded_it(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "sim.journal"
    rules = SimulatorRules(latency_ms=0)
    first, sink = SimulatorConnector("sim", rules, journal, lambda: datetime.now(UTC)), _Sink()
    await first.start(sink)
    refs: list[str | None] = []
    for n in (1, 2):
        message = OutboundMessage(f"msg_{n}", "sms", "Acme", "+31612345678", "hi", "gsm7", 1)
        refs.append((await first.send(message)).connector_message_id)
    await asyncio.sleep(0.01)
    assert sorted(r.connector_message_id for r in sink.receipts) == sorted(refs)
    # the pipeline committed the first receipt only, then the process died (no stop())
    recorded = next(r for r in sink.receipts if r.connector_message_id == refs[0])
    assert recorded.recorded is not None
    recorded.recorded()

    second, again = SimulatorConnector("sim", rules, journal, lambda: datetime.now(UTC)), _Sink()
    await second.start(again)
    await asyncio.sleep(0.01)
    assert [r.connector_message_id for r in again.receipts] == [refs[1]]
    await second.stop()
    await first.stop()
