"""`tidings smpp ...`: the SMPP server's credentials."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from tidings.core.errors import InvalidInput
from tidings.smpp_server.credentials import DEFAULT_MAX_BINDS, DEFAULT_MAX_TPS, CredentialService

smpp_app = typer.Typer(help="The SMPP server that accounts bind to.", no_args_is_help=True)
credentials_app = typer.Typer(help="SMPP system_ids and passwords.", no_args_is_help=True)
smpp_app.add_typer(credentials_app, name="credentials")

# No markup: names, numbers and error details are data, and "[server]" is not a style.
out = Console(markup=False)
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)


@credentials_app.command("create")
def credentials_create(
    account: str = typer.Option(..., "--account", help="Account id."),
    max_binds: int = typer.Option(DEFAULT_MAX_BINDS, help="Sessions bound at once, at most."),
    max_tps: int = typer.Option(DEFAULT_MAX_TPS, help="Messages per second over all its binds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Create a system_id and password for binding; the password is printed once."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    rt = open_runtime(config)
    try:
        with _CliErrors():
            created = CredentialService(rt.db, rt.clock).create(
                account, max_binds=max_binds, max_tps=max_tps
            )
    finally:
        rt.close()
    emit(created, as_json)


@credentials_app.command("list")
def credentials_list(
    account: str = typer.Option(..., "--account", help="Account id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """List an account's SMPP credentials (never their passwords)."""
    from tidings.cli.main import open_runtime

    rt = open_runtime(config)
    items = CredentialService(rt.db, rt.clock).list(account)
    rt.close()
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2) + "\n")
        return
    for item in items:
        state = f"revoked {item['revoked_at']}" if item["revoked_at"] else "active"
        out.print(
            f"{item['id']}  {item['system_id']}  binds<={item['max_binds']}  "
            f"tps<={item['max_tps']}  {state}",
            highlight=False,
        )


@credentials_app.command("revoke")
def credentials_revoke(
    credential_id: str = typer.Argument(..., help="The credential id (smc_...)."),
    account: str = typer.Option(..., "--account", help="Account id."),
    config: Path | None = ConfigOption,
) -> None:
    """Revoke a credential: no new binds; bound sessions are closed."""
    from tidings.cli.main import _CliErrors, open_runtime

    rt = open_runtime(config)
    try:
        with _CliErrors():
            CredentialService(rt.db, rt.clock).revoke(account, credential_id)
    finally:
        rt.close()
    out.print(f"revoked {credential_id}")


@smpp_app.command("limits")
def account_limits(
    account: str = typer.Option(..., "--account", help="Account id."),
    max_binds: int | None = typer.Option(
        None, help="Sessions bound at once over all the account's credentials."
    ),
    max_tps: int | None = typer.Option(
        None, help="Messages per second over all the account's binds."
    ),
    clear: bool = typer.Option(False, "--clear", help="Only each credential's own caps."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Show or set an account's caps over all its SMPP credentials together."""
    from tidings.cli.main import _CliErrors, emit, fail, open_runtime

    if clear and (max_binds is not None or max_tps is not None):
        fail("give --clear alone, or --max-binds and --max-tps without it")
    rt = open_runtime(config)
    service = CredentialService(rt.db, rt.clock)
    try:
        with _CliErrors():
            if clear:
                caps = service.clear_account_caps(account)
            elif max_binds is None and max_tps is None:
                caps = service.account_caps(account)
            else:
                current = service.account_caps(account)
                binds = max_binds if max_binds is not None else current["max_binds"]
                tps = max_tps if max_tps is not None else current["max_tps"]
                if binds is None or tps is None:
                    missing = "--max-tps" if tps is None else "--max-binds"
                    raise InvalidInput(
                        f"the account has no caps yet: give {missing} too",
                        code="missing_limit",
                    )
                caps = service.set_account_caps(account, max_binds=binds, max_tps=tps)
    finally:
        rt.close()
    emit(caps, as_json)
