"""Promises about the record of processing (GDPR Art. 30), the registers and the notice.

Each test runs the real runtime on SQLite and PostgreSQL, reads the record through the
operator API (`GET /v1/admin/privacy/ropa`) and checks what the seed notices promise:
ICS-05 (every purpose carries its legal basis), ICS-10 (sub-processors registered, data in the
EU region, transfers only with a safeguard), ICS-13 (a named contact and DPO, the same in the
record and the notice), ICE-03 (the role per data set), ICE-11 (controller data in one
jurisdiction, the UK), BG-12 (encryption, pseudonymisation and a DPO among the measures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem
from tests.conftest import make_settings
from tidings.api.app import create_app
from tidings.core.clock import ManualClock
from tidings.domain.policy import ARTICLES
from tidings.privacy.datamap import build_data_map
from tidings.privacy.effective import with_registers
from tidings.privacy.notice import render_notice
from tidings.privacy.registers import Registers
from tidings.privacy.ropa import build_ropa
from tidings.runtime import Runtime, build_runtime
from tidings.store.tables import metadata

BASE = "/v1/admin/privacy"


class Deployment:
    """A runtime under one policy and region, its API, and an operator key."""

    def __init__(self, runtime: Runtime, client: TestClient) -> None:
        self.runtime = runtime
        self.client = client
        account = runtime.accounts.create_account("Acme")["account_id"]
        key = runtime.accounts.create_api_key(account, "ops", ["operator"], allow_operator=True)
        self.headers = {"Authorization": f"Bearer {key['api_key']}"}

    def ropa(self) -> dict[str, Any]:
        response = self.client.get(f"{BASE}/ropa", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def post(self, register: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"{BASE}/{register}", json=body, headers=self.headers)

    def notice(self) -> str:
        policy = with_registers(self.runtime.policy, self.runtime.registers.snapshot())
        return render_notice(policy, metadata)


Deploy = Callable[..., Any]


@pytest.fixture
def deploy(database_url: str, tmp_path: Path, clock: ManualClock) -> Deploy:
    @contextmanager
    def start(policy: str, region: str = "eu") -> Iterator[Deployment]:
        settings = make_settings(database_url, tmp_path / policy, policy=policy, region=region)
        rt = build_runtime(settings, clock)
        try:
            with TestClient(create_app(rt, run_workers=False)) as client:
                yield Deployment(rt, client)
        finally:
            rt.close()

    return start


def record(ropa: dict[str, Any], role: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in ropa["records"] if r["role"] == role)
    return found


def entries(ropa: dict[str, Any], role: str, ref: str) -> list[dict[str, str]]:
    element = next(e for e in record(ropa, role)["elements"] if e["ref"] == ref)
    found: list[dict[str, str]] = element["entries"]
    return found


def by_name(items: list[dict[str, str]]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in items}


@pytest.mark.promise("ICS-05")
def test_every_purpose_in_the_record_carries_its_legal_basis(deploy: Deploy) -> None:
    with deploy("ics") as ics:
        ropa = ics.ropa()
        policy = ics.runtime.policy
    personal = {i.data.purpose for i in build_data_map(metadata).personal()}
    listed = {}
    for role, ref in (("controller", "b"), ("processor", "b")):
        for entry in entries(ropa, role, ref):
            listed[entry["purpose"]] = entry
            basis = policy.basis_for(entry["purpose"])
            assert basis is not None
            assert (entry["legal_basis"], entry["article"]) == (basis.basis, basis.article)
            if role == "controller":  # the notice's two grounds: contract or legitimate interest
                assert entry["legal_basis"] in ("contract", "legitimate_interest")
                assert entry["article"] == ARTICLES[entry["legal_basis"]]
            else:
                assert entry["legal_basis"] == "processor_instruction"
    assert set(listed) == personal  # every purpose of the data map, none typed by hand
    assert not [p for p in ropa["problems"] if "legal basis" in p]

    # The basis comes from the policy: without it, the record says MISSING and flags it.
    without = replace(policy, bases=tuple(b for b in policy.bases if b.purpose != "authentication"))
    bare = build_ropa(
        without, Registers(region="eu"), metadata, [], datetime(2026, 3, 1, tzinfo=UTC)
    )
    signing_in = next(
        e for e in entries(bare, "controller", "b") if e["purpose"] == "authentication"
    )
    assert signing_in["legal_basis"] == "MISSING"
    assert "purpose 'authentication' has no legal basis in the policy" in bare["problems"]


@pytest.mark.promise("ICS-10")
def test_sub_processors_are_registered_in_the_eu_and_transfers_need_a_safeguard(
    deploy: Deploy,
) -> None:
    with deploy("ics") as ics:
        seeded = ics.runtime.registers.seed(ics.runtime.policy)
        assert {(s["service"], s["region"]) for s in seeded} == {
            ("hosting (server infrastructure)", "eu"),
            ("database", "eu"),
            ("application platform (PaaS)", "eu"),
        }
        ropa = ics.ropa()
        assert ropa["region"]["code"] == "eu"
        subprocessors = [e for e in entries(ropa, "processor", "a") if e["name"] == "Sub-processor"]
        assert {e["value"] for e in subprocessors} == {
            "Amazon Web Services (AWS)",
            "MongoDB",
            "Heroku",
        }
        assert {e["region"] for e in subprocessors} == {"eu"}
        # Nothing registered sends data out of the EU: the only transfer is the notice's
        # conditional one, with its safeguards.
        transfers = entries(ropa, "processor", "c")
        assert [t["name"] for t in transfers] == ["Declared by the policy"]
        assert "Standard Data Protection Clauses" in transfers[0]["safeguard"]

        refused = ics.post("subprocessors", {"name": "Analytics Inc", "service": "analytics",
                                             "region": "us"})  # fmt: skip
        assert_problem(refused, 400, "transfer_needs_safeguard", "safeguard")
        assert "Analytics Inc" not in str(ics.ropa())
        abroad = {"name": "Analytics Inc", "service": "analytics", "region": "us"}
        kept = ics.post("subprocessors", {**abroad, "safeguard": "code_of_conduct"})
        assert kept.status_code == 201
        transfers = {t["name"]: t for t in entries(ics.ropa(), "controller", "e")}
        assert transfers["Analytics Inc"]["safeguard"] == (
            "Approved code of conduct (Art. 46(2)(e) GDPR)"
        )
        assert "Analytics Inc, in United States: only with Approved code of conduct" in (
            ics.notice()
        )


@pytest.mark.promise("ICS-13")
def test_a_named_contact_and_dpo_in_record_and_notice(deploy: Deploy) -> None:
    with deploy("ics") as ics:
        ropa = ics.ropa()
        controller = entries(ropa, "controller", "a")
        assert by_name(controller)["Privacy contact"] == "Marin Georgiev, +359 877 000 123"
        assert "Privacy contact: Marin Georgiev, +359 877 000 123" in ics.notice()
        # ICS names no DPO: the record says so, and asks for one.
        assert by_name(controller)["Data protection officer"] == "none recorded"
        assert any("no data protection officer" in p for p in ropa["problems"])

        added = ics.post("contacts", {"kind": "dpo", "name": "Marin Georgiev",
                                      "email": "dpo@ics.example"})  # fmt: skip
        assert added.status_code == 201
        ropa = ics.ropa()
        for role in ("controller", "processor"):
            dpo = by_name(entries(ropa, role, "a"))["Data protection officer"]
            assert dpo == "Marin Georgiev, dpo@ics.example"
        assert "Data protection officer: Marin Georgiev, dpo@ics.example" in ics.notice()
        assert not any("no data protection officer" in p for p in ropa["problems"])


@pytest.mark.promise("ICE-03")
def test_the_record_states_the_role_per_data_set(deploy: Deploy) -> None:
    with deploy("icetrak", region="uk") as icetrak:
        ropa = icetrak.ropa()
    roles = ropa["roles"]
    assert roles["accounts"] == roles["users"] == "controller"
    assert roles["messages"] == "processor"
    if "contacts" in metadata.tables:  # the accounts' contact lists, when that table exists
        assert roles["contacts"] == "processor"
    assert set(record(ropa, "controller")["data_sets"]) >= {"accounts", "users"}
    assert "messages" not in record(ropa, "controller")["data_sets"]
    assert "messages" in record(ropa, "processor")["data_sets"]
    assert not {"accounts", "users"} & set(record(ropa, "processor")["data_sets"])
    # Every table with personal data has exactly one role, read from its columns.
    for name, role in roles.items():
        assert role in ("controller", "processor", "none"), name


@pytest.mark.promise("ICE-11")
def test_controller_data_stays_in_one_jurisdiction(deploy: Deploy) -> None:
    with deploy("icetrak", region="uk") as icetrak:
        icetrak.runtime.registers.seed(icetrak.runtime.policy)  # KashFlow, in the UK
        ropa = icetrak.ropa()
        assert ropa["region"] == {
            "code": "uk",
            "name": "United Kingdom",
            "law": "UK GDPR and the Data Protection Act 2018",
        }
        transfers = entries(ropa, "controller", "e")
        assert [(t["name"], t["region"]) for t in transfers] == [("None", "uk")]
        assert "stays in United Kingdom" in transfers[0]["destination"]
        processors = [e for e in entries(ropa, "controller", "a") if e["name"] == "Processor"]
        assert [(p["value"], p["region"]) for p in processors] == [
            ("KashFlow (www.kashflow.com)", "uk")
        ]
        location = by_name(entries(ropa, "controller", "g"))["Data location"]
        assert location.startswith("United Kingdom (uk)")
        # An EU host is abroad for a UK deployment: refused without a safeguard.
        eu_host = {"name": "EU host", "service": "hosting", "region": "eu"}
        assert_problem(
            icetrak.post("subprocessors", eu_host), 400, "transfer_needs_safeguard", "safeguard"
        )


@pytest.mark.promise("BG-12")
def test_security_measures_list_encryption_pseudonymisation_and_the_dpo(deploy: Deploy) -> None:
    with deploy("bg") as bg:
        ropa = bg.ropa()
    data_map = build_data_map(metadata)
    for role, ref in (("controller", "g"), ("processor", "d")):
        measures = by_name(entries(ropa, role, ref))
        encrypted = [i.name for i in data_map.personal(role) if i.protection == "encrypted"]
        indexed = [i.name for i in data_map.personal(role) if i.protection == "blind_index"]
        assert encrypted and indexed
        assert all(c in measures["Encryption at rest"] for c in encrypted)
        assert all(c in measures["Pseudonymisation (blind indexes)"] for c in indexed)
        assert measures["Data protection officer"].startswith("A Data Protection Officer")
