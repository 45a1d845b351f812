from __future__ import annotations

from pathlib import Path

import pytest

from tidings.core.config import load_settings
from tidings.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    return path


def test_without_a_file_one_simulator_routes_everything(tmp_path: Path) -> None:
    settings = load_settings(None, env={"TIDINGS_DATA_DIR": str(tmp_path)})
    assert [c.type for c in settings.connectors] == ["simulator"]
    assert [(r.prefix, r.connector) for r in settings.routes] == [("+", "simulator")]
    assert settings.database_url == f"sqlite:///{tmp_path / 'tidings.db'}"


def test_connectors_and_routes_are_read(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
[[connectors]]
name = "primary"
type = "simulator"
tps = 50
window = 10
latency_ms = 1

[[connectors]]
name = "backup"
type = "simulator"

[[routes]]
prefix = "+31"
connector = "primary"
priority = 10

[[routes]]
prefix = "+"
connector = "backup"

[pipeline]
max_segments = 4
""",
    )
    settings = load_settings(config, env={"TIDINGS_DATABASE_URL": "sqlite:///x.db"})
    assert [c.name for c in settings.connectors] == ["primary", "backup"]
    assert settings.connectors[0].tps == 50.0
    assert settings.connectors[0].options == {"latency_ms": 1}
    assert settings.routes[0].priority == 10
    assert settings.max_segments == 4
    assert settings.database_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[connectors]]\ntype = 'simulator'\n", "'name' is required"),
        (
            "[[connectors]]\nname = 'a'\ntype = 'carrier-pigeon'\n",
            "type 'carrier-pigeon' is not known",
        ),
        ("[[connectors]]\nname = 'a'\ntype = 'simulator'\ntps = 0\n", "'tps' must be greater"),
        ("[[connectors]]\nname = 'a'\ntype = 'simulator'\nwindow = 'big'\n", "'window' must be"),
        (
            "[[connectors]]\nname = 'a'\ntype = 'simulator'\n[[routes]]\nprefix = '+'\n"
            "connector = 'b'\n",
            "connector 'b' is not declared",
        ),
        (
            "[[connectors]]\nname = 'a'\ntype = 'simulator'\n[[routes]]\nprefix = '31'\n"
            "connector = 'a'\n",
            "followed by digits, like",
        ),
        ("[nonsense]\n", "unknown section"),
        ("this is = = not toml", "not valid TOML"),
        ("[pipeline]\nmax_segments = 0\n", "'max_segments' must be between"),
        (
            "[[connectors]]\nname = 'a'\ntype = 'simulator'\n[[connectors]]\nname = 'a'\n"
            "type = 'simulator'\n",
            "declared twice",
        ),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), env={})


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_server_section_sets_the_public_url_and_trusted_proxies(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
[server]
public_url = "https://sms.example.com/"
forwarded_allow_ips = ["10.0.0.5", "192.168.10.0/24"]
""",
    )
    settings = load_settings(config, env={"TIDINGS_DATA_DIR": str(tmp_path)})
    assert settings.public_url == "https://sms.example.com"
    assert settings.forwarded_allow_ips == ("10.0.0.5", "192.168.10.0/24")
    from_env = load_settings(
        config,
        env={"TIDINGS_DATA_DIR": str(tmp_path), "TIDINGS_PUBLIC_URL": "https://opt.example.org"},
    )
    assert from_env.public_url == "https://opt.example.org"
    default = load_settings(None, env={"TIDINGS_DATA_DIR": str(tmp_path)})
    assert default.forwarded_allow_ips == ("127.0.0.1",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\npublic_url = "sms.example.com"', "'public_url' must be an http"),
        ('[server]\npublic_url = "https://x.example/?a=1"', "'public_url' must be"),
        ('[server]\nforwarded_allow_ips = ["not-an-ip"]', "'not-an-ip'.*not an IP"),
        ('[server]\nforwarded_allow_ips = "10.0.0.1"', "must be a list"),
        ("[server]\nport = 80", "unknown key.*port"),
    ],
)
def test_bad_server_section_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), env={"TIDINGS_DATA_DIR": str(tmp_path)})


def test_networks_webhooks_may_reach_are_read(tmp_path: Path) -> None:
    config = write(tmp_path, '[pipeline]\nwebhook_allowed_networks = ["10.0.0.0/8", "fd00::/8"]\n')
    settings = load_settings(config, env={"TIDINGS_DATA_DIR": str(tmp_path)})
    assert settings.webhook_allowed_networks == ("10.0.0.0/8", "fd00::/8")
    assert (
        load_settings(None, env={"TIDINGS_DATA_DIR": str(tmp_path)}).webhook_allowed_networks == ()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["ten"]', "webhook_allowed_networks.*'ten' is not a network"),
        ("[10]", "webhook_allowed_networks' must be a list of strings"),
        ('"10.0.0.0/8"', "webhook_allowed_networks' must be"),
    ],
)
def test_a_network_webhooks_may_reach_that_is_not_one_is_refused(
    tmp_path: Path, value: str, message: str
) -> None:
    config = write(tmp_path, f"[pipeline]\nwebhook_allowed_networks = {value}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={"TIDINGS_DATA_DIR": str(tmp_path)})


def test_webhook_deliveries_one_account_may_hold_at_once_are_read_and_bounded(
    tmp_path: Path,
) -> None:
    env = {"TIDINGS_DATA_DIR": str(tmp_path)}
    assert load_settings(None, env=env).webhook_concurrency_per_account == 10
    config = write(tmp_path, "[pipeline]\nwebhook_concurrency_per_account = 25\n")
    assert load_settings(config, env=env).webhook_concurrency_per_account == 25
    for value in ("0", "51", '"ten"'):
        config = write(tmp_path, f"[pipeline]\nwebhook_concurrency_per_account = {value}\n")
        with pytest.raises(ConfigError, match="webhook_concurrency_per_account"):
            load_settings(config, env=env)
