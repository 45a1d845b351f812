"""/v1/contacts, /v1/lists and /v1/contact-fields over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem
from tests.support import Tenant


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def patch(tenant: Tenant, path: str, body: Any) -> Any:
    return tenant.client.patch(path, json=body, headers=tenant.headers)


def test_contact_lifecycle(tenant: Tenant) -> None:
    ok(
        tenant.post("/v1/contact-fields", {"key": "tier", "type": "enum", "options": ["a", "b"]}),
        201,
    )
    created = ok(
        tenant.post(
            "/v1/contacts",
            {
                "number": "+31612345678",
                "first_name": "Ana",
                "tags": ["vip"],
                "fields": {"tier": "a"},
            },
        ),
        201,
    )
    assert created["number"] == "+31612345678" and created["fields"] == {"tier": "a"}
    assert ok(tenant.get(f"/v1/contacts/{created['id']}")) == created
    changed = ok(patch(tenant, f"/v1/contacts/{created['id']}", {"first_name": None, "tags": []}))
    assert changed["first_name"] is None and changed["tags"] == []
    assert changed["fields"] == {"tier": "a"}  # untouched: not in the request
    found = ok(tenant.get("/v1/contacts", params={"number": "0031 6 12345678"}))["data"]
    assert [c["id"] for c in found] == [created["id"]]
    assert (
        ok(tenant.get("/v1/contacts", params={"field": "tier:a"}))["data"][0]["id"] == created["id"]
    )
    assert ok(tenant.get("/v1/contacts", params={"field": "tier:b"}))["data"] == []
    ok(tenant.delete(f"/v1/contacts/{created['id']}"), 204)
    assert_problem(tenant.get(f"/v1/contacts/{created['id']}"), 404, "contact_not_found")


def test_lists_and_members(tenant: Tenant) -> None:
    contact = ok(tenant.post("/v1/contacts", {"number": "+31612345678"}), 201)
    made = ok(tenant.post("/v1/lists", {"name": "Customers"}), 201)
    assert made["id"].startswith("lst_") and made["members"] == 0
    assert_problem(tenant.post("/v1/lists", {"name": "Customers"}), 409, "list_exists", "name")
    added = ok(tenant.post(f"/v1/lists/{made['id']}/members", {"contact_ids": [contact["id"]]}))
    assert (added["added"], added["members"]) == (1, 1)
    members = ok(tenant.get("/v1/contacts", params={"list": made["id"]}))["data"]
    assert [c["id"] for c in members] == [contact["id"]]
    renamed = ok(patch(tenant, f"/v1/lists/{made['id']}", {"name": "Clients"}))
    assert renamed["name"] == "Clients"
    assert [x["name"] for x in ok(tenant.get("/v1/lists"))["data"]] == ["Clients"]
    removed = ok(tenant.delete(f"/v1/lists/{made['id']}/members/{contact['id']}"))
    assert (removed["removed"], removed["members"]) == (1, 0)
    ok(tenant.delete(f"/v1/lists/{made['id']}"), 204)
    assert ok(tenant.get(f"/v1/contacts/{contact['id']}"))["id"] == contact["id"]
    assert_problem(tenant.get(f"/v1/lists/{made['id']}"), 404, "list_not_found")


def test_bad_input_is_a_problem_naming_the_field(tenant: Tenant) -> None:
    cases: list[tuple[str, dict[str, Any], int, str, str]] = [
        ("/v1/contacts", {"number": "12"}, 400, "invalid_number", "number"),
        (
            "/v1/contacts",
            {"number": "+31612345678", "email": "nope"},
            400,
            "invalid_email",
            "email",
        ),
        (
            "/v1/contacts",
            {"number": "+31612345678", "fields": {"ghost": 1}},
            400,
            "invalid_fields",
            "fields.ghost",
        ),
        (
            "/v1/contacts",
            {"number": "+31612345678", "language": "english!"},
            400,
            "invalid_language",
            "language",
        ),
        ("/v1/contacts", {"number": "+31612345678", "extra": 1}, 422, "validation_error", "extra"),
        ("/v1/contact-fields", {"key": "Bad Key", "type": "string"}, 400, "invalid_key", "key"),
        ("/v1/contact-fields", {"key": "k", "type": "color"}, 400, "invalid_type", "type"),
        ("/v1/contact-fields", {"key": "k", "type": "enum"}, 400, "invalid_options", "options"),
        ("/v1/lists/lst_nope/members", {"contact_ids": ["con_x"]}, 404, "list_not_found", None),
    ]
    failures = []
    for path, body, status, code, field in cases:
        try:
            assert_problem(tenant.post(path, body), status, code, field)
        except AssertionError as exc:
            failures.append(f"{path} {body}: {exc}")
    assert not failures, "\n".join(failures)
    assert_problem(tenant.get("/v1/contacts", params={"list": "lst_x"}), 404, "list_not_found")
    assert_problem(
        tenant.get("/v1/contacts", params={"field": "nokey"}), 400, "invalid_field_filter", "field"
    )
    assert_problem(tenant.get("/v1/contacts", params={"limit": 0}), 400, "invalid_limit", "limit")
    assert_problem(tenant.get("/v1/contacts", params={"tag": "a\x00b"}), 400, "invalid_tag", "tag")
    assert_problem(tenant.get("/v1/contacts", params={"cursor": "x"}), 400, "invalid_cursor")
    first = ok(tenant.post("/v1/contacts", {"number": "+31612345678"}), 201)
    problem = assert_problem(
        tenant.post("/v1/contacts", {"number": "+31 6 12345678"}), 409, "contact_exists", "number"
    )
    assert problem["contact_id"] == first["id"]
