"""Contact imports with a consent column (`map=COLUMN=consent:CHANNEL[:PURPOSE]`): the
answers land in the ledger with source import and the import as evidence, the accept
checks follow them, bad answers refuse the row, and importing again adds nothing."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem, later, message, send
from tests.consent.helpers import HANDSET, MARKETING, OTHER_HANDSET, consents
from tests.contacts.test_import import imported, numbers, ok, upload
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime

SMS_MARKETING = {"map": "SMS opt-in=consent:sms:marketing"}


def _file(*rows: str) -> bytes:
    return ("Phone,First Name,SMS opt-in\n" + "".join(f"{r}\n" for r in rows)).encode()


def _history(rt: Runtime, tenant: Tenant, number: str = HANDSET) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = consents(rt, tenant, number)["history"]
    return history


def test_a_yes_grants_marketing_and_a_no_refuses_it(tenant: Tenant, runtime: Runtime) -> None:
    data = _file(f"{HANDSET},Ana,Yes", f"{OTHER_HANDSET},Bo,no", "+14155550100,Cy,")
    job = imported(tenant, data, "crm.csv", **SMS_MARKETING)
    assert (job["state"], job["rows"]["created"], job["errors"]) == ("completed", 3, [])
    sent = send(tenant, **MARKETING)
    assert (sent["purpose"], sent["status"]) == ("marketing", "queued")
    refused = tenant.post("/v1/messages", {**MARKETING, "to": OTHER_HANDSET})
    assert_problem(refused, 422, "no_consent", "to")
    (event,) = _history(runtime, tenant)
    contact = numbers(tenant)[HANDSET]
    assert (event["action"], event["basis"], event["source"], event["contact_id"]) == (
        "granted",
        "consent",
        "import",
        contact["id"],
    )
    assert event["evidence"]["import_id"] == job["id"]
    assert (event["evidence"]["file"], event["evidence"]["line"]) == ("crm.csv", 2)
    assert event["evidence"]["column"] == "SMS opt-in"
    assert event["policy_version"] == "baseline@1"
    assert [e["action"] for e in _history(runtime, tenant, OTHER_HANDSET)] == ["withdrawn"]
    assert consents(runtime, tenant, OTHER_HANDSET)["opted_out"] == []  # a no: not an opt-out
    assert _history(runtime, tenant, "+14155550100") == []  # an empty cell says nothing


def test_reimport_adds_no_event_and_a_later_no_cancels_waiting_marketing(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    data = _file(f"{HANDSET},Ana,TRUE", f"{OTHER_HANDSET},Bo,granted")
    imported(tenant, data, **SMS_MARKETING)
    again = imported(tenant, data, **SMS_MARKETING)
    assert (again["rows"]["updated"], again["errors"]) == (2, [])
    assert [e["action"] for e in _history(runtime, tenant)] == ["granted"]
    scheduled = send(tenant, **MARKETING, send_at=later(clock, days=1))
    other = send(tenant, **{**MARKETING, "to": OTHER_HANDSET}, send_at=later(clock, days=1))
    receipt = send(tenant, send_at=later(clock, days=1))  # transactional: not affected
    withdrawn = imported(tenant, _file(f"{HANDSET},Ana,0"), **SMS_MARKETING)
    assert withdrawn["errors"] == []
    assert [e["action"] for e in _history(runtime, tenant)] == ["granted", "withdrawn"]
    canceled = message(tenant, scheduled["id"])
    assert (canceled["status"], canceled["error_code"]) == ("canceled", "no_consent")
    assert message(tenant, other["id"])["status"] == "scheduled"
    assert message(tenant, receipt["id"])["status"] == "scheduled"
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")
    imported(tenant, _file(f"{HANDSET},Ana,1"), **SMS_MARKETING)  # fresh consent again
    assert [e["action"] for e in _history(runtime, tenant)] == ["granted", "withdrawn", "granted"]
    assert send(tenant, **MARKETING)["status"] == "queued"


def test_a_stop_cell_opts_the_number_out_as_a_stop_keyword_does(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    imported(tenant, _file(f"{HANDSET},Ana,yes", f"{OTHER_HANDSET},Bo,yes"), **SMS_MARKETING)
    scheduled = send(tenant, **MARKETING, send_at=later(clock, days=1))
    receipt = send(tenant, send_at=later(clock, days=1))  # transactional: sent (policy allow)
    job = imported(tenant, _file(f"{HANDSET},Ana,STOP", f"{OTHER_HANDSET},Bo,no"), **SMS_MARKETING)
    assert (job["rows"]["updated"], job["errors"]) == (2, [])
    state = consents(runtime, tenant)
    assert state["opted_out"] == ["sms"]
    assert [(e["action"], e["source"]) for e in state["history"]] == [
        ("granted", "import"),
        ("withdrawn", "import"),
    ]
    assert state["history"][1]["evidence"]["line"] == 2
    canceled = message(tenant, scheduled["id"])
    assert (canceled["status"], canceled["error_code"]) == ("canceled", "opted_out")
    assert message(tenant, receipt["id"])["status"] == "scheduled"
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    # A withdrawal (no) is refused for lack of consent, not as an opt-out.
    no = tenant.post("/v1/messages", {**MARKETING, "to": OTHER_HANDSET})
    assert_problem(no, 422, "no_consent", "to")

    again = imported(tenant, _file(f"{HANDSET},Ana,opted out"), **SMS_MARKETING)
    assert again["errors"] == []
    assert len(_history(runtime, tenant)) == 2  # opted out already: nothing added
    # The account's own file cannot lift the person's opt-out; their START can.
    imported(tenant, _file(f"{HANDSET},Ana,yes"), **SMS_MARKETING)
    assert [e["action"] for e in _history(runtime, tenant)] == ["granted", "withdrawn", "granted"]
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")


def test_a_bad_answer_refuses_the_row_like_any_bad_cell(tenant: Tenant, runtime: Runtime) -> None:
    data = _file(f"{HANDSET},Ana,maybe", f"{OTHER_HANDSET},Bo,Y")
    job = imported(tenant, data, **SMS_MARKETING)
    assert (job["rows"]["created"], job["rows"]["failed"]) == (1, 1)
    (error,) = job["errors"]
    assert (error["line"], error["column"]) == (2, "SMS opt-in")
    assert "yes, no" in error["reason"] and "'maybe'" in error["reason"]
    assert HANDSET not in numbers(tenant)
    assert _history(runtime, tenant) == []
    assert [e["action"] for e in _history(runtime, tenant, OTHER_HANDSET)] == ["granted"]


def test_all_channels_other_purposes_and_json_lines(tenant: Tenant, runtime: Runtime) -> None:
    lines = (
        f'{{"number": "{HANDSET}", "news": true}}\n'
        f'{{"number": "{OTHER_HANDSET}", "news": "objected"}}\n'
    ).encode()
    job = imported(tenant, lines, "people.jsonl", map="news=consent:all:newsletter")
    assert (job["rows"]["created"], job["errors"]) == (2, [])
    (event,) = _history(runtime, tenant)
    assert (event["channel"], event["purpose"], event["action"]) == ("all", "newsletter", "granted")
    send(tenant, **{**MARKETING, "purpose": "newsletter"})
    (objection,) = _history(runtime, tenant, OTHER_HANDSET)
    assert objection["action"] == "objected"
    refused = tenant.post(
        "/v1/messages", {**MARKETING, "to": OTHER_HANDSET, "purpose": "newsletter"}
    )
    assert_problem(refused, 422, "no_consent", "to")
    imported(tenant, _file(f"{HANDSET},Ana,yes"), map="SMS opt-in=consent:sms")  # marketing
    assert send(tenant, **MARKETING)["status"] == "queued"


def test_a_bad_consent_target_is_a_clear_4xx(tenant: Tenant) -> None:
    data = _file(f"{HANDSET},Ana,yes")
    for target, words in [
        ("consent:email", "'channel'"),
        ("consent:sms:Big Sale", "'purpose'"),
        ("consent:sms:marketing:extra", "more than CHANNEL and PURPOSE"),
    ]:
        response = upload(tenant, data, map=f"SMS opt-in={target}")
        assert_problem(response, 400, "invalid_consent_target", "map")
        assert words in response.json()["detail"], response.text
    both = upload(tenant, data, map=["SMS opt-in=consent:sms", "First Name=consent:sms:marketing"])
    assert_problem(both, 400, "duplicate_target", "map")
    ok(tenant.get("/v1/contacts"))
