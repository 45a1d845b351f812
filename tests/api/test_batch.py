"""Batches: valid items are accepted and delivered, invalid ones reported by the caller's index."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import VALID, assert_problem, message, message_ids, wait_for_status
from tests.support import Tenant


def test_list_batch_reports_invalid_items_by_index_and_accepts_the_rest(tenant: Tenant) -> None:
    items: list[Any] = [
        {**VALID, "reference": "r0"},
        {**VALID, "to": "not a number"},  # refused by the pipeline
        {**VALID, "to": "+31 6 8765 4321", "reference": "r2"},
        {"to": "+31612345678", "from": "Acme"},  # refused by the schema: no body
        {**VALID, "colour": "red"},  # unknown field
        {**VALID, "from": "AcmeWidgets1"},  # 12-character sender name
        "not an object",
        {**VALID, "body": "é" * 10, "reference": "r7"},
    ]
    response = tenant.post("/v1/messages/batch", {"messages": items})
    assert response.status_code == 202, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (3, 5)
    errors = {e["index"]: (e["code"], e["field"]) for e in result["errors"]}
    assert errors == {
        1: ("invalid_to", "to"),
        3: ("validation_error", "body"),
        4: ("validation_error", "colour"),
        5: ("invalid_from", "from"),
        6: ("validation_error", "item"),
    }
    assert [e["index"] for e in result["errors"]] == [1, 3, 4, 5, 6]
    for error in result["errors"]:
        assert error["detail"]
    accepted = {m["index"]: m for m in result["messages"]}
    assert sorted(accepted) == [0, 2, 7]
    assert accepted[2]["to"] == "+31687654321"
    for index, item in accepted.items():
        stored = message(tenant, item["id"])
        assert stored["reference"] == f"r{index}"
        assert stored["status"] in ("queued", "sending", "sent", "delivered")
    assert sorted(message_ids(tenant)) == sorted(m["id"] for m in result["messages"])
    for item in result["messages"]:
        wait_for_status(tenant, item["id"], "delivered")


def test_shared_body_batch_sends_one_body_to_every_recipient(tenant: Tenant) -> None:
    recipients = ["+31612345678", "bogus", "+44 7911 123456", "+1 415 555 0100", ""]
    response = tenant.post(
        "/v1/messages/batch",
        {"to": recipients, "from": "Acme", "body": "Shop opens at 9", "reference": "promo"},
    )
    assert response.status_code == 202, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (3, 2)
    assert [(e["index"], e["code"], e["field"]) for e in result["errors"]] == [
        (1, "invalid_to", "to"),
        (4, "invalid_to", "to"),
    ]
    assert [(m["index"], m["to"]) for m in result["messages"]] == [
        (0, "+31612345678"),
        (2, "+447911123456"),
        (3, "+14155550100"),
    ]
    for item in result["messages"]:
        delivered = wait_for_status(tenant, item["id"], "delivered")
        assert delivered["body"] == "Shop opens at 9"
        assert delivered["reference"] == "promo"
        assert delivered["from"] == "Acme"


def test_batch_where_every_item_is_invalid_is_422_and_writes_nothing(tenant: Tenant) -> None:
    items = [{**VALID, "to": "nope"}, {**VALID, "body": ""}]
    response = tenant.post("/v1/messages/batch", {"messages": items})
    result = assert_problem(response, 422, "batch_rejected")  # an error like any other
    assert (result["accepted"], result["messages"]) == (0, [])
    assert [(e["index"], e["code"]) for e in result["errors"]] == [
        (0, "invalid_to"),
        (1, "empty_body"),
    ]
    assert message_ids(tenant) == []


def test_scheduled_items_in_a_batch_wait_for_their_time(tenant: Tenant) -> None:
    items = [
        {**VALID, "send_at": "2026-03-01T13:00:00Z"},
        {**VALID, "to": "+31687654321"},
    ]
    result = tenant.post("/v1/messages/batch", {"messages": items}).json()
    scheduled, now = result["messages"]
    assert scheduled["status"] == "scheduled"
    assert now["status"] == "queued"
    wait_for_status(tenant, now["id"], "delivered")
    assert message(tenant, scheduled["id"])["status"] == "scheduled"
