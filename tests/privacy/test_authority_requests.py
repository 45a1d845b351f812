"""The register of requests of courts and authorities: recorded, answered once, encrypted
under the operator's key, refused clearly when incomplete."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.privacy.retention_support import at, count
from tidings.core.clock import ManualClock
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.runtime import Runtime
from tidings.store.tables import authority_requests

SUBJECT = "+359888123456"
REQUEST = {
    "authority": "Sofia District Court",
    "legal_basis": "Art. 186 Civil Procedure Code",
    "requested": "Messages sent to +359 888 123 456\nin February 2026",
}


def raw_row(rt: Runtime, request_id: str) -> dict[str, object]:
    with rt.db.read() as conn:
        query = select(authority_requests).where(authority_requests.c.id == request_id)
        return dict(conn.execute(query).one()._mapping)


def test_a_request_is_recorded_answered_once_and_encrypted(
    runtime: Runtime, clock: ManualClock
) -> None:
    clock.set(at(2026, 3, 2, 10))
    account = str(runtime.accounts.create_account("Acme")["account_id"])
    register = runtime.authority_requests
    entry = register.add(
        **REQUEST,
        reference=" civil case 1234/2026 ",
        account_id=account,
        subject="+359 888 123 456",
        received=date(2026, 2, 27),
    )
    assert entry["status"] == "open" and entry["received"] == "2026-02-27"
    assert (entry["reference"], entry["subject"]) == ("civil case 1234/2026", SUBJECT)
    row = raw_row(runtime, entry["id"])
    stored = b"".join(v for v in row.values() if isinstance(v, bytes))
    for secret in ("Sofia", "186", "1234/2026", "359888123456", "February"):
        assert secret.encode() not in stored, secret
    # the index the messages and legal holds use for this number in this account
    assert row["subject_index"] == runtime.holds.subject_index(account, SUBJECT)
    clock.set(at(2026, 3, 5, 16))
    answered = register.answer(entry["id"], disclosed="12 delivery records, no message text")
    assert (answered["status"], answered["answered"]) == ("answered", "2026-03-05")
    with pytest.raises(Conflict) as twice:
        register.answer(entry["id"], disclosed="something else")
    assert twice.value.code == "request_answered" and "2026-03-05" in twice.value.detail
    assert register.get(entry["id"])["disclosed"] == "12 delivery records, no message text"
    assert register.entries(account_id=account)["data"] == [register.get(entry["id"])]


def test_the_register_outlives_the_erasure_of_the_account(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Encrypted under the operator's key, not the account's: crypto-shredding the account
    leaves what a court asked and was told readable for its own period."""
    account = str(runtime.accounts.create_account("Acme")["account_id"])
    entry = runtime.authority_requests.add(**REQUEST, account_id=account, subject=SUBJECT)
    runtime.erasure.erase_account(account, requested_by="test")
    kept = runtime.authority_requests.get(entry["id"])
    assert kept["requested"] == REQUEST["requested"] and kept["subject"] == SUBJECT


def test_a_request_need_not_name_an_account_or_a_number(runtime: Runtime) -> None:
    entry = runtime.authority_requests.add(**REQUEST, account_id="", subject=" ")
    assert (entry["account_id"], entry["subject"], entry["reference"]) == (None, None, None)
    assert entry["received"] == runtime.clock.now().date().isoformat()


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"authority": "  "}, "invalid_authority", "authority"),
        ({"legal_basis": ""}, "invalid_legal_basis", "legal_basis"),
        ({"requested": "\n"}, "invalid_requested", "requested"),
        ({"authority": "x" * 301}, "invalid_authority", "authority"),
        ({"reference": "x" * 201}, "invalid_reference", "reference"),
        ({"subject": "12"}, "invalid_subject", "subject"),
        ({"received": date(2026, 3, 2)}, "invalid_received", "received"),  # tomorrow
        ({"received": date(1969, 12, 31)}, "invalid_received", "received"),
        ({"account_id": "acc_00000000000000000000000000"}, "account_not_found", "account_id"),
        ({"account_id": "nobody"}, "account_not_found", "account_id"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    runtime: Runtime, changes: dict[str, object], code: str, field: str
) -> None:
    with pytest.raises((InvalidInput, NotFound)) as refused:
        runtime.authority_requests.add(**{**REQUEST, **changes})  # type: ignore[arg-type]
    assert (refused.value.code, refused.value.extra["field"]) == (code, field)
    assert field.split("_")[0] in refused.value.detail
    assert count(runtime, "authority_requests") == 0


def test_bad_answers_are_refused(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(at(2026, 3, 2, 10))
    entry = runtime.authority_requests.add(**REQUEST, received=date(2026, 3, 1))
    for request_id in ("arq_00000000000000000000000000", "stm_x", ""):
        with pytest.raises(NotFound) as missing:
            runtime.authority_requests.answer(request_id, disclosed="x")
        assert missing.value.code == "authority_request_not_found"
    with pytest.raises(InvalidInput) as empty:
        runtime.authority_requests.answer(entry["id"], disclosed=" ")
    assert empty.value.extra["field"] == "disclosed"
    with pytest.raises(InvalidInput) as early:
        runtime.authority_requests.answer(entry["id"], disclosed="x", answered=date(2026, 2, 28))
    assert early.value.extra["field"] == "answered" and "before" in early.value.detail
    with pytest.raises(InvalidInput) as future:
        runtime.authority_requests.answer(entry["id"], disclosed="x", answered=date(2026, 3, 3))
    assert future.value.extra["field"] == "answered"
    assert runtime.authority_requests.get(entry["id"])["status"] == "open"
    with pytest.raises(InvalidInput):
        runtime.authority_requests.entries(limit=501)
    with pytest.raises(InvalidInput) as cursor:
        runtime.authority_requests.entries(cursor="garbage")
    assert cursor.value.extra["field"] == "cursor"
