"""`tidings policy ...`: check a privacy policy, render its notice, show its rules."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tidings.core.clock import SystemClock
from tidings.core.config import load_settings
from tidings.core.errors import TidingsError
from tidings.domain.policy import Policy
from tidings.privacy.effective import with_registers
from tidings.privacy.notice import render_notice, rule_words
from tidings.privacy.policy import (
    DEFAULT_PRESET,
    PolicyError,
    check,
    classified_columns,
    configured_source,
    load_file,
    load_policy,
    load_preset,
    preset_names,
)
from tidings.privacy.registers import stored_registers
from tidings.store.tables import metadata

policy_app = typer.Typer(
    help="The privacy policy: retention rules and legal bases as code.", no_args_is_help=True
)

FileArgument = typer.Argument(
    None, help="A TOML policy file. Without it: --preset, else the configured policy."
)
PresetOption = typer.Option(
    None, "--preset", help=f"A shipped preset: {', '.join(preset_names())}."
)
ConfigOption = typer.Option(
    None, "--config", help="Config file whose [privacy] policy names the policy.", dir_okay=False
)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _load(file: Path | None, preset: str | None, config: Path | None) -> Policy:
    """FILE, or --preset, or TIDINGS_POLICY / the config file's [privacy] policy."""
    if file is not None and preset is not None:
        _fail("give a policy FILE or --preset NAME, not both")
    try:
        if file is not None:
            return load_file(file)
        if preset is not None:
            return load_preset(preset)
        settings = load_settings(config) if config is not None else None
        return load_policy(configured_source(settings))
    except PolicyError as exc:
        _fail(exc.detail)
        raise  # unreachable: _fail exits
    except TidingsError as exc:  # a broken config file
        _fail(exc.detail)
        raise


def _with_stored_registers(policy: Policy, config: Path | None) -> Policy:
    try:
        found = stored_registers(load_settings(config), SystemClock())
    except TidingsError as exc:
        _fail(exc.detail)
        raise
    except Exception as exc:  # a database that is down
        _fail(
            f"cannot read the privacy registers from the database ({type(exc).__name__}); "
            "pass --no-registers to render the policy alone"
        )
        raise
    return policy if found is None else with_registers(policy, found)


@policy_app.command("check")
def check_command(
    file: Path | None = FileArgument,
    preset: str | None = PresetOption,
    config: Path | None = ConfigOption,
) -> None:
    """Check a policy against the data map: exit 0 with a summary, or 2 listing every error."""
    policy = _load(file, preset, config)
    problems = check(policy, metadata)
    if problems:
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        typer.echo(f"error: policy {policy.name!r} has {count} {noun}:", err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(2)
    columns = [data for _, data in classified_columns(metadata) if data is not None]
    used = {data.retention for data in columns}
    typer.echo(
        f"ok: policy {policy.name!r} version {policy.version} (published "
        f"{policy.published.isoformat()}): {len(policy.rules)} rules, {len(policy.bases)} "
        f"legal bases; covers the {len(used)} retention rules of {len(columns)} classified "
        "columns"
    )


@policy_app.command("notice")
def notice_command(
    file: Path | None = FileArgument,
    preset: str | None = PresetOption,
    config: Path | None = ConfigOption,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the Markdown here instead of printing it."
    ),
    registers: bool = typer.Option(
        True,
        "--registers/--no-registers",
        help="With the configured policy: complete it from the registers in the database.",
    ),
) -> None:
    """Render the human-readable privacy notice (Markdown) from the policy and the data map.

    For the configured policy, the registers in the configured database complete it (privacy
    contact, DPO, supervisory authority, sub-processors), as in the record of processing."""
    policy = _load(file, preset, config)
    if registers and file is None and preset is None:
        policy = _with_stored_registers(policy, config)
    text = render_notice(policy, metadata)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}")


@policy_app.command("show")
def show_command(
    file: Path | None = FileArgument,
    preset: str | None = PresetOption,
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the policy's retention rules in words, with their purpose and legal basis."""
    policy = _load(file, preset, config)
    columns = dict(classified_columns(metadata))
    rows = []
    for rule in policy.rules:
        basis = policy.basis_for(rule.purpose) if rule.purpose else None
        rows.append(
            {
                "rule": rule.name,
                "title": rule.title,
                "period": str(rule.period) if rule.period else None,
                "anchor": rule.anchor,
                "until": list(rule.until),
                "action": None if rule.follows_record else rule.action,
                "purpose": rule.purpose,
                "basis": basis.basis if basis else None,
                "words": rule_words(rule, columns),
            }
        )
    if as_json:
        typer.echo(json.dumps({"policy": policy.name, "version": policy.version, "rules": rows}))
        return
    typer.echo(f"{policy.title} (policy {policy.name!r}, version {policy.version})")
    for row in rows:
        why = f" [{row['purpose']}: {row['basis']}]" if row["basis"] else ""
        typer.echo(f"  {row['title']}: {row['words']}{why}")


@policy_app.command("presets")
def presets_command() -> None:
    """List the presets shipped with Tidings."""
    for name in preset_names():
        policy = load_preset(name)
        default = "  (default)" if name == DEFAULT_PRESET else ""
        typer.echo(f"{name:<10} {policy.based_on or policy.title}{default}")
