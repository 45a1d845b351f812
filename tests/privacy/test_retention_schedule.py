"""`serve` sweeps on its own, every [privacy] retention_interval_seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_settings
from tests.privacy.retention_support import message_at, message_row
from tests.support import wait_until
from tidings.api.app import create_app
from tidings.core.clock import ManualClock
from tidings.runtime import build_runtime


def test_serve_runs_the_sweep_periodically(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    settings = make_settings(database_url, tmp_path / "data", retention_interval_seconds=0.05)
    rt = build_runtime(settings, clock)
    try:
        account = rt.accounts.create_account("Acme")["account_id"]
        message_id = message_at(rt, clock, account, datetime(2026, 1, 1, tzinfo=UTC))
        clock.set(datetime(2027, 1, 1, tzinfo=UTC))  # a year on: the text has expired
        with TestClient(create_app(rt)):
            wait_until(lambda: rt.retention.log(), message="a scheduled sweep")
            wait_until(lambda: rt.retention.log()[-1]["status"] == "finished", message="its end")
        assert message_row(rt, message_id).body_enc is None
        # A sweep every 0.05 s, and the test's clock stands still: every run has the same
        # start, so their order in the log is not theirs in time. Across all of them the
        # text was redacted once, by a sweep at the clock's time.
        runs = rt.retention.log(limit=1000)
        assert {run["now"] for run in runs} == {"2027-01-01T00:00:00Z"}
        redactions = [e["count"] for run in runs for e in run["entries"] if e["action"] == "redact"]
        assert sum(redactions) == 1
    finally:
        rt.close()


def test_the_interval_is_a_privacy_setting(tmp_path: Path) -> None:
    from tidings.core.config import load_settings
    from tidings.core.errors import ConfigError

    config = tmp_path / "tidings.toml"
    config.write_text(
        "[privacy]\nretention_interval_seconds = 900\nretention_batch = 5000\n"
        "retention_workers = 3\n"
    )
    settings = load_settings(config, env={})
    assert (settings.retention_interval_seconds, settings.retention_batch) == (900.0, 5000)
    assert settings.retention_workers == 3
    config.write_text("[privacy]\nretention_workers = 0\n")
    with pytest.raises(ConfigError, match="'retention_workers' must be between 1 and 16"):
        load_settings(config, env={})
    config.write_text("[privacy]\nretention_interval_seconds = -1\n")
    try:
        load_settings(config, env={})
    except ConfigError as exc:
        assert "retention_interval_seconds" in exc.detail
    else:
        raise AssertionError("a negative interval was accepted")
