"""A contact import killed mid-way (SIGKILL of the importing process) leaves exactly the
batches it committed, each whole, and resumes from its durable cursor to the end: every
row imported once, none twice."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import make_settings
from tidings.contacts.imports import COMMIT_ROWS
from tidings.core.clock import ManualClock, SystemClock
from tidings.runtime import Runtime, build_runtime
from tidings.store.tables import contacts

pytestmark = pytest.mark.slow

ROWS = 30_000
SRC = Path(__file__).resolve().parents[2] / "src"


def _count(rt: Runtime, account_id: str) -> tuple[int, int, int]:
    """Contacts, distinct numbers, and the highest file line written."""
    with rt.db.read() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.count(func.distinct(contacts.c.number_index)),
                func.max(contacts.c.import_line),
            ).where(contacts.c.account_id == account_id)
        ).one()
    return int(row[0]), int(row[1]), int(row[2] or 0)


def test_a_killed_import_resumes_from_its_cursor(database_url: str, tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    data_dir = tmp_path / "data"
    rt = build_runtime(make_settings(database_url, data_dir, master_key_env=key), ManualClock())
    account = rt.accounts.create_account("Acme")["account_id"]
    source = tmp_path / "big.csv"
    with source.open("w") as out:
        out.write("number,first_name\n")
        for i in range(ROWS):
            out.write(f"+3161{i:07d},Name {i}\n")

    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(data_dir),
        "TIDINGS_MASTER_KEY": key,
    }
    command = [sys.executable, "-m", "tidings", "contacts", "import", str(source)]
    worker = subprocess.Popen(
        [*command, "--account", account],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            jobs = rt.imports.list(account)
            if jobs and jobs[0]["rows"]["created"] >= COMMIT_ROWS:
                break
            assert worker.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    (job,) = rt.imports.list(account)
    assert job["state"] == "running", "killed while running"
    assert 0 < job["rows"]["created"] < ROWS
    stored, distinct, last_line = _count(rt, account)
    # Nothing half-imported: exactly the committed batches, all before the cursor.
    assert stored == distinct == job["rows"]["created"]
    assert stored % COMMIT_ROWS == 0
    assert last_line == job["next_line"] - 1
    rt.close()

    # Another worker, once the dead one's lease has run out, resumes from the cursor.
    later = ManualClock(SystemClock().now() + timedelta(hours=1))
    rt = build_runtime(make_settings(database_url, data_dir, master_key_env=key), later)
    try:
        done = rt.imports.run(job["id"])
        assert done["state"] == "completed"
        assert done["resumed"] == 1
        assert done["rows"] == {"created": ROWS, "updated": 0, "failed": 0}
        assert _count(rt, account) == (ROWS, ROWS, ROWS + 1)
        last = rt.contacts.get_by_number(account, f"+3161{ROWS - 1:07d}")
        assert last is not None and last["first_name"] == f"Name {ROWS - 1}"
        assert not list((data_dir / "imports").iterdir())  # the spooled upload is gone
    finally:
        rt.close()
