"""POST /v1/contacts/imports: streamed files, row-level errors, no duplicates on re-import,
encodings and separators, and clear 4xx for what cannot be imported at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import assert_problem
from tests.support import Tenant, wait_until

CSV_TYPE = {"Content-Type": "text/csv"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def upload(tenant: Tenant, data: bytes, name: str = "contacts.csv", **params: Any) -> Any:
    return tenant.client.post(
        "/v1/contacts/imports",
        files={"file": (name, data, "text/csv")},
        params=params,
        headers=tenant.headers,
    )


def finished(tenant: Tenant, job: dict[str, Any]) -> dict[str, Any]:
    def done() -> Any:
        current = ok(tenant.get(f"/v1/contacts/imports/{job['id']}"))
        return current if current["state"] in ("completed", "failed") else None

    result: dict[str, Any] = wait_until(done, message=f"import {job['id']} to finish")
    return result


def imported(tenant: Tenant, data: bytes, name: str = "contacts.csv", **params: Any) -> Any:
    return finished(tenant, ok(upload(tenant, data, name, **params), 202))


def numbers(tenant: Tenant) -> dict[str, dict[str, Any]]:
    page = ok(tenant.get("/v1/contacts", params={"limit": 500}))
    return {c["number"]: c for c in page["data"]}


def test_good_rows_import_and_bad_rows_are_reported(tenant: Tenant) -> None:
    ok(tenant.post("/v1/contact-fields", {"key": "score", "type": "number"}), 201)
    ok(tenant.post("/v1/contact-fields", {"key": "since", "type": "date"}), 201)
    ok(tenant.post("/v1/lists", {"name": "Customers"}), 201)
    data = (
        b"Phone,First Name,email,score,since,tags\n"
        b"+31612345678,Ana,ana@example.com,7,2024-01-31,vip|nl\n"
        b"+31612345679,Bo,not-an-email,x,31/01/2024,\n"
        b"98765,Cy,,,,\n"
        b"+31 6 1234 5678,Dup,,,,\n"
        b",NoNumber,,,,\n"
        b"+14155550100,Dee,,3.5,,\n"
    )
    job = imported(tenant, data, list="Customers")
    assert job["state"] == "completed", job
    assert job["rows"] == {"created": 2, "updated": 0, "failed": 4}
    assert job["progress"] == 1.0 and job["read_as"] == "CSV, UTF-8, comma-separated"
    reported = {(e["line"], e["column"]) for e in job["errors"]}
    assert reported == {
        (3, "email"),
        (3, "score"),
        (3, "since"),
        (4, "Phone"),
        (5, "Phone"),
        (6, "Phone"),
    }
    for error in job["errors"]:
        assert "not-an-email" not in error["reason"] and "98765" not in error["reason"]
    stored = numbers(tenant)
    assert set(stored) == {"+31612345678", "+14155550100"}
    ana = stored["+31612345678"]
    assert (ana["first_name"], ana["email"], ana["tags"]) == (
        "Ana",
        "ana@example.com",
        ["nl", "vip"],
    )
    assert ana["fields"] == {"score": 7, "since": "2024-01-31"} and len(ana["lists"]) == 1
    errors = tenant.get(job["errors_url"])
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    lines = errors.text.splitlines()
    assert lines[0] == "line,column,reason" and len(lines) == 7


def test_reimporting_the_same_file_updates_and_never_duplicates(tenant: Tenant) -> None:
    data = b"number,first_name\n+31612345678,Ana\n+31612345679,Bo\n"
    first = imported(tenant, data)
    assert first["rows"] == {"created": 2, "updated": 0, "failed": 0}
    again = imported(tenant, data.replace(b"Ana", b"Anna"))
    assert again["rows"] == {"created": 0, "updated": 2, "failed": 0}
    stored = numbers(tenant)
    assert len(stored) == 2 and stored["+31612345678"]["first_name"] == "Anna"


@pytest.mark.parametrize(
    ("data", "read_as"),
    [
        ("\ufeffnumber;name\n+31612345678;Zoë\n".encode(), "CSV, UTF-8 with BOM, semicolon"),
        ("number\tname\n+31612345678\tZoë\n".encode(), "CSV, UTF-8, tab"),
        ("number,name\n+31612345678,Zoë\n".encode("cp1252"), "CSV, Windows-1252, comma"),
        ('number;name\n+31612345678;"Zoë\n"\n'.encode(), "CSV, UTF-8, semicolon"),
    ],
)
def test_encodings_and_separators(tenant: Tenant, data: bytes, read_as: str) -> None:
    job = imported(tenant, data, map="name=first_name")
    assert job["read_as"].startswith(read_as) and job["rows"]["created"] == 1, job
    assert numbers(tenant)["+31612345678"]["first_name"] == "Zoë"


def test_quoted_fields_keep_their_newlines(tenant: Tenant) -> None:
    ok(tenant.post("/v1/contact-fields", {"key": "notes", "type": "string"}), 201)
    data = b'number,notes\n+31612345678,"first line\nsecond, line"\n+31612345679,plain\n'
    job = imported(tenant, data)
    assert job["rows"]["created"] == 2, job
    assert numbers(tenant)["+31612345678"]["fields"]["notes"] == "first line\nsecond, line"


def test_hostile_files_give_row_errors(tenant: Tenant) -> None:
    long_line = b"+31612345670," + b"x" * (10 * 1024 * 1024) + b"\n"
    data = (
        b"number,first_name\n"
        b"+31612345678,Ana\n"
        + long_line
        + b"+31612345679,\xff\xfe bad bytes\n"
        + b"+31612345680,a,b,c\n"
        + b'+31612345681,"unclosed\n'
        + b"+31612345682,Last\n"
    )
    job = imported(tenant, data)
    assert job["state"] == "completed"
    assert job["rows"]["created"] == 1
    lines = {e["line"]: e["reason"] for e in job["errors"]}
    assert "longer than 1 MB" in lines[3]
    assert "not valid UTF-8" in lines[4]
    assert "columns" in lines[5]
    assert "control characters" in lines[6]  # the unclosed quote took the next line in
    assert "+31612345678" in numbers(tenant)


def test_invalid_utf8_after_a_utf8_start_is_a_row_error(tenant: Tenant) -> None:
    data = (
        b"number,first_name\n"
        + b"+31612345678,Ana\n" * 1
        + b"x" * 70_000
        + b"\n"
        + (b"+31612345679,Bad \xe9 byte\n+31612345680,Cy\n")
    )
    job = imported(tenant, data)
    reasons = {e["line"]: e["reason"] for e in job["errors"]}
    assert "not valid UTF-8" in reasons[4]
    assert {"+31612345678", "+31612345680"} <= set(numbers(tenant))


def test_json_lines(tenant: Tenant) -> None:
    ok(tenant.post("/v1/contact-fields", {"key": "vip", "type": "boolean"}), 201)
    data = (
        b'{"number": "+31612345678", "first_name": "Ana", "fields": {"vip": true}}\n'
        b"not json\n"
        b'["a list"]\n'
        b'{"number": "+31612345679", "shoe_size": 44}\n'
        b'{"number": "+31612345680", "fields": {"vip": "perhaps"}}\n'
        b'{"phone": "+31612345681", "tags": ["a", "b"]}\n'
    )
    job = imported(tenant, data, name="contacts.jsonl")
    assert job["read_as"] == "JSON lines, UTF-8"
    assert job["rows"] == {"created": 2, "updated": 0, "failed": 4}, job
    assert {e["line"] for e in job["errors"]} == {2, 3, 4, 5}
    stored = numbers(tenant)
    assert stored["+31612345678"]["fields"] == {"vip": True}
    assert stored["+31612345681"]["tags"] == ["a", "b"]


def test_a_raw_body_upload(tenant: Tenant) -> None:
    response = tenant.client.post(
        "/v1/contacts/imports",
        content=b"number\n+31612345678\n",
        headers={**tenant.headers, **CSV_TYPE},
    )
    assert finished(tenant, ok(response, 202))["rows"]["created"] == 1


def test_what_cannot_be_imported_is_a_clear_4xx(tenant: Tenant) -> None:
    good = b"number\n+31612345678\n"
    assert_problem(upload(tenant, good, list="Nope"), 404, "list_not_found", "list")
    assert_problem(upload(tenant, b"number,shoe_size\n+31612345678,44\n"), 400, "unknown_column")
    assert_problem(upload(tenant, b"first_name\nAna\n"), 400, "missing_number_column")
    assert_problem(upload(tenant, good, map="number=colour"), 400, "unknown_field")
    assert_problem(upload(tenant, good, map="nothing=number"), 400, "unknown_column")
    assert_problem(upload(tenant, good, map="bad"), 400, "invalid_map", "map")
    assert_problem(upload(tenant, b""), 400, "unreadable_file", "file")
    assert_problem(upload(tenant, b"\n\n"), 400, "unreadable_file", "file")
    no_file = tenant.client.post(
        "/v1/contacts/imports", files={"other": ("a.csv", good)}, headers=tenant.headers
    )
    assert_problem(no_file, 400, "missing_file", "file")
    wrong_type = tenant.client.post(
        "/v1/contacts/imports",
        content=good,
        headers={**tenant.headers, "Content-Type": "image/png"},
    )
    assert_problem(wrong_type, 415, "unsupported_media_type")
    assert_problem(tenant.get("/v1/contacts/imports/imp_nope"), 404, "import_not_found")
    assert ok(tenant.get("/v1/contacts/imports"))["data"] == []
