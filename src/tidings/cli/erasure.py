"""`tidings privacy erase|erasures|redact|anonymise|stats`: data subjects' erasure by
crypto-shredding, the erasure log, redaction, anonymisation and anonymous statistics.

The commands join `tidings privacy` (cli/privacy.py)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import typer

from tidings.core.errors import TidingsError

erasure_app = typer.Typer(
    help="Data subjects: erasure by crypto-shredding, redaction of personal data in text.",
    no_args_is_help=True,
)
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)
HELD_EXIT = 3


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):  # no user name for this uid (containers)
        return "cli"


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")


@erasure_app.command("erase")
def erase(
    account: str = typer.Option(..., "--account", help="Account id (acc_...)."),
    subject: str | None = typer.Option(
        None,
        "--subject",
        help="The data subject: a phone number (E.164, like +31612345678) or a user id (usr_...).",
    ),
    whole_account: bool = typer.Option(
        False,
        "--whole-account",
        help="Close the account and destroy all its keys (its own and every subject's).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Erase a data subject by destroying their key: their numbers and message texts become
    unreadable here and in every backup. Exit 3 when a legal hold covers them."""
    from tidings.cli.main import open_runtime
    from tidings.privacy.erasure import SubjectHeld

    if (subject is None) == (not whole_account):
        _fail("give --subject NUMBER or --whole-account (one of them)")
    rt = open_runtime(config)
    try:
        if subject is not None:
            result = rt.erasure.erase_subject(
                account, subject, requested_by=_operator(), dry_run=dry_run
            )
        else:
            result = rt.erasure.erase_account(account, requested_by=_operator(), dry_run=dry_run)
    except SubjectHeld as exc:
        _fail(exc.detail, HELD_EXIT)
        raise
    except TidingsError as exc:
        _fail(exc.detail)
        raise
    finally:
        rt.close()
    _print(result.as_dict(), as_json)


@erasure_app.command("erasures")
def erasures(
    account: str | None = typer.Option(None, "--account", help="Only this account's."),
    limit: int = typer.Option(100, help="How many, newest first (1-500)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """The erasure log: who erased what kind of subject when, and how many rows."""
    from tidings.cli.main import open_runtime

    rt = open_runtime(config)
    try:
        entries = rt.erasure.list(account, limit)
    except TidingsError as exc:
        _fail(exc.detail)
        raise
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return
    for e in entries:
        typer.echo(
            f"{e['id']}  {e['created_at']}  {e['account_id']}  {e['scope']:<7} {e['outcome']:<6}"
            f"  keys={e['keys_destroyed']} messages={e['messages']} by {e['requested_by']}"
        )


@erasure_app.command("redact")
def redact_command(
    text: str | None = typer.Argument(None, help="The text; without it (or '-'), stdin."),
    region: str | None = typer.Option(
        None, "--region", help="ISO 3166 region (NL, GB...): also national phone numbers."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON with the findings."),
) -> None:
    """Replace phone numbers, emails, IBANs (mod-97 checked) and card numbers (Luhn checked)
    in text by [phone], [email], [iban], [card]. Works offline."""
    from tidings.domain.pii import is_region, redact

    if region is not None and not is_region(region):
        _fail(f"--region {region!r} is not an ISO 3166 region code like NL or GB")
    source = sys.stdin.read() if text in (None, "-") else text
    assert source is not None
    redacted, findings = redact(source, region)
    if as_json:
        findings_out = [f.as_dict() for f in findings]
        sys.stdout.write(json.dumps({"text": redacted, "findings": findings_out}) + "\n")
        return
    sys.stdout.write(redacted if redacted.endswith("\n") else redacted + "\n")


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date; write it as YYYY-MM-DD")
        raise


@erasure_app.command("anonymise")
def anonymise(
    before: str = typer.Option(
        ..., "--before", help="Anonymise messages created before this UTC day (YYYY-MM-DD)."
    ),
    account: str | None = typer.Option(None, "--account", help="Only this account's."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count them; change nothing."),
    config: Path | None = ConfigOption,
) -> None:
    """Anonymise messages for good: numbers, text, references and indexes go; the region,
    channel, status and times stay for statistics. The retention sweep does the same."""
    from tidings.cli.main import open_runtime

    day = _day(before, "--before")
    rt = open_runtime(config)
    try:
        cutoff = datetime.combine(day, time(), UTC)
        count = rt.anonymiser.anonymise_before(cutoff, account, dry_run=dry_run)
    finally:
        rt.close()
    typer.echo(f"{'would anonymise' if dry_run else 'anonymised'}: {count} messages")


@erasure_app.command("stats")
def stats(
    account: str = typer.Option(..., "--account", help="Account id."),
    since: str | None = typer.Option(None, help="First UTC day (default: 29 days ago)."),
    until: str | None = typer.Option(None, help="The day after the last (default: tomorrow)."),
    group_by: str = typer.Option("day,channel,status,country", "--group-by"),
    config: Path | None = ConfigOption,
) -> None:
    """Message counts from anonymous aggregates: groups of fewer than 5 are left out."""
    from tidings.cli.main import open_runtime
    from tidings.privacy.anonymise import default_period

    rt = open_runtime(config)
    try:
        first, end = default_period(rt.clock.now().date())
        result = rt.anonymiser.statistics(
            account,
            _day(since, "--since") if since else first,
            _day(until, "--until") if until else end,
            [g.strip() for g in group_by.split(",") if g.strip()],
        )
    except TidingsError as exc:
        _fail(exc.detail)
        raise
    finally:
        rt.close()
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
