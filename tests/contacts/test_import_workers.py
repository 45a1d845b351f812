"""A large import checks and encrypts its rows in worker processes: the result is the same
as when the importing process does it all (the same contacts, the same refused rows with
the same lines, columns and reasons, in order), and importing again duplicates nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contacts.test_import import ok, upload
from tests.support import Tenant, wait_until
from tidings.contacts import imports
from tidings.contacts.imports import BATCH_ROWS
from tidings.contacts.prepare import BatchPreparer, Preparation, _Worker
from tidings.runtime import Runtime

pytestmark = pytest.mark.slow

ROWS = 2 * BATCH_ROWS + 500  # three batches, the last one short


def _file() -> bytes:
    lines = ["Phone,First Name,email,tags"]
    for i in range(ROWS):
        line = i + 2
        if line == 10:
            lines.append("12345,Bad,,")  # no country code
        elif line == BATCH_ROWS + 7:
            lines.append(f"+3162{i:07d},Eve,not-an-email,")
        elif line == 2 * BATCH_ROWS + 3:
            lines.append("+31620000000,Again,,")  # the number of line 2
        elif line == 2 * BATCH_ROWS + 4:
            lines.append(f"+3162{i:07d},Too,many,columns,here")
        else:
            lines.append(f"+3162{i:07d},Name {i},p{i}@example.com,t{i % 3}")
    return ("\n".join(lines) + "\n").encode()


def _run(runtime: Runtime, tenant: Tenant, data: bytes, workers: int) -> dict[str, Any]:
    runtime.imports.workers = workers
    runtime.imports.parallel_from_bytes = 0
    queued = ok(upload(tenant, data), 202)

    def done() -> Any:
        current = ok(tenant.get(f"/v1/contacts/imports/{queued['id']}"))
        return current if current["state"] in ("completed", "failed") else None

    # Starting a worker process takes a while on a busy machine: a longer wait than usual.
    job: dict[str, Any] = wait_until(done, timeout=180, message="the import to finish")
    errors_url = f"/v1/contacts/imports/{job['id']}/errors.csv"
    job["errors_csv"] = tenant.client.get(errors_url, headers=tenant.headers).text
    return job


def _contact(runtime: Runtime, tenant: Tenant, number: str) -> dict[str, Any]:
    found = runtime.contacts.get_by_number(tenant.account_id, number)
    assert found is not None, number
    return {k: found[k] for k in ("number", "first_name", "email", "tags", "region", "carrier")}


def test_workers_import_what_one_process_imports(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class Counted(Preparation):
        def __init__(self, preparer: BatchPreparer, workers: int, ahead: int) -> None:
            started.append(workers)
            super().__init__(preparer, workers, ahead)

    monkeypatch.setattr(imports, "Preparation", Counted)
    data = _file()
    parallel = _run(runtime, tenant, data, workers=1)
    serial = _run(runtime, other_tenant, data, workers=0)
    assert started == [1, 0]  # the first in a worker process, the second in this one
    assert parallel["state"] == serial["state"] == "completed"
    assert parallel["rows"] == serial["rows"] == {"created": ROWS - 4, "updated": 0, "failed": 4}
    assert parallel["errors"] == serial["errors"]
    assert [(e["line"], e["column"]) for e in parallel["errors"]] == [
        (10, "Phone"),
        (BATCH_ROWS + 7, "email"),
        (2 * BATCH_ROWS + 3, "Phone"),
        (2 * BATCH_ROWS + 4, None),
    ]
    assert "line 2 " in parallel["errors"][2]["reason"]
    assert parallel["errors_csv"] == serial["errors_csv"]
    for i in (0, BATCH_ROWS, ROWS - 1):
        number = f"+3162{i:07d}"
        assert _contact(runtime, tenant, number) == _contact(runtime, other_tenant, number)
    assert _contact(runtime, tenant, "+31620000003")["first_name"] == "Name 3"

    again = _run(runtime, tenant, data, workers=1)
    assert again["rows"] == {"created": 0, "updated": ROWS - 4, "failed": 4}
    assert again["errors"] == parallel["errors"]
    assert _contact(runtime, tenant, "+31620000000")["first_name"] == "Name 0"


def test_a_worker_process_that_dies_is_reported_not_waited_for() -> None:
    worker = _Worker("a preparer")  # type: ignore[arg-type]  # never used: it dies first
    worker._process.kill()
    with pytest.raises(RuntimeError, match="an import worker process ended"):
        worker.take()
    with pytest.raises(RuntimeError, match="an import worker process ended"):
        worker.take()  # and again, not a hang
    worker.close()
