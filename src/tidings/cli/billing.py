"""`tidings billing statements issue | list | show`: monthly usage statements per account."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

billing_app = typer.Typer(
    help="Accounting records: monthly usage statements.", no_args_is_help=True
)
statements_app = typer.Typer(
    help="Monthly usage statements per account (immutable once issued).", no_args_is_help=True
)
billing_app.add_typer(statements_app, name="statements", no_args_is_help=True)
ConfigOption = typer.Option(
    None, "--config", help="TOML config file ([billing] currency and prices).", dir_okay=False
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def _line(statement: dict[str, Any]) -> str:
    return (
        f"{statement['id']}  {statement['period']}  {statement['account_id']}  "
        f"{statement['messages']} message(s), {statement['segments']} segment(s)  "
        f"{statement['total']} {statement['currency']}  issued {statement['issued_at']}"
    )


def _print_statement(statement: dict[str, Any], as_json: bool) -> None:
    from tidings.cli.main import out

    if as_json:
        sys.stdout.write(json.dumps(statement, indent=2) + "\n")
        return
    out.print(_line(statement), highlight=False, soft_wrap=True)
    for line in statement["lines"]:
        out.print(
            f"  {line['channel']:<8} {line['direction']:<8} {line['messages']:>8} message(s) "
            f"{line['segments']:>8} segment(s) x {line['unit_price']} = {line['amount']}",
            highlight=False,
        )


@statements_app.command("issue")
def issue_command(
    period: str = typer.Option(
        ..., "--period", help="The month, YYYY-MM (UTC); it must have ended."
    ),
    account: str | None = typer.Option(
        None, "--account", help="Only this account (default: every account open that month)."
    ),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Issue the statements of a month. Issuing again gives the same statements, never
    second ones; with --account, prints that account's statement."""
    from tidings.cli.main import _CliErrors, open_runtime, out

    rt = open_runtime(config)
    statement = None
    try:
        with _CliErrors():
            done = rt.statements.issue(period, account)
            if account is not None:
                statement = rt.statements.find(account, done.period)
    finally:
        rt.close()
    if statement is not None:
        _print_statement(statement, as_json)
    elif as_json:
        sys.stdout.write(json.dumps(done.as_dict(), indent=2) + "\n")
    else:
        out.print(
            f"{done.period}: issued {len(done.issued)} statement(s); "
            f"{done.already_issued} issued before",
            highlight=False,
        )


@statements_app.command("list")
def list_command(
    account: str | None = typer.Option(None, "--account", help="Only this account's."),
    period: str | None = typer.Option(None, "--period", help="Only this month (YYYY-MM)."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Statements, newest issued first."""
    from tidings.cli.main import _CliErrors, every_page, open_runtime, out

    rt = open_runtime(config)
    try:
        with _CliErrors():
            found = every_page(
                lambda cursor: rt.statements.entries(
                    account_id=account, period=period, cursor=cursor, limit=500
                )
            )
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return
    for statement in found:
        out.print(_line(statement), highlight=False, soft_wrap=True)


@statements_app.command("show")
def show_command(
    statement_id: str = typer.Argument(..., help="The statement id (stm_...)."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """One statement with its lines (channel, direction, counts, price, amount)."""
    from tidings.cli.main import _CliErrors, open_runtime

    rt = open_runtime(config)
    try:
        with _CliErrors():
            statement = rt.statements.get(statement_id)
    finally:
        rt.close()
    _print_statement(statement, as_json)
