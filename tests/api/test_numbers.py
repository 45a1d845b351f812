"""Numbers and sender ids an account owns: add, list, delete; each is owned by one account."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem
from tests.support import Tenant


def _add(tenant: Tenant, number: str) -> Any:
    return tenant.post("/v1/numbers", {"number": number})


def _listed(tenant: Tenant) -> list[tuple[str, str]]:
    response = tenant.get("/v1/numbers")
    assert response.status_code == 200, response.text
    return [(n["id"], n["number"]) for n in response.json()["data"]]


def test_add_e164_and_alphanumeric_then_list_them(tenant: Tenant) -> None:
    phone = _add(tenant, "+1 415-555-0100")
    assert phone.status_code == 201, phone.text
    assert phone.json()["number"] == "+14155550100"
    assert phone.json()["channel"] == "sms"
    assert phone.json()["id"].startswith("num_")
    name = _add(tenant, "Acme")
    assert name.status_code == 201, name.text
    assert name.json()["number"] == "Acme"
    assert sorted(_listed(tenant)) == sorted(
        [(phone.json()["id"], "+14155550100"), (name.json()["id"], "Acme")]
    )


def test_delete_releases_the_number(tenant: Tenant, other_tenant: Tenant) -> None:
    added = _add(tenant, "+14155550100").json()
    response = tenant.delete(f"/v1/numbers/{added['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert _listed(tenant) == []
    assert_problem(tenant.delete(f"/v1/numbers/{added['id']}"), 404, "number_not_found")
    assert _add(other_tenant, "+14155550100").status_code == 201


def test_duplicate_number_is_409_in_the_same_account(tenant: Tenant) -> None:
    first = _add(tenant, "+14155550100").json()
    problem = assert_problem(_add(tenant, "+1 (415) 555-0100"), 409, "number_taken")
    assert "+14155550100" not in problem["detail"]
    assert _listed(tenant) == [(first["id"], "+14155550100")]


def test_a_number_of_another_account_is_409(tenant: Tenant, other_tenant: Tenant) -> None:
    _add(tenant, "+14155550100")
    _add(tenant, "Acme")
    assert_problem(_add(other_tenant, "+14155550100"), 409, "number_taken")
    assert_problem(_add(other_tenant, "Acme"), 409, "number_taken")
    assert _listed(other_tenant) == []
    assert len(_listed(tenant)) == 2


def test_invalid_number_is_400(tenant: Tenant) -> None:
    for bad in ("12", "+999", "Acme Widgets Ltd", "!!!"):
        assert_problem(_add(tenant, bad), 400, "invalid_number", "number")
    assert _listed(tenant) == []


def test_delete_unknown_number_is_404(tenant: Tenant) -> None:
    response = tenant.delete("/v1/numbers/num_01kjmma2g0es08p3zc1dzq52b1")
    assert_problem(response, 404, "number_not_found")
