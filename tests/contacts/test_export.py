"""GET /v1/contacts/export: streamed CSV, JSON and JSON lines; CSV safe against formula
injection, with the E.164 number written as it is; an export imports back unchanged."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.api.helpers import assert_problem
from tests.contacts.test_import import imported, ok
from tests.support import Tenant

HOSTILE = {
    "number": "+31612345678",
    "first_name": '=HYPERLINK("http://evil.example","click")',
    "last_name": "@SUM(A1:A9)",
    "email": "+x@example.com",
    "tags": ["-2+3", "plain"],
    "fields": {"note": "=cmd|' /C calc'!A0", "score": -5},
}


def export(tenant: Tenant, **params: Any) -> Any:
    response = tenant.get("/v1/contacts/export", params=params)
    assert response.status_code == 200, response.text
    return response


def rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_cells_cannot_run_as_formulas_and_numbers_stay_e164(tenant: Tenant) -> None:
    ok(tenant.post("/v1/contact-fields", {"key": "note", "type": "string"}), 201)
    ok(tenant.post("/v1/contact-fields", {"key": "score", "type": "number"}), 201)
    ok(tenant.post("/v1/contacts", HOSTILE), 201)
    response = export(tenant)
    assert response.headers["content-type"].startswith("text/csv")
    (row,) = rows(response)
    assert row["number"] == "+31612345678"  # E.164 by construction: + and digits only
    assert row["first_name"] == "'" + HOSTILE["first_name"]
    assert row["last_name"] == "'@SUM(A1:A9)"
    assert row["email"] == "'+x@example.com"
    assert row["tags"] == "'-2+3|plain"
    assert row["note"] == "'=cmd|' /C calc'!A0"
    assert row["score"] == "-5"  # a typed number, not text: written as it is
    for name, cell in row.items():
        if name not in ("number", "score"):
            assert not cell.startswith(("=", "+", "-", "@")), (name, cell)


def test_an_export_imports_back_unchanged(tenant: Tenant, other_tenant: Tenant) -> None:
    for t in (tenant, other_tenant):
        ok(t.post("/v1/contact-fields", {"key": "note", "type": "string"}), 201)
        ok(t.post("/v1/contact-fields", {"key": "score", "type": "number"}), 201)
    original = ok(tenant.post("/v1/contacts", HOSTILE), 201)
    job = imported(other_tenant, export(tenant).content)
    assert job["rows"] == {"created": 1, "updated": 0, "failed": 0}, job
    (copy,) = ok(other_tenant.get("/v1/contacts"))["data"]
    for key in ("number", "first_name", "last_name", "email", "tags", "fields"):
        assert copy[key] == original[key], key


def test_json_and_json_lines_and_a_lists_export(tenant: Tenant) -> None:
    data = "number,first_name\n" + "".join(f"+3161{i:07d},N{i}\n" for i in range(2100))
    assert imported(tenant, data.encode())["rows"]["created"] == 2100
    customers = ok(tenant.post("/v1/lists", {"name": "Customers"}), 201)
    some = ok(tenant.get("/v1/contacts", params={"limit": 3}))["data"]
    members = [c["id"] for c in some]
    ok(tenant.post(f"/v1/lists/{customers['id']}/members", {"contact_ids": members}))

    everyone = json.loads(export(tenant, format="json").content)
    assert len(everyone) == 2100 and len({c["id"] for c in everyone}) == 2100
    assert [c["id"] for c in everyone] == sorted(c["id"] for c in everyone)
    lines = export(tenant, format="jsonl").text.splitlines()
    assert len(lines) == 2100 and json.loads(lines[0]) == everyone[0]
    assert len(rows(export(tenant))) == 2100

    listed = rows(export(tenant, list=customers["id"]))
    assert sorted(r["id"] for r in listed) == sorted(members)
    assert all(r["lists"] == "Customers" for r in listed)
    assert_problem(
        tenant.get("/v1/contacts/export", params={"format": "xml"}), 422, "validation_error"
    )
    assert_problem(
        tenant.get("/v1/contacts/export", params={"list": "lst_x"}), 404, "list_not_found"
    )
