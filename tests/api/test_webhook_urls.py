"""Webhook URLs through the API: an account cannot point Tidings at addresses only Tidings
can reach (the loopback, private networks, cloud metadata), and a URL without a host is
refused at once. Nothing is written when a URL is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.helpers import VALID, assert_problem, message_ids
from tests.conftest import make_settings
from tests.support import Tenant
from tidings.core.config import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Tidings' default, where the suite allows the loopback for its receivers."""
    return make_settings(database_url, tmp_path / "data", webhook_allowed_networks=())


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://localhost:6379/", "https://[fd00::1]/"],
)
def test_account_webhook_to_an_internal_address_is_refused_and_the_old_one_kept(
    tenant: Tenant, url: str
) -> None:
    assert tenant.put("/v1/account/webhook", {"url": "https://hooks.example.com/a"}).is_success
    response = tenant.put("/v1/account/webhook", {"url": url})
    problem = assert_problem(response, 400, "destination_not_allowed", "url")
    assert "webhook_allowed_networks" in problem["detail"]
    assert tenant.get("/v1/account/webhook").json()["url"] == "https://hooks.example.com/a"


def test_account_webhook_without_a_host_is_refused(tenant: Tenant) -> None:
    assert_problem(tenant.put("/v1/account/webhook", {"url": "http://"}), 400, "invalid_url", "url")
    assert tenant.get("/v1/account/webhook").json()["url"] is None


def test_status_callback_to_a_private_address_is_refused_and_nothing_is_sent(
    tenant: Tenant,
) -> None:
    response = tenant.post("/v1/messages", {**VALID, "status_callback": "http://10.0.0.5/cb"})
    assert_problem(response, 400, "destination_not_allowed", "status_callback")
    response = tenant.post("/v1/messages", {**VALID, "status_callback": "https://exa mple.com"})
    assert_problem(response, 400, "invalid_status_callback", "status_callback")
    assert message_ids(tenant) == []


def test_batch_reports_internal_callbacks_by_index_and_accepts_the_rest(tenant: Tenant) -> None:
    items = [
        {**VALID, "status_callback": "https://hooks.example.com/cb"},
        {**VALID, "status_callback": "http://127.0.0.1:8000/v1/admin"},
        {**VALID, "status_callback": "http://[::ffff:169.254.169.254]/"},
        {**VALID},
    ]
    response = tenant.post("/v1/messages/batch", {"messages": items})
    assert response.status_code == 202, response.text
    result = response.json()
    assert [(e["index"], e["code"], e["field"]) for e in result["errors"]] == [
        (1, "destination_not_allowed", "status_callback"),
        (2, "destination_not_allowed", "status_callback"),
    ]
    assert sorted(m["index"] for m in result["messages"]) == [0, 3]
    assert len(message_ids(tenant)) == 2
