"""Redaction on request: POST /v1/privacy/redact and `tidings privacy redact`."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.api.helpers import assert_problem
from tests.support import Tenant
from tidings.cli.main import app as cli

TEXT = (
    "Hi, call +31 6 12345678 or 06-12345678,\nIBAN NL91 ABNA 0417 1643 00, order 1234567890123456"
)


def test_api_redacts_and_names_what_it_found(tenant: Tenant) -> None:
    response = tenant.post("/v1/privacy/redact", {"text": TEXT, "region": "NL"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "Hi, call [phone] or [phone],\nIBAN [iban], order 1234567890123456"
    assert [f["kind"] for f in body["findings"]] == ["phone", "phone", "iban"]
    first = body["findings"][0]
    assert TEXT[first["start"] : first["end"]] == "+31 6 12345678"
    without_region = tenant.post("/v1/privacy/redact", {"text": TEXT}).json()
    assert "06-12345678" in without_region["text"]


def test_api_refuses_bad_input(tenant: Tenant, client: TestClient) -> None:
    assert_problem(
        tenant.post("/v1/privacy/redact", {"text": "x", "region": "QQ"}), 400, "invalid_region"
    )
    assert_problem(tenant.post("/v1/privacy/redact", {"txt": "x"}), 422, "validation_error")
    assert_problem(client.post("/v1/privacy/redact", json={"text": "x"}), 401, "missing_api_key")


def test_cli_redacts_an_argument_or_stdin() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["privacy", "redact", "mail me at a.b@example.org"])
    assert result.exit_code == 0 and result.stdout == "mail me at [email]\n"
    piped = runner.invoke(cli, ["privacy", "redact", "--region", "NL", "--json"], input=TEXT)
    assert piped.exit_code == 0
    assert [f["kind"] for f in json.loads(piped.stdout)["findings"]] == ["phone", "phone", "iban"]
    bad = runner.invoke(cli, ["privacy", "redact", "x", "--region", "Atlantis"])
    assert bad.exit_code == 2 and "region" in bad.stderr


def test_message_list_in_export_form_redacts_bodies(tenant: Tenant) -> None:
    body = "Your refund goes to NL91ABNA0417164300; questions: help@acme.example"
    sent = tenant.post("/v1/messages", {"to": "+31612345678", "from": "Acme", "body": body})
    assert sent.status_code == 202
    plain = tenant.get("/v1/messages").json()["data"][0]
    assert plain["body"] == body
    exported = tenant.get("/v1/messages", params={"redact": "true"}).json()["data"][0]
    assert exported["body"] == "Your refund goes to [iban]; questions: [email]"
    assert exported["to"] == "+31612345678"  # the fields themselves stay as they are
