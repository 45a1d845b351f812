"""The record of processing (Art. 30) through the API and the CLI, generated from the data map,
the policy in force and the registers; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import assert_problem
from tests.conftest import make_settings
from tests.support import Tenant
from tidings.api.app import create_app
from tidings.cli.main import app as cli
from tidings.core.clock import ManualClock
from tidings.domain.policy import SubProcessor
from tidings.privacy.policy import check, load_preset
from tidings.privacy.registers import Registers, SubProcessorEntry
from tidings.privacy.ropa import build_ropa
from tidings.runtime import Runtime, build_runtime
from tidings.store.tables import metadata

BASE = "/v1/admin/privacy"
CONTROLLER_REFS = ["a", "b", "c", "d", "e", "f", "g"]
PROCESSOR_REFS = ["a", "b", "c", "d"]


def operator_headers(runtime: Runtime, account_id: str) -> dict[str, str]:
    key = runtime.accounts.create_api_key(account_id, "ops", ["operator"], allow_operator=True)
    return {"Authorization": f"Bearer {key['api_key']}"}


@pytest.fixture
def ops(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    return operator_headers(runtime, tenant.account_id)


def record(ropa: dict[str, Any], role: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in ropa["records"] if r["role"] == role)
    return found


def element(ropa: dict[str, Any], role: str, ref: str) -> list[dict[str, str]]:
    chosen = next(e for e in record(ropa, role)["elements"] if e["ref"] == ref)
    entries: list[dict[str, str]] = chosen["entries"]
    return entries


def get_ropa(client: TestClient, ops: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"{BASE}/ropa", headers=ops)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def test_every_element_of_both_records_is_present(
    client: TestClient, ops: dict[str, str], tenant: Tenant
) -> None:
    ropa = get_ropa(client, ops)
    assert [e["ref"] for e in record(ropa, "controller")["elements"]] == CONTROLLER_REFS
    assert [e["ref"] for e in record(ropa, "processor")["elements"]] == PROCESSOR_REFS
    for role in ("controller", "processor"):
        for item in record(ropa, role)["elements"]:
            assert item["entries"], f"{item['article']} is empty"
            assert item["article"].startswith("Art. 30(")
    # Art. 30(2)(a): each controller the operator processes for is an account.
    controllers = [
        e["value"] for e in element(ropa, "processor", "a") if e["name"].startswith("Controller")
    ]
    assert controllers == [f"Acme ({tenant.account_id})"]


def test_the_record_follows_the_registers(client: TestClient, ops: dict[str, str]) -> None:
    before = get_ropa(client, ops)
    assert element(before, "controller", "e")[0]["name"] == "None"  # baseline: no transfers
    sub = {"name": "Twilio", "service": "SMS delivery", "region": "us", "safeguard": "scc"}
    created = client.post(f"{BASE}/subprocessors", json=sub, headers=ops).json()
    after = get_ropa(client, ops)
    processors = [e["value"] for e in element(after, "processor", "a")]
    assert "Twilio" in processors
    recipients = {e["name"]: e for e in element(after, "controller", "d")}
    assert recipients["Twilio"]["location"] == "United States"
    transfers = {e["name"]: e for e in element(after, "processor", "c")}
    assert transfers["Twilio"]["safeguard"] == "Standard contractual clauses (Art. 46(2)(c) GDPR)"
    assert transfers["Twilio"]["destination"] == "United States"

    client.delete(f"{BASE}/subprocessors/{created['id']}", headers=ops)
    again = get_ropa(client, ops)
    assert "Twilio" not in json.dumps(record(again, "processor"))


def test_csv_and_markdown(client: TestClient, ops: dict[str, str]) -> None:
    response = client.get(f"{BASE}/ropa", params={"format": "csv"}, headers=ops)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["record", "article", "element", "name", "details"]
    articles = {row[1] for row in rows[1:] if row[1]}
    assert articles == {f"Art. 30(1)({r})" for r in CONTROLLER_REFS} | {
        f"Art. 30(2)({r})" for r in PROCESSOR_REFS
    }
    markdown = client.get(f"{BASE}/ropa", params={"format": "md"}, headers=ops)
    assert markdown.headers["content-type"].startswith("text/markdown")
    for ref in CONTROLLER_REFS:
        assert f"— Art. 30(1)({ref})\n" in markdown.text
    assert markdown.text.startswith("# Record of processing activities (GDPR Art. 30)\n")


def test_an_unknown_format_is_refused(client: TestClient, ops: dict[str, str]) -> None:
    response = client.get(f"{BASE}/ropa", params={"format": "xml"}, headers=ops)
    problem = assert_problem(response, 400, "unknown_format", "format")
    assert "json, csv, md" in problem["detail"]


def test_the_data_map_endpoint_lists_every_table(
    client: TestClient, ops: dict[str, str], runtime: Runtime
) -> None:

    view = client.get(f"{BASE}/data-map", headers=ops).json()
    assert sorted(d["name"] for d in view["data_sets"]) == sorted(metadata.tables)


@pytest.fixture
def icetrak(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(database_url, tmp_path, policy="icetrak"), clock)
    yield rt
    rt.close()


def test_periods_come_from_the_policy_in_force(
    client: TestClient, ops: dict[str, str], icetrak: Runtime
) -> None:
    baseline = {e["rule"]: e for e in element(get_ropa(client, ops), "controller", "f")}
    assert baseline["account_data"]["period"] == "7y"
    account = icetrak.accounts.create_account("Icetrak customer")["account_id"]
    with TestClient(create_app(icetrak, run_workers=False)) as other:
        ropa = get_ropa(other, operator_headers(icetrak, account))
    limits = {e["rule"]: e for e in element(ropa, "controller", "f")}
    assert ropa["policy"]["name"] == "icetrak"
    assert limits["account_data"]["time_limit"] == (
        "7 years after the account is closed, then deleted"
    )
    purposes = {e["purpose"]: e for e in element(ropa, "controller", "b")}
    assert purposes["account_management"]["legal_basis"] == "legitimate_interest"


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "TIDINGS_POLICY": "ics",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["privacy", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_cli_ropa_in_every_format(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(env, "ropa", "--format", "json")
    assert code == 0
    ropa = json.loads(out)
    assert ropa["policy"]["name"] == "ics"
    # Before seeding, the sub-processors the ICS notice names are in the record.
    assert {"Amazon Web Services (AWS)", "MongoDB", "Heroku"} <= {
        e["value"] for e in element(ropa, "controller", "a")
    }
    code, out, _ = run(env, "ropa", "--format", "csv")
    assert code == 0 and out.startswith("record,article,element,name,details\n")
    target = tmp_path / "ropa.md"
    code, out, _ = run(env, "ropa", "--output", str(target))
    assert (code, out) == (0, f"wrote {target}\n")
    assert "### (g) Technical and organisational security measures" in target.read_text()
    code, out, err = run(env, "ropa", "--format", "xml")
    assert code == 2 and out == ""
    assert err == "error: 'format' 'xml' is not known; use one of: json, csv, md\n"
    code, out, _ = run(env, "datamap")
    assert code == 0 and json.loads(out)["policy"] == "ics"


def test_a_transfer_left_without_safeguard_is_flagged() -> None:
    """A UK deployment whose register still holds an EU host (the region changed): the
    record lists the transfer as unsafeguarded and says what to fix."""

    registers = Registers(
        region="uk",
        subprocessors=(SubProcessorEntry("spr_1", "EU host", "hosting", "eu", None, "all"),),
    )
    ropa = build_ropa(
        load_preset("icetrak"), registers, metadata, [], datetime(2026, 3, 1, tzinfo=UTC)
    )
    transfers = {e["name"]: e for e in element(ropa, "controller", "e")}
    assert transfers["EU host"]["safeguard"] == "none recorded"
    assert (
        "EU host is in European Union / EEA, outside the deployment's region, with no "
        "recorded safeguard" in ropa["problems"]
    )


def test_policy_check_refuses_an_unknown_region_or_safeguard() -> None:

    policy = load_preset("ics")
    odd = replace(
        policy,
        subprocessors=(SubProcessor("Moon base", "hosting", "moon", "handshake"),),
    )
    problems = [str(p) for p in check(odd, metadata)]
    assert problems == [
        "[[subprocessors]] #1 (Moon base), region: region 'moon' is not known. Use one of: "
        "ar, au, br, ca, ch, eu, global, il, in, jp, kr, nz, sg, uk, us, uy, za.",
        "[[subprocessors]] #1 (Moon base), safeguard: safeguard 'handshake' is not known. "
        "Use one of: adequacy, bcr, certification, code_of_conduct, scc.",
    ]


@pytest.mark.promise("BG-08")
def test_the_statutory_records_are_in_the_controllers_record() -> None:
    """Accounting records and the register of authority requests are the operator's own
    (Art. 30(1)), each with its legal obligation and its period under the bg notice."""
    ropa = build_ropa(
        load_preset("bg"), Registers(region="eu"), metadata, [], datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert {"account_statements", "authority_requests"} <= set(
        record(ropa, "controller")["data_sets"]
    )
    assert not {"account_statements", "authority_requests"} & set(
        record(ropa, "processor")["data_sets"]
    )
    purposes = {e["purpose"]: e for e in element(ropa, "controller", "b")}
    assert purposes["accounting"]["legal_basis"] == "legal_obligation"
    assert purposes["accounting"]["data_sets"] == "account_statements"
    assert purposes["court_information"]["data_sets"] == "authority_requests"
    limits = {e["rule"]: e for e in element(ropa, "controller", "f")}
    assert (limits["accounting"]["period"], limits["court_information"]["period"]) == ("11y", "5y")
    assert ropa["roles"]["account_statement_lines"] == "none"  # counts and prices only
