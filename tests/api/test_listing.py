"""Listing messages: newest first, filters, and a cursor that visits each message once."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from tests.api.helpers import TO, later, message_ids, send, wait_for_status
from tests.support import Tenant
from tidings.core.clock import ManualClock, iso
from tidings.store import messages as message_store


def _page(tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = tenant.get("/v1/messages", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_cursor_pagination_returns_each_message_once_newest_first(
    tenant: Tenant, clock: ManualClock
) -> None:
    sent: list[str] = []
    for i in range(7):
        sent.append(send(tenant, body=f"n{i}", send_at=later(clock, days=1))["id"])
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = _page(tenant, limit=3, **({"cursor": cursor} if cursor else {}))
        sizes.append(len(page["data"]))
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == list(reversed(sent))


def test_exact_multiple_of_the_limit_ends_without_an_empty_page(
    tenant: Tenant, clock: ManualClock
) -> None:
    for _ in range(4):
        send(tenant, send_at=later(clock, days=1))
        clock.advance(timedelta(seconds=1))
    first = _page(tenant, limit=2)
    second = _page(tenant, limit=2, cursor=first["next_cursor"])
    assert len(second["data"]) == 2
    assert second["next_cursor"] is None


def test_list_items_are_full_message_resources(tenant: Tenant) -> None:
    created = send(tenant, reference="inv-7")
    wait_for_status(tenant, created["id"], "delivered")
    (item,) = _page(tenant)["data"]
    assert item["id"] == created["id"]
    assert (item["to"], item["from"], item["body"]) == (TO, "Acme", "Hello")
    assert item["status"] == "delivered"
    assert item["reference"] == "inv-7"
    assert [h["status"] for h in item["status_history"]][-1] == "delivered"


def test_filter_by_status(tenant: Tenant, clock: ManualClock) -> None:
    delivered = send(tenant)
    scheduled = send(tenant, send_at=later(clock, days=1))
    canceled = send(tenant, send_at=later(clock, days=1))
    assert tenant.delete(f"/v1/messages/{canceled['id']}").status_code == 200
    wait_for_status(tenant, delivered["id"], "delivered")
    assert message_ids(tenant, status="delivered") == [delivered["id"]]
    assert message_ids(tenant, status="scheduled") == [scheduled["id"]]
    assert message_ids(tenant, status="canceled") == [canceled["id"]]
    assert message_ids(tenant, status="failed") == []


def test_filter_by_to_matches_any_format_of_the_same_number(
    tenant: Tenant, clock: ManualClock
) -> None:
    wanted = [
        send(tenant, to=form, send_at=later(clock, days=1))["id"]
        for form in (
            "+31612345678",
            "+31 6 1234 5678",
        )
    ]
    send(tenant, to="+31687654321", send_at=later(clock, days=1))
    for form in ("+31612345678", "+31 6 12345678", "0031612345678", "+31-6-1234-5678"):
        assert sorted(message_ids(tenant, to=form)) == sorted(wanted), form
    assert message_ids(tenant, to="+4915123456789") == []


def test_since_and_until_select_a_window_of_creation_times(
    tenant: Tenant, clock: ManualClock
) -> None:
    start = clock.now()
    ids = []
    for _ in range(3):
        ids.append(send(tenant, send_at=later(clock, days=1))["id"])
        clock.advance(timedelta(hours=1))
    # messages were created at start, start + 1 h, start + 2 h
    window = {"since": iso(start + timedelta(minutes=30)), "until": iso(start + timedelta(hours=2))}
    assert message_ids(tenant, **window) == [ids[1]]
    assert message_ids(tenant, since=iso(start + timedelta(hours=1))) == [ids[2], ids[1]]
    assert message_ids(tenant, until=iso(start + timedelta(hours=1))) == [ids[0]]


def _offset(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def test_since_and_until_honour_utc_offsets(tenant: Tenant, clock: ManualClock) -> None:
    start = clock.now()  # 12:00 UTC
    first = send(tenant, send_at=later(clock, days=1))["id"]
    clock.advance(timedelta(hours=2))
    second = send(tenant, send_at=later(clock, days=1))["id"]  # 14:00 UTC
    # 14:30+02:00 is 12:30 UTC: only the second message is at or after it
    since = (start + timedelta(minutes=30)).astimezone(_offset(2)).isoformat()
    assert message_ids(tenant, since=since) == [second]
    # 10:30-03:00 is 13:30 UTC: only the first message is before it
    until = (start + timedelta(hours=1, minutes=30)).astimezone(_offset(-3)).isoformat()
    assert message_ids(tenant, until=until) == [first]


def test_since_and_until_at_the_ends_of_the_calendar_bound_nothing(tenant: Tenant) -> None:
    # Found by fuzzing: year 1 at +01:00 and 9999 at -01:00 have no UTC equivalent.
    created = send(tenant)["id"]
    ends = {"since": "0001-01-01T00:00:00+01:00", "until": "9999-12-31T23:59:59-01:00"}
    assert message_ids(tenant, **ends) == [created]
    assert message_ids(tenant, since="9999-12-31T23:59:59-01:00") == []


def test_filters_combine(tenant: Tenant, clock: ManualClock) -> None:
    match = send(tenant, send_at=later(clock, days=1))["id"]
    send(tenant, to="+31687654321", send_at=later(clock, days=1))
    delivered = send(tenant)
    wait_for_status(tenant, delivered["id"], "delivered")
    assert message_ids(tenant, to=TO, status="scheduled") == [match]


def test_unknown_message_is_404(tenant: Tenant) -> None:
    response = tenant.get("/v1/messages/msg_01kjmma2g0es08p3zc1dzq52b1")
    assert response.status_code == 404
    assert response.json()["code"] == "message_not_found"


def test_listing_by_status_reads_a_bounded_window_and_its_cursor_reads_on(
    tenant: Tenant, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index names the status: a page reads at most STATUS_SCAN messages, and may come
    back short (even empty) with a cursor; following it finds every match once."""
    monkeypatch.setattr(message_store, "STATUS_SCAN", 3)
    sent: list[str] = []
    for _ in range(10):
        sent.append(send(tenant, send_at=later(clock, days=1))["id"])
        clock.advance(timedelta(seconds=1))
    canceled = [sent[i] for i in (1, 2, 8)]
    for message_id in canceled:
        assert tenant.delete(f"/v1/messages/{message_id}").status_code == 200
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = _page(tenant, status="canceled", limit=2, **({"cursor": cursor} if cursor else {}))
        assert all(m["status"] == "canceled" for m in page["data"])
        sizes.append(len(page["data"]))
        seen += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(canceled))
    # windows of 3 from the newest: [9 8 7] [6 5 4] [3 2 1] (two found, the page is full,
    # the cursor after 2) then [1 0]
    assert sizes == [1, 0, 2, 0]
    # Without the bound, one page holds them all.
    monkeypatch.setattr(message_store, "STATUS_SCAN", 10_000)
    page = _page(tenant, status="canceled", limit=5)
    assert [m["id"] for m in page["data"]] == list(reversed(canceled))
    assert page["next_cursor"] is None
