"""The retention engine: applies the policy in force to the stored data.

The plan comes from the data map and the policy, not from a list of tables: every column
names its retention rule (store/tables.py), every data set declares where its anchor
events are recorded (`Lifecycle`), and the policy says for each rule how long, from which
event and what then (delete, redact, pseudonymise, anonymise). A sweep walks each step in
short batches, skipping what a legal hold preserves; each batch commits with its audit
count, so a crash loses nothing and the next sweep carries on (the work is idempotent).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.exc import OperationalError

from tidings.core.clock import Clock, iso, to_utc
from tidings.core.errors import ConfigError, InvalidInput
from tidings.core.ids import new_id
from tidings.domain.classification import INFO_KEY, DataClass
from tidings.domain.holds import Hold
from tidings.domain.policy import Policy, Rule
from tidings.domain.retention import LIFECYCLE_KEY, Lifecycle, Ref
from tidings.privacy.anonymise import Anonymiser
from tidings.store import holds as hold_store
from tidings.store import partitions
from tidings.store import retention as sweep_store
from tidings.store.database import Database
from tidings.store.partitions import Month
from tidings.store.retention import Batch, Step

log = logging.getLogger("tidings.retention")


# --- the plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    idle_rules: tuple[str, ...]  # rules of the policy that govern no data set (yet)
    notes: tuple[str, ...] = ()  # data sets a rule can never expire (an anchor not recorded)


def _references(table: Table) -> set[str]:
    lifecycle = table.info.get(LIFECYCLE_KEY)
    if not isinstance(lifecycle, Lifecycle):
        return set()
    refs = {s.table for s in lifecycle.anchors.values() if isinstance(s, Ref)}
    if lifecycle.parent is not None:
        refs.add(lifecycle.parent.table)
    return refs - {table.name}


def sweep_order(metadata: MetaData) -> list[Table]:
    """Tables before the tables they refer to (a message before its account), so a
    record's anchors still exist when it is judged."""
    tables = list(metadata.sorted_tables)
    pending = {t.name: _references(t) for t in tables}
    order: list[Table] = []
    while tables:
        referenced = set().union(*(pending[t.name] for t in tables))
        ready = [t for t in tables if t.name not in referenced] or tables[:1]
        order.extend(ready)
        tables = [t for t in tables if t not in ready]
    return order


def build_plan(policy: Policy, metadata: MetaData) -> Plan:
    """The steps a sweep takes under `policy`: one per (data set, timed rule)."""
    steps: list[Step] = []
    notes: list[str] = []
    used: set[str] = set()
    problems: list[str] = []
    sides = _side_tables(metadata)
    for table in sweep_order(metadata):
        if table.name in {s.name for found in sides.values() for s in found}:
            continue  # judged with the table whose fields it holds
        rules: dict[str, list[str]] = defaultdict(list)
        for holder in (table, *sides.get(table.name, ())):
            for column in holder.columns:
                data = column.info.get(INFO_KEY)
                if isinstance(data, DataClass):
                    rules[data.retention].append(f"{holder.name}.{column.name}")
        updates: list[Step] = []
        deletes: list[Step] = []
        anonymises: list[Step] = []
        for name in rules:
            rule = policy.rule(name)
            if rule is None or rule.follows_record:
                continue
            used.add(name)
            if rule.same_as:  # the rule it copies governs this data set too
                used.add(rule.same_as)
            if rule.period is None and not rule.until:
                continue
            lifecycle = table.info.get(LIFECYCLE_KEY)
            if not isinstance(lifecycle, Lifecycle):
                problems.append(f"{table.name} holds data under {name!r} but declares no lifecycle")
                continue
            events = ([rule.anchor] if rule.period and rule.anchor else []) + list(rule.until)
            if not any(e in lifecycle.anchors for e in events):
                notes.append(
                    f"rule {name!r} counts from {' or '.join(events)}, which {table.name} "
                    "does not record: its rows are not removed under this rule"
                )
                continue
            if rule.action == "delete":
                deletes.append(Step(rule, table, "delete"))
                continue
            if rule.action == "anonymise":  # the whole record, as `tidings privacy anonymise`
                if lifecycle.anonymised is None:
                    problems.append(
                        f"rule {name!r} would anonymise {table.name}, which cannot be "
                        "anonymised; delete, redact or pseudonymise it instead"
                    )
                elif not any(s.table is table for s in anonymises):
                    anonymises.append(Step(rule, table, "anonymise"))
                continue
            for side in sides.get(table.name, ()):
                named = [f for f in rule.fields if f.split(".", 1)[0] == side.name]
                if named:  # the side row holds nothing else: emptying it deletes it
                    updates.append(Step(rule, table, rule.action, side=side))
            fields = tuple(
                f.split(".", 1)[1] for f in rule.fields if f.split(".", 1)[0] == table.name
            )
            if not fields:
                continue
            fixed = [f for f in fields if not table.c[f].nullable]
            if fixed:
                names = ", ".join(f"{table.name}.{f}" for f in fixed)
                problems.append(
                    f"rule {name!r} would {rule.action} {names}, which cannot be empty; "
                    "delete the record instead or name other fields"
                )
                continue
            updates.append(Step(rule, table, rule.action, fields))
        # What is deleted need not be anonymised, nor what is anonymised redacted.
        steps.extend(deletes + anonymises + updates)
    if problems:
        raise ConfigError(
            f"the privacy policy {policy.name!r} cannot be applied: " + "; ".join(problems)
        )
    idle = tuple(r.name for r in policy.rules if r.name not in used and not r.follows_record)
    return Plan(tuple(steps), idle, tuple(notes))


def _side_tables(metadata: MetaData) -> dict[str, list[Table]]:
    """Table name -> the tables holding fields of its rows (`Lifecycle.fields_of`)."""
    found: dict[str, list[Table]] = defaultdict(list)
    for table in metadata.sorted_tables:
        lifecycle = table.info.get(LIFECYCLE_KEY)
        if isinstance(lifecycle, Lifecycle) and lifecycle.fields_of is not None:
            found[lifecycle.fields_of.table].append(table)
    return found


# --- reports ---------------------------------------------------------------------------


@dataclass
class Entry:
    rule: str
    data_set: str
    action: str
    count: int = 0


@dataclass
class Report:
    now: datetime
    policy: str
    version: str
    dry_run: bool
    run_id: str | None = None
    entries: list[Entry] = field(default_factory=list)
    idle_rules: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def entry(self, rule: str, data_set: str, action: str) -> Entry:
        for item in self.entries:
            if (item.rule, item.data_set, item.action) == (rule, data_set, action):
                return item
        item = Entry(rule, data_set, action)
        self.entries.append(item)
        return item

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "now": iso(self.now),
            "policy": {"name": self.policy, "version": self.version},
            "dry_run": self.dry_run,
            "entries": [vars(e) for e in self.entries],
            "idle_rules": list(self.idle_rules),
            "notes": list(self.notes),
        }


# --- the service ------------------------------------------------------------------------


class RetentionService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policy: Policy,
        metadata: MetaData,
        anonymiser: Anonymiser,
        *,
        batch_size: int = 10_000,
        workers: int = 2,
    ) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy
        self._anonymiser = anonymiser
        self._batch = batch_size
        self._workers = workers
        self._report_lock = threading.Lock()
        self.plan = build_plan(policy, metadata)

    def sweep(
        self,
        now: datetime | None = None,
        *,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> Report:
        """Apply every step at `now` (default: the clock); with `dry_run`, only count.
        Setting `stop` ends the sweep after the batch under way (the run stays
        unfinished; the next sweep carries on)."""
        now = to_utc(now) if now is not None else self._clock.now()
        report = Report(
            now,
            self._policy.name,
            self._policy.version,
            dry_run,
            idle_rules=self.plan.idle_rules,
            notes=self.plan.notes,
        )
        with self._db.read() as conn:
            last = sweep_store.latest_run_now(conn)
        if last is not None and now < to_utc(last):
            raise InvalidInput(
                f"'now' {iso(now)} is before the last sweep's time {iso(to_utc(last))}; "
                "a sweep cannot go back in time: give a later time or leave --now out",
                code="sweep_in_the_past",
                extra={"field": "now"},
            )
        if dry_run:
            self._count(report)
        else:
            self._apply(report, stop or threading.Event())
        return report

    def _count(self, report: Report) -> None:
        with self._db.read() as conn:
            holds = hold_store.active_holds(conn)
            for number, step in enumerate(self.plan.steps):
                taken_before = [  # rows an earlier step deletes or anonymises
                    d
                    for d in self.plan.steps[:number]
                    if d.table is step.table and d.action in ("delete", "anonymise")
                ]
                count, extra = sweep_store.count_due(conn, step, report.now, holds, taken_before)
                report.entry(step.rule.name, step.data_set, step.action).count += count
                for data_set, more in extra.items():
                    report.entry(step.rule.name, data_set, "delete").count += more

    def _apply(self, report: Report, stop: threading.Event) -> None:
        started = self._clock.now()
        report.run_id = new_id("ret", started)
        with self._db.write() as conn:
            last = sweep_store.latest_run_now(conn)
            if last is not None and report.now < to_utc(last):  # a sweep that started meanwhile
                raise InvalidInput(
                    f"'now' {iso(report.now)} is before the last sweep's time {iso(to_utc(last))}",
                    code="sweep_in_the_past",
                    extra={"field": "now"},
                )
            sweep_store.insert_run(
                conn,
                run_id=report.run_id,
                now=report.now,
                policy=report.policy,
                version=report.version,
                started=started,
            )
            for step in self.plan.steps:
                self._audit(conn, report, step.rule, step.data_set, step.action, 0)
        for step in self.plan.steps:
            if not self._apply_step(report, step, stop):
                log.info("retention sweep %s stopped before its end", report.run_id)
                return
        with self._db.write() as conn:
            sweep_store.finish_run(conn, report.run_id, self._clock.now())
        changed = sum(e.count for e in report.entries)
        log.info("retention sweep %s at %s: %d rows", report.run_id, iso(report.now), changed)

    def _apply_step(self, report: Report, step: Step, stop: threading.Event) -> bool:
        """Every batch of one step; False when stopped before the end.

        On PostgreSQL the months whose records are all due go first, each emptied whole
        (store/partitions.py). Then batches: consecutive ranges of the data set's key. On
        PostgreSQL up to `workers` of them are in flight at once, each in its own
        transaction on its own connection (disjoint ranges: they never wait on each
        other's rows)."""
        if not self._empty_whole_months(report, step, stop):
            return False
        workers = 1 if self._db.is_sqlite else self._workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:
            running: set[Future[None]] = set()
            after: Any = None
            while True:
                if len(running) >= workers:  # wait for a free connection
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
                if stop.is_set():
                    _drain(running)
                    return False
                with self._db.read() as conn:
                    more, upper = sweep_store.next_upper(conn, step, after, self._batch)
                if not more:
                    break
                running.add(pool.submit(self._run_batch, report, step, after, upper))
                if upper is None:
                    break
                after = upper
            _drain(running)
        return True

    def _empty_whole_months(self, report: Report, step: Step, stop: threading.Event) -> bool:
        """Empty each ended month whose records the step takes all (False when stopped)."""
        if self._db.is_sqlite or not sweep_store.empties_months(step):
            return True
        with self._db.read() as conn:
            holds = hold_store.active_holds(conn)
            ended = [  # a month still under way can still get messages
                m for m in partitions.months(conn) if m.plus(1).start <= report.now
            ]
            candidates = [
                m for m in ended if sweep_store.worth_emptying(conn, step, report.now, holds, m)
            ]
        for month in candidates:
            if stop.is_set():
                return False

            def apply(conn: Any, holds: list[Hold], month: Month = month) -> Batch | None:
                return sweep_store.empty_month(conn, step, report.now, holds, month)

            try:
                self._commit(report, step, apply)
            except OperationalError as exc:
                if not _lock_not_had(exc):
                    raise
                log.info("month %s of %s is busy: left to the batches", month, step.data_set)
        return True

    def _run_batch(self, report: Report, step: Step, after: Any, upper: Any) -> None:
        shred = self._anonymiser

        def apply(conn: Any, holds: list[Hold]) -> Batch:
            if step.action == "anonymise":
                ids = sweep_store.due_keys(conn, step, report.now, holds, after, upper)
                count, destroyed = shred.anonymise_in(conn, ids) if ids else (0, [])
                return Batch(count, upper, {}, key_ids=tuple(destroyed))
            return sweep_store.apply_batch(conn, step, report.now, holds, after, upper)

        self._commit(report, step, apply)

    def _commit(
        self, report: Report, step: Step, apply: Callable[[Any, list[Hold]], Batch | None]
    ) -> None:
        """Apply one batch and audit it in one transaction; then destroy the keys that
        protect nothing any more."""
        shred = self._anonymiser
        with self._db.write() as conn:
            holds = hold_store.active_holds(conn)  # a hold placed mid-sweep counts at once
            batch = apply(conn, holds)
            if batch is None:
                return
            destroyed = list(batch.key_ids)
            if step.action != "anonymise":  # anonymising destroyed its keys itself
                shred.destroy_material(destroyed)  # the records go in this transaction
            with self._report_lock:
                self._audit(conn, report, step.rule, step.data_set, step.action, batch.count)
                for data_set, count in batch.dependants.items():
                    if batch.count:  # as the dry run: dependants appear when rows go
                        self._audit(conn, report, step.rule, data_set, "delete", count)
        shred.forget(destroyed)
        if batch.subjects:
            # After the commit, so the batch beside this one has either committed (and its
            # deletions are seen here) or will look again itself once it has.
            with self._db.write() as conn:
                holds = hold_store.active_holds(conn)
                destroyed = shred.destroy_unused_keys(conn, batch.subjects, holds)
            shred.forget(destroyed)
            if destroyed:
                log.info("retention sweep %s destroyed %d keys", report.run_id, len(destroyed))

    def _audit(
        self, conn: Any, report: Report, rule: Rule, data_set: str, action: str, count: int
    ) -> None:
        assert report.run_id is not None
        report.entry(rule.name, data_set, action).count += count
        sweep_store.add_to_audit(
            conn,
            run_id=report.run_id,
            rule=rule.name,
            data_set=data_set,
            action=action,
            count=count,
            at=self._clock.now(),
        )

    # --- the log -------------------------------------------------------------------
    def log(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest sweeps, newest first, each with what it did per rule and data set."""
        if not 1 <= limit <= 1000:
            raise InvalidInput(
                "'limit' must be between 1 and 1000", code="invalid_limit", extra={"field": "limit"}
            )
        with self._db.read() as conn:
            runs = sweep_store.list_runs(conn, limit)
            entries = sweep_store.audit_of(conn, [r.id for r in runs])
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in entries:
            by_run[e.run_id].append(
                {"rule": e.rule, "data_set": e.data_set, "action": e.action, "count": e.count}
            )
        return [
            {
                "run_id": r.id,
                "now": iso(r.now),
                "policy": {"name": r.policy_name, "version": r.policy_version},
                "started_at": iso(r.started_at),
                "finished_at": iso(r.finished_at),
                "status": "finished" if r.finished_at is not None else "unfinished",
                "entries": by_run[r.id],
            }
            for r in runs
        ]


def _lock_not_had(exc: OperationalError) -> bool:
    """A lock wait that ran past its limit (PostgreSQL's lock_not_available)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _drain(running: set[Future[None]]) -> None:
    """Wait for the batches in flight; raise the first one's error."""
    for future in wait(running).done:
        future.result()


# --- the periodic worker -----------------------------------------------------------------


def scheduled_sweep(service: RetentionService) -> Callable[[threading.Event], None]:
    """The sweep as `serve` runs it (core/periodic.py): a clock behind the last sweep's
    time skips a run instead of failing it."""

    def run(stopping: threading.Event) -> None:
        try:
            service.sweep(stop=stopping)
        except InvalidInput as exc:
            log.warning("retention sweep skipped: %s", exc.detail)

    return run
