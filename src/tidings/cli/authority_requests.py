"""`tidings privacy authority-requests add | list | show | answer`: the register of requests
of courts and state authorities for data, and what was disclosed to them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from tidings.cli.holds import _date as day_option

authority_requests_app = typer.Typer(
    help="Requests of courts and state authorities for data, and what was disclosed.",
    no_args_is_help=True,
)
ConfigOption = typer.Option(
    None, "--config", help="TOML config file ([privacy] policy and region).", dir_okay=False
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def _line(entry: dict[str, Any]) -> str:
    reference = f" ({entry['reference']})" if entry["reference"] else ""
    answered = f" answered {entry['answered']}" if entry["answered"] else ""
    return (
        f"{entry['id']}  {entry['status']:<8} received {entry['received']}{answered}  "
        f"{entry['authority']}{reference}  account {entry['account_id'] or '-'}  "
        f"subject {entry['subject'] or '-'}"
    )


@authority_requests_app.command("add")
def add_command(
    authority: str = typer.Option(..., "--authority", help="The court or authority that asked."),
    legal_basis: str = typer.Option(
        ..., "--legal-basis", help="The legal provision the request cites."
    ),
    requested: str = typer.Option(..., "--requested", help="What the authority asked for."),
    reference: str | None = typer.Option(
        None, "--reference", help="Their reference or case number."
    ),
    account: str | None = typer.Option(None, "--account", help="The account concerned (acc_...)."),
    subject: str | None = typer.Option(
        None, "--subject", help="The phone number concerned (E.164); stored encrypted."
    ),
    received: str | None = typer.Option(
        None, "--received", help="The day the request arrived (YYYY-MM-DD, UTC; default today)."
    ),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Record a request of a court or a state authority for data."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    day = day_option(received, "--received")
    rt = open_runtime(config)
    try:
        with _CliErrors():
            entry = rt.authority_requests.add(
                authority=authority,
                legal_basis=legal_basis,
                requested=requested,
                reference=reference,
                account_id=account,
                subject=subject,
                received=day,
            )
    finally:
        rt.close()
    emit(entry, as_json)


@authority_requests_app.command("list")
def list_command(
    account: str | None = typer.Option(None, "--account", help="Only this account's requests."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """The register, newest first."""
    from tidings.cli.main import _CliErrors, every_page, open_runtime, out

    rt = open_runtime(config)
    try:
        with _CliErrors():
            entries = every_page(
                lambda cursor: rt.authority_requests.entries(
                    account_id=account, cursor=cursor, limit=500
                )
            )
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return
    for entry in entries:
        out.print(_line(entry), highlight=False, soft_wrap=True)


@authority_requests_app.command("show")
def show_command(
    request_id: str = typer.Argument(..., help="The request id (arq_...)."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """One request, with what was asked and disclosed."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    rt = open_runtime(config)
    try:
        with _CliErrors():
            entry = rt.authority_requests.get(request_id)
    finally:
        rt.close()
    emit(entry, as_json)


@authority_requests_app.command("answer")
def answer_command(
    request_id: str = typer.Argument(..., help="The request id (arq_...)."),
    disclosed: str = typer.Option(
        ..., "--disclosed", help="What was disclosed (or 'nothing', and why)."
    ),
    answered: str | None = typer.Option(
        None, "--answered", help="The day it was answered (YYYY-MM-DD, UTC; default today)."
    ),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Record the answer: what was disclosed and when. A request is answered once."""
    from tidings.cli.main import _CliErrors, emit, open_runtime

    day = day_option(answered, "--answered")
    rt = open_runtime(config)
    try:
        with _CliErrors():
            entry = rt.authority_requests.answer(request_id, disclosed=disclosed, answered=day)
    finally:
        rt.close()
    emit(entry, as_json)
