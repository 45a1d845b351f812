"""`tidings hold create | list | release`: legal holds that preserve records past retention."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer

hold_app = typer.Typer(
    help="Legal holds: preserve an account's (or one number's) records past their retention.",
    no_args_is_help=True,
)
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)


def _date(value: str | None, option: str) -> date | None:
    from tidings.cli.main import fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} {value!r} is not a date; write it as YYYY-MM-DD, like 2026-01-31")
        raise


def _line(hold: dict[str, Any]) -> str:
    subject = f"subject {hold['subject_index'][:12]}…" if hold["subject_index"] else "whole account"
    span = f"{hold['from'] or '…'} to {hold['to'] or '…'}"
    return (
        f"{hold['id']}  {hold['status']:<8} {hold['account_id']}  {subject}  {span}  "
        f"{hold['authority']}: {hold['reason']}"
    )


@hold_app.command("create")
def hold_create(
    account: str = typer.Option(..., "--account", help="Account id (acc_...)."),
    reason: str = typer.Option(..., "--reason", help="Why the records are held."),
    authority: str = typer.Option(..., "--authority", help="Who ordered the hold."),
    subject: str | None = typer.Option(
        None, "--subject", help="Hold only this phone number's records (E.164)."
    ),
    held_from: str | None = typer.Option(
        None, "--from", help="First day of records held (YYYY-MM-DD, UTC)."
    ),
    held_to: str | None = typer.Option(
        None, "--to", help="Last day of records held (YYYY-MM-DD, UTC, inclusive)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Place a legal hold: the retention sweep and erasure skip the records it covers."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    first, last = _date(held_from, "--from"), _date(held_to, "--to")
    rt = open_runtime(config)
    try:
        with _CliErrors():
            hold = rt.holds.create(
                account,
                reason=reason,
                authority=authority,
                subject=subject,
                held_from=first,
                held_to=last,
            )
    finally:
        rt.close()
    emit(hold, as_json)


@hold_app.command("list")
def hold_list(
    account: str | None = typer.Option(None, "--account", help="Only this account's holds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """List legal holds, active and released."""
    from tidings.cli.main import open_runtime, out

    rt = open_runtime(config)
    try:
        holds = rt.holds.list_holds(account)
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(holds, indent=2) + "\n")
        return
    for hold in holds:
        out.print(_line(hold), highlight=False, soft_wrap=True)


@hold_app.command("release")
def hold_release(
    hold_id: str = typer.Argument(..., help="The hold id (hld_...)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Release a hold: the next retention sweep removes what is past its period."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    rt = open_runtime(config)
    try:
        with _CliErrors():
            hold = rt.holds.release(hold_id)
    finally:
        rt.close()
    emit(hold, as_json)
