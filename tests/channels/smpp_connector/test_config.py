"""`type = "smpp"` in the --config file: read, and refused with the key to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.channels.smpp.concat import ConcatMethod
from tidings.channels.smpp_connector.connector import SmppConnector
from tidings.core.clock import ManualClock
from tidings.core.config import Settings, load_settings
from tidings.core.errors import ConfigError
from tidings.runtime import build_connector

GOOD = """
[[connectors]]
name = "op1"
type = "smpp"
host = "smsc.example.net"
port = 2776
system_id = "acme"
password = "s3cret"
system_type = "VMA"
bind = "pair"
tps = 50
window = 20
enquire_link_seconds = 15
long_messages = "sar"
tls = true

[[routes]]
prefix = "+31"
connector = "op1"
priority = 10
"""


def test_an_smpp_connector_is_read_from_the_config_file(tmp_path: Path) -> None:
    settings = load_settings_from(tmp_path, GOOD)
    (config,) = settings.connectors
    connector = build_connector(config, tmp_path, ManualClock())
    assert isinstance(connector, SmppConnector)
    options = connector.options
    assert (options.host, options.port, options.system_id, options.password) == (
        "smsc.example.net",
        2776,
        "acme",
        "s3cret",
    )
    assert (options.bind, options.tps, options.window, options.tls) == ("pair", 50.0, 20, True)
    assert options.long_messages is ConcatMethod.SAR
    assert options.enquire_link_seconds == 15.0
    assert settings.routes[0].connector == "op1"
    assert connector.status()["state"] == "stopped"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('host = "smsc.example.net"\n', "'host' is required"),
        ('password = "s3cret"\n', "'password' is required"),
        ('long_messages = "sar"\n', None),
        ('bind = "pair"\n', None),
    ],
)
def test_a_missing_key_is_named(tmp_path: Path, change: str, message: str | None) -> None:
    settings = load_settings_from(tmp_path, GOOD.replace(change, ""))
    if message is None:
        build_connector(settings.connectors[0], tmp_path, ManualClock())
        return
    with pytest.raises(ConfigError, match=message):
        build_connector(settings.connectors[0], tmp_path, ManualClock())


@pytest.mark.parametrize(
    ("line", "replacement", "message"),
    [
        ('bind = "pair"', 'bind = "both"', "'bind' must be"),
        ('long_messages = "sar"', 'long_messages = "udh32"', "'long_messages' must be one of"),
        ("port = 2776", "port = 70000", "'port' must be an integer from 1 to 65535"),
        ('password = "s3cret"', 'password = "much-too-long"', "'password' must be at most 8"),
        ("tls = true", 'tls = "yes"', "'tls' must be true or false"),
        ("enquire_link_seconds = 15", "enquire_link_seconds = 0", "greater than 0"),
        ("tls = true", "colour = 1", "unknown smpp key"),
    ],
)
def test_a_wrong_value_is_refused_with_the_key(
    tmp_path: Path, line: str, replacement: str, message: str
) -> None:
    settings = load_settings_from(tmp_path, GOOD.replace(line, replacement))
    with pytest.raises(ConfigError, match=message):
        build_connector(settings.connectors[0], tmp_path, ManualClock())


def load_settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "tidings.toml"
    path.write_text(text)
    return load_settings(path, env={})
