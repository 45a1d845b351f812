"""The privacy registers through /v1/admin/privacy (operator scope), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem, expect_problems
from tests.conftest import make_settings
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.core.errors import ConfigError
from tidings.runtime import Runtime, build_runtime

BASE = "/v1/admin/privacy"


@pytest.fixture
def ops(client: TestClient, runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )["api_key"]
    return {"Authorization": f"Bearer {key}"}


def _post(client: TestClient, ops: dict[str, str], register: str, body: Any) -> Any:
    return client.post(f"{BASE}/{register}", json=body, headers=ops)


def _listed(client: TestClient, ops: dict[str, str], register: str) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/{register}", headers=ops)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_subprocessors_are_added_listed_and_removed(
    client: TestClient, ops: dict[str, str]
) -> None:
    body = {"name": "Hetzner", "service": "hosting", "region": "eu"}
    created = _post(client, ops, "subprocessors", body)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["id"].startswith("spr_")
    assert (entry["region"], entry["safeguard"], entry["applies_to"]) == ("eu", None, "all")
    assert [e["name"] for e in _listed(client, ops, "subprocessors")] == ["Hetzner"]

    path = f"{BASE}/subprocessors/{entry['id']}"
    assert client.delete(path, headers=ops).status_code == 204
    assert _listed(client, ops, "subprocessors") == []
    assert_problem(client.delete(path, headers=ops), 404, "subprocessor_not_found")


@pytest.mark.promise("ICS-10")
def test_a_transfer_outside_the_region_needs_a_recorded_safeguard(
    client: TestClient, ops: dict[str, str]
) -> None:
    """The deployment is in the EU: a US sub-processor without a safeguard is refused and
    nothing is written; with standard contractual clauses it is registered."""
    us = {"name": "Twilio", "service": "SMS delivery", "region": "us"}
    problem = assert_problem(
        _post(client, ops, "subprocessors", us), 400, "transfer_needs_safeguard", "safeguard"
    )
    assert "outside this deployment's region" in problem["detail"]
    assert "scc" in problem["detail"]
    assert _listed(client, ops, "subprocessors") == []
    # No adequacy decision of the EU covers the US as a whole.
    assert_problem(
        _post(client, ops, "subprocessors", {**us, "safeguard": "adequacy"}),
        400,
        "transfer_needs_safeguard",
        "safeguard",
    )
    created = _post(client, ops, "subprocessors", {**us, "safeguard": "scc"})
    assert created.status_code == 201, created.text
    assert created.json()["safeguard"] == "scc"
    # The UK has an EU adequacy decision.
    uk = {"name": "UK mail", "service": "email", "region": "uk", "safeguard": "adequacy"}
    assert _post(client, ops, "subprocessors", uk).status_code == 201
    # A recipient abroad is a transfer too.
    abroad = {"name": "Carrier in India", "region": "in"}
    assert_problem(
        _post(client, ops, "recipients", abroad), 400, "transfer_needs_safeguard", "safeguard"
    )
    assert _listed(client, ops, "recipients") == []


def test_bad_register_input_names_the_field(client: TestClient, ops: dict[str, str]) -> None:
    good = {"name": "AWS", "service": "hosting", "region": "eu"}
    contact = {"kind": "dpo", "name": "Jane Doe", "email": "dpo@acme.example"}

    def post(case: tuple[str, dict[str, Any]]) -> Any:
        return _post(client, ops, *case)

    expect_problems(
        post,
        [
            ("unknown region", ("subprocessors", {**good, "region": "mars"}), 400,
             "unknown_region", "region"),
            ("unknown safeguard", ("subprocessors", {**good, "safeguard": "handshake"}), 400,
             "unknown_safeguard", "safeguard"),
            ("missing service", ("subprocessors", {"name": "AWS", "region": "eu"}), 422,
             "validation_error", "service"),
            ("blank name", ("subprocessors", {**good, "name": "   "}), 400,
             "invalid_request", "name"),
            ("unknown field", ("subprocessors", {**good, "colour": "red"}), 422,
             "validation_error", "colour"),
            ("bad applies_to", ("subprocessors", {**good, "applies_to": "everyone"}), 400,
             "invalid_request", "applies_to"),
            ("unknown kind", ("contacts", {**contact, "kind": "boss"}), 400,
             "invalid_request", "kind"),
            ("no way to reach", ("contacts", {"kind": "dpo", "name": "Jane"}), 400,
             "invalid_request", "email"),
            ("not an email", ("contacts", {**contact, "email": "jane"}), 400,
             "invalid_request", "email"),
            ("recipient without name", ("recipients", {"purpose": "x"}), 422,
             "validation_error", "name"),
        ],
    )  # fmt: skip
    for register in ("subprocessors", "recipients", "contacts"):
        assert _listed(client, ops, register) == []
        missing = client.delete(f"{BASE}/{register}/nope", headers=ops)
        assert missing.status_code == 404
        assert missing.json()["code"].endswith("_not_found")


def test_contacts_and_the_authority(client: TestClient, ops: dict[str, str]) -> None:
    contact = {"kind": "dpo", "name": "Jane Doe", "email": "dpo@acme.example"}
    created = _post(client, ops, "contacts", contact)
    assert created.status_code == 201, created.text
    assert created.json()["id"].startswith("pct_")
    assert [c["kind"] for c in _listed(client, ops, "contacts")] == ["dpo"]

    assert_problem(client.get(f"{BASE}/authority", headers=ops), 404, "authority_not_found")
    authority = {"name": "Commission for Personal Data Protection", "country": "Bulgaria"}
    saved = client.put(f"{BASE}/authority", json=authority, headers=ops)
    assert saved.status_code == 200, saved.text
    assert client.get(f"{BASE}/authority", headers=ops).json()["country"] == "Bulgaria"
    replaced = client.put(f"{BASE}/authority", json={"name": "ICO"}, headers=ops).json()
    assert (replaced["name"], replaced["country"]) == ("ICO", None)
    assert_problem(
        client.put(f"{BASE}/authority", json={"country": "UK"}, headers=ops),
        422,
        "validation_error",
        "name",
    )
    assert client.delete(f"{BASE}/authority", headers=ops).status_code == 204
    assert_problem(client.delete(f"{BASE}/authority", headers=ops), 404, "authority_not_found")


def test_settings_show_the_region(client: TestClient, ops: dict[str, str]) -> None:
    settings = client.get(f"{BASE}/settings", headers=ops).json()
    assert settings["region"] == "eu"
    assert settings["region_name"] == "European Union / EEA"
    assert settings["policy"] == "baseline"


@pytest.mark.promise("ICE-11")
def test_a_uk_deployment_treats_the_eu_as_abroad(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    rt = build_runtime(make_settings(database_url, tmp_path, region="uk"), clock)
    try:
        refused = {"name": "EU host", "service": "hosting", "region": "eu"}
        with pytest.raises(Exception) as caught:
            rt.registers.add_subprocessor(refused)
        assert getattr(caught.value, "code", None) == "transfer_needs_safeguard"
        ok = rt.registers.add_subprocessor({**refused, "safeguard": "adequacy"})
        assert ok["region"] == "eu"
        assert rt.registers.add_subprocessor({**refused, "name": "UK", "region": "uk"})
    finally:
        rt.close()


def test_an_unknown_region_in_the_config_stops_the_start(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with pytest.raises(ConfigError, match="region 'atlantis' is not known; use one of"):
        build_runtime(make_settings(database_url, tmp_path, region="atlantis"), clock)
