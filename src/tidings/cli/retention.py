"""`tidings retention run | log`: the retention sweep, by hand, and what sweeps did."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from tidings.privacy.retention import Report

retention_app = typer.Typer(
    help="The retention sweep: apply the policy's periods to the stored data.",
    no_args_is_help=True,
)
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)


def _moment(value: str | None) -> datetime | None:
    from tidings.cli.main import fail

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now {value!r} is not an ISO-8601 time; write it like 2031-01-01T00:00:00Z")
        raise
    if moment.tzinfo is None:
        fail(f"--now {value!r} has no time zone; add Z (UTC) or an offset like +02:00")
    return moment


def _table(entries: list[dict[str, Any]]) -> list[str]:
    lines = [f"  {'rule':<20} {'data set':<20} {'action':<13} {'count':>12}"]
    for e in entries:
        lines.append(f"  {e['rule']:<20} {e['data_set']:<20} {e['action']:<13} {e['count']:>12}")
    return lines


def _print_report(report: Report) -> None:
    from tidings.cli.main import out

    data = report.as_dict()
    policy = f"policy {report.policy!r} version {report.version}"
    if report.dry_run:
        head = f"dry run at {data['now']} under {policy}: nothing changed"
    else:
        head = f"sweep {report.run_id} at {data['now']} under {policy}"
    lines = [head, *_table(data["entries"])]
    if report.idle_rules:
        lines.append(f"rules that govern no data set yet: {', '.join(report.idle_rules)}")
    lines.extend(f"note: {n}" for n in report.notes)
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Count what would change per rule and data set; change nothing."
    ),
    now: str | None = typer.Option(
        None, "--now", help="Judge expiry at this ISO-8601 time instead of the clock's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Sweep now: delete, redact, pseudonymise or anonymise whatever is past its period."""
    from tidings.cli.main import _CliErrors, open_runtime

    moment = _moment(now)
    rt = open_runtime(config)
    try:
        with _CliErrors():
            report = rt.retention.sweep(moment, dry_run=dry_run)
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        _print_report(report)


@retention_app.command("log")
def retention_log(
    limit: int = typer.Option(20, "--limit", help="How many sweeps, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """The audit of past sweeps: rule, data set, action and count, with the policy version."""
    from tidings.cli.main import _CliErrors, open_runtime, out

    rt = open_runtime(config)
    try:
        with _CliErrors():
            runs = rt.retention.log(limit)
    finally:
        rt.close()
    if as_json:
        sys.stdout.write(json.dumps(runs, indent=2) + "\n")
        return
    for run in runs:
        policy = run["policy"]
        out.print(
            f"{run['run_id']}  at {run['now']}  policy {policy['name']!r} version "
            f"{policy['version']}  {run['status']} (started {run['started_at']})",
            highlight=False,
            soft_wrap=True,
        )
        for line in _table([e for e in run["entries"] if e["count"]]):
            out.print(line, highlight=False, soft_wrap=True)
