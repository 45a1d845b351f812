"""[billing] in the config file: currency, prices per segment, the statement interval."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tidings.core.config import BillingConfig, load_settings
from tidings.core.errors import ConfigError


def settings_of(tmp_path: Path, text: str) -> BillingConfig:
    config = tmp_path / "tidings.toml"
    config.write_text(text)
    return load_settings(config, env={}).billing


def test_prices_per_channel_and_direction(tmp_path: Path) -> None:
    billing = settings_of(
        tmp_path,
        '[billing]\ncurrency = "BGN"\nstatement_interval_seconds = 600\n'
        '[billing.prices.sms]\noutbound = "0.045"\ninbound = 0\n'
        "[billing.prices.viber]\noutbound = 0.02\n",
    )
    assert billing.currency == "BGN" and billing.statement_interval_seconds == 600
    assert billing.price("sms", "outbound") == Decimal("0.045")
    assert billing.price("viber", "outbound") == Decimal("0.02")  # a float read exactly
    assert billing.price("viber", "inbound") == billing.price("fax", "outbound") == 0


def test_without_a_billing_section_usage_is_counted_at_no_price(tmp_path: Path) -> None:
    billing = settings_of(tmp_path, "")
    assert billing == BillingConfig()
    assert billing.currency == "EUR" and billing.price("sms", "outbound") == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[billing]\ncurrency = "euro"\n', "'currency' must be an ISO 4217 code"),
        ("[billing]\nstatement_interval_seconds = -1\n", "'statement_interval_seconds'"),
        ("[billing]\nrate = 1\n", "unknown key(s) rate"),
        ('[billing.prices.sms]\noutbound = "-0.01"\n', "[billing.prices.sms] outbound"),
        ('[billing.prices.sms]\noutbound = "0.000001"\n', "at most 5 decimals"),
        ('[billing.prices.sms]\noutbound = "cheap"\n', 'a price like "0.045"'),
        ('[billing.prices.sms]\noutbound = "NaN"\n', "[billing.prices.sms] outbound"),
        ("[billing.prices.sms]\noutbound = true\n", 'a price like "0.045"'),
        ('[billing.prices.sms]\nsideways = "1"\n', "known: outbound, inbound"),
        ('[billing.prices]\nsms = "0.045"\n', "[billing.prices.sms] must be a table"),
        ('[billing.prices.SMS]\noutbound = "1"\n', "lowercase"),
    ],
)
def test_bad_billing_settings_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_of(tmp_path, text)
    assert message in refused.value.detail
