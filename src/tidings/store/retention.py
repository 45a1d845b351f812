"""The retention sweep's SQL: expired and held rows as predicates, batches, runs and audit.

Everything is set-based: a batch is a range of the data set's key, the next n keys
(read from the key's index alone), and its due rows' dependants and the rows themselves
are deleted or their fields nulled by range statements. No row travels to Python, so the cost
does not grow with per-row round trips, and each batch is its own short transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    MetaData,
    Row,
    Select,
    Table,
    and_,
    delete,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tidings.domain.holds import Hold
from tidings.domain.policy import Action, Rule
from tidings.domain.retention import LIFECYCLE_KEY, Lifecycle, Ref, anchor_ranges
from tidings.store.partitions import PARTITIONED, Month
from tidings.store.tables import retention_audit, retention_runs


@dataclass(frozen=True)
class Step:
    """One rule applied to one data set: which rows expire and what happens to them."""

    rule: Rule
    table: Table
    action: Action
    fields: tuple[str, ...] = ()  # the columns nulled (not for delete)
    # A table holding fields of `table`'s rows (`Lifecycle.fields_of`): the step redacts
    # or pseudonymises them by deleting its rows of the due records.
    side: Table | None = None

    @property
    def lifecycle(self) -> Lifecycle:
        return lifecycle_of(self.table)

    @property
    def key(self) -> Any:
        return self.table.c[self.lifecycle.key]

    @property
    def data_set(self) -> str:
        """The table whose rows the step changes (what the audit names)."""
        return (self.side if self.side is not None else self.table).name

    @property
    def walk_key(self) -> Any:
        """The key whose index the batches walk: the side table's, when there is one, so
        a sweep after the fields are gone has nothing to walk."""
        if self.side is None:
            return self.key
        return self.side.c[lifecycle_of(self.side).key]


@dataclass(frozen=True)
class Batch:
    count: int
    last_key: Any
    dependants: dict[str, int]
    # (account, subject index) of the deleted rows of a keyed data set: their keys may
    # now protect nothing
    subjects: frozenset[tuple[str, bytes]] = frozenset()
    key_ids: tuple[str, ...] = ()  # data keys deleted: their material goes from the vault


def lifecycle_of(table: Table) -> Lifecycle:
    value = table.info.get(LIFECYCLE_KEY)
    if not isinstance(value, Lifecycle):
        raise LookupError(f"table {table.name} declares no retention lifecycle")
    return value


def _value(table: Table, source: str | Ref) -> Any:
    if isinstance(source, str):
        return table.c[source]
    other = table.metadata.tables[source.table]
    other_key = next(iter(other.primary_key.columns))
    return (
        select(other.c[source.column]).where(other_key == table.c[source.local]).scalar_subquery()
    )


def expired(step: Step, now: datetime) -> ColumnElement[bool]:
    """Rows whose time under the rule is up at `now` (exactly as `expires_at` says)."""
    rule, lifecycle, table = step.rule, step.lifecycle, step.table
    parts: list[ColumnElement[bool]] = []
    if rule.period is not None and rule.anchor is not None and rule.anchor in lifecycle.anchors:
        value = _value(table, lifecycle.anchors[rule.anchor])
        for low, high in anchor_ranges(rule.period, now):
            parts.append(value <= high if low is None else and_(value >= low, value <= high))
    for event in rule.until:
        if event in lifecycle.anchors:
            parts.append(_value(table, lifecycle.anchors[event]) <= now)
    return or_(*parts) if parts else false()


def held(table: Table, holds: Iterable[Hold]) -> ColumnElement[bool]:
    """Rows an active hold preserves (see `Lifecycle` for what a hold covers)."""
    lifecycle = lifecycle_of(table)
    cases: list[ColumnElement[bool]] = []
    if not lifecycle.account:  # the operator's own data (inquiries): holds are per account
        return false()
    for hold in holds:
        if not hold.active:
            continue
        terms: list[ColumnElement[bool]] = [_equals(table.c[lifecycle.account], hold.account_id)]
        if lifecycle.at is not None:
            if hold.subject_index is not None and lifecycle.subjects:
                terms.append(
                    or_(*(_equals(table.c[s], hold.subject_index) for s in lifecycle.subjects))
                )
            if hold.held_from is not None:
                terms.append(table.c[lifecycle.at] >= hold.held_from)
            if hold.held_until is not None:
                terms.append(table.c[lifecycle.at] < hold.held_until)
        cases.append(and_(*terms))
    return or_(*cases) if cases else false()


def _equals(column: Any, value: Any) -> ColumnElement[bool]:
    """`column = value`, false (not unknown) where a nullable column is NULL: a row without
    an account or subject is not held by a hold of one, and NOT(held) must stay true."""
    if column.nullable:
        return and_(column.is_not(None), column == value)
    return column == value  # type: ignore[no-any-return]


def _due(step: Step, now: datetime, holds: Sequence[Hold]) -> ColumnElement[bool]:
    terms = [expired(step, now)]
    for column, values in step.lifecycle.busy.items():
        terms.append(step.table.c[column].not_in(values))
    if holds:
        terms.append(not_(held(step.table, holds)))
    if step.action == "anonymise":
        terms.append(step.table.c[str(step.lifecycle.anonymised)].is_(None))
    elif step.action != "delete" and step.side is None:
        terms.append(or_(*(step.table.c[f].is_not(None) for f in step.fields)))
    return and_(*terms)


def dependants(metadata: MetaData, table: Table) -> list[tuple[Table, Ref]]:
    """Tables whose rows belong to a row of `table` (they go when it is deleted)."""
    found = []
    for other in metadata.sorted_tables:
        lifecycle = other.info.get(LIFECYCLE_KEY)
        parent = lifecycle.parent if isinstance(lifecycle, Lifecycle) else None
        if parent is not None and parent.table == table.name:
            found.append((other, parent))
    return found


def _walk_dependants(
    table: Table, keys: Select[Any], within: Callable[[Any], ColumnElement[bool]] | None = None
) -> Iterator[tuple[Table, ColumnElement[bool]]]:
    """(table, rows of it belonging to `keys`), deepest first. With `within`, the keys
    lie in that range of their column, which is said to each child too, so it finds its
    rows by a range of its index rather than by a probe per key."""
    for child, ref in dependants(table.metadata, table):
        belongs: ColumnElement[bool] = child.c[ref.local].in_(keys)
        if within is not None:
            belongs = and_(belongs, within(child.c[ref.local]))
        if dependants(child.metadata, child):
            child_key = child.c[lifecycle_of(child).key]
            yield from _walk_dependants(child, select(child_key).where(belongs))
        yield child, belongs


def _in_range(column: Any, after: Any, upper: Any) -> ColumnElement[bool]:
    terms = [column > after] if after is not None else []
    if upper is not None:
        terms.append(column <= upper)
    return and_(true(), *terms)


# --- counting and applying ------------------------------------------------------------


def count_due(
    conn: Connection,
    step: Step,
    now: datetime,
    holds: Sequence[Hold],
    taken_before: Sequence[Step] = (),
) -> tuple[int, dict[str, int]]:
    """How many rows a sweep at `now` would change, and (for delete) their dependants;
    rows the `taken_before` steps take first are not counted again."""
    due = _due(step, now, holds)
    if taken_before:
        due = and_(due, not_(or_(*(_due(d, now, holds) for d in taken_before))))
    if step.side is not None:
        side_rows = select(func.count()).select_from(step.side).where(_side_of(step, due))
        return int(conn.execute(side_rows).scalar_one()), {}
    count = conn.execute(select(func.count()).select_from(step.table).where(due)).scalar_one()
    extra: dict[str, int] = {}
    if step.action == "delete" and count:
        for child, belongs in _walk_dependants(step.table, select(step.key).where(due)):
            found = conn.execute(select(func.count()).select_from(child).where(belongs))
            extra[child.name] = extra.get(child.name, 0) + found.scalar_one()
    return count, extra


def next_upper(conn: Connection, step: Step, after: Any, size: int) -> tuple[bool, Any]:
    """The range of the next batch: (whether any key lies above `after`, the `size`-th
    key above it, or None when fewer are left). It reads the key's index only, so
    choosing a batch costs nothing per row however few of its rows are due."""
    key = step.walk_key
    above = select(key).where(key > after) if after is not None else select(key)
    first = conn.execute(above.order_by(key).limit(1)).first()
    if first is None:
        return False, None
    upper = conn.execute(above.order_by(key).offset(size - 1).limit(1)).scalar()
    return True, upper


def due_keys(
    conn: Connection, step: Step, now: datetime, holds: Sequence[Hold], after: Any, upper: Any
) -> list[Any]:
    """The keys of the due rows in (after, upper] (for an action done outside SQL)."""
    batch = and_(_due(step, now, holds), _in_range(step.key, after, upper))
    return list(conn.execute(select(step.key).where(batch).order_by(step.key)).scalars())


def apply_batch(
    conn: Connection,
    step: Step,
    now: datetime,
    holds: Sequence[Hold],
    after: Any,
    upper: Any,
) -> Batch:
    """Delete the due rows with a key in (after, upper] (None: unbounded), their
    dependants first, or null their fields; returns how many, per data set."""
    key = step.key
    batch = and_(_due(step, now, holds), _in_range(key, after, upper))
    if step.side is not None:
        side_rows = and_(_side_of(step, batch), _in_range(step.walk_key, after, upper))
        changed = conn.execute(delete(step.side).where(side_rows)).rowcount
        return Batch(changed, upper, {})
    if conn.dialect.name == "postgresql":
        return _apply_batch_in_one_statement(conn, step, batch, (after, upper))
    if step.action != "delete":
        nulls = dict.fromkeys(step.fields)
        changed = conn.execute(update(step.table).where(batch).values(nulls)).rowcount
        return Batch(changed, upper, {})
    removed: dict[str, int] = {}
    key_ids: list[str] = []
    for child, belongs in _walk_dependants(step.table, select(key).where(batch)):
        if lifecycle_of(child).key_material:
            key_ids += _keys_of(conn, child, belongs)
        gone = conn.execute(delete(child).where(belongs)).rowcount
        removed[child.name] = removed.get(child.name, 0) + gone
    if step.lifecycle.key_material:
        key_ids += _keys_of(conn, step.table, batch)
    subjects = _subjects_of(conn, step, batch)
    changed = conn.execute(delete(step.table).where(batch)).rowcount
    return Batch(changed, upper, removed, subjects, tuple(key_ids))


def _subjects_of(
    conn: Connection, step: Step, rows: ColumnElement[bool]
) -> frozenset[tuple[str, bytes]]:
    """(account, subject index) of the `rows` of a keyed data set."""
    subjects: set[tuple[str, bytes]] = set()
    if not step.lifecycle.keyed:
        return frozenset()
    account = step.table.c[step.lifecycle.account]
    columns = [step.table.c[c] for c in step.lifecycle.subjects]
    if conn.dialect.name == "postgresql" and len(columns) > 1:  # one pass over the rows
        either = func.unnest(pg_array(columns)).label("subject")
        found = select(account, either).where(rows).distinct()
        return frozenset((a, bytes(i)) for a, i in conn.execute(found))
    for column in columns:
        found = select(account, column).where(rows).distinct()
        subjects.update((a, bytes(i)) for a, i in conn.execute(found))
    return frozenset(subjects)


def _side_of(step: Step, rows: ColumnElement[bool]) -> ColumnElement[bool]:
    """The side table's rows of the step's records that match `rows`. A correlated
    EXISTS: PostgreSQL runs it as a merge of the two keys' ranges."""
    assert step.side is not None
    ref = lifecycle_of(step.side).fields_of
    assert ref is not None
    parent = step.table
    belongs = parent.c[ref.column] == step.side.c[ref.local]
    return select(parent.c[ref.column]).where(belongs, rows).exists()


def _keys_of(conn: Connection, table: Table, rows: ColumnElement[bool]) -> list[str]:
    key = table.c[lifecycle_of(table).key]
    return [str(k) for k in conn.execute(select(key).where(rows)).scalars()]


def _apply_batch_in_one_statement(
    conn: Connection, step: Step, batch: ColumnElement[bool], bounds: tuple[Any, Any]
) -> Batch:
    """PostgreSQL: remove the batch's dependants and apply the action in one statement
    of data-modifying CTEs (one round trip, one snapshot)."""
    # Room to collect a batch's subjects in memory: the default (4 MB) spills them to disk.
    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    lifecycle, key = step.lifecycle, step.key
    counts: list[tuple[str, Any]] = []
    key_lists: list[Any] = []
    subjects: list[Any] = []
    if step.action == "delete":
        keys = select(key).where(batch)
        within = partial(_in_range, after=bounds[0], upper=bounds[1])
        for number, (child, belongs) in enumerate(_walk_dependants(step.table, keys, within)):
            child_key = child.c[lifecycle_of(child).key]
            gone = delete(child).where(belongs).returning(child_key).cte(f"gone_{number}")
            counts.append((child.name, select(func.count()).select_from(gone)))
            if lifecycle_of(child).key_material:
                key_lists.append(select(func.array_agg(gone.c[child_key.name])))
        action: Any = delete(step.table)
    else:
        action = update(step.table).values(dict.fromkeys(step.fields))
    returned = [key]
    if step.action == "delete" and lifecycle.keyed:
        returned += [
            step.table.c[lifecycle.account],
            *(step.table.c[s] for s in lifecycle.subjects),
        ]
    done = action.where(batch).returning(*returned).cte("done")
    if step.action == "delete" and lifecycle.key_material:
        key_lists.append(select(func.array_agg(done.c[key.name])))
    if len(returned) > 1:
        account = done.c[lifecycle.account]
        pairs = union(
            *(select(account.label("a"), done.c[s].label("i")) for s in lifecycle.subjects)
        ).subquery()
        both = select(
            func.array_agg(pairs.c.a).label("a"), func.array_agg(pairs.c.i).label("i")
        ).cte("subjects")  # referenced twice, computed once
        subjects = [select(both.c.a).scalar_subquery(), select(both.c.i).scalar_subquery()]
    row = conn.execute(
        select(
            select(func.count()).select_from(done).scalar_subquery(),
            *(query.scalar_subquery() for _, query in counts),
            *(query.scalar_subquery() for query in key_lists),
            *subjects,
        )
    ).one()
    values = list(row)
    changed = int(values.pop(0))
    removed: dict[str, int] = {}
    for name, _ in counts:
        removed[name] = removed.get(name, 0) + int(values.pop(0))
    key_ids = [str(k) for _ in key_lists for k in (values.pop(0) or ())]
    found: set[tuple[str, bytes]] = set()
    if subjects:
        accounts, indexes = values.pop(0) or (), values.pop(0) or ()
        found = {(a, bytes(i)) for a, i in zip(accounts, indexes, strict=True)}
    return Batch(changed, bounds[1], removed, frozenset(found), tuple(key_ids))


# --- whole months (PostgreSQL) ---------------------------------------------------------


def empties_months(step: Step) -> bool:
    """Whether the step's rows are in monthly partitions it can empty whole: deleting
    partitioned records, or deleting the partitioned table that holds their fields."""
    if step.table.name not in PARTITIONED:
        return False
    if step.side is not None:
        return step.side.name in PARTITIONED
    return step.action == "delete"


def empty_month(
    conn: Connection, step: Step, now: datetime, holds: Sequence[Hold], month: Month
) -> Batch | None:
    """Empty the step's partitions of `month` whole (TRUNCATE) when every record of the
    month is due; None, with nothing changed, when one is not.

    The partitions are locked against writes (reads go on) while the month is judged, so
    no record becomes undue between the judging and the emptying; a lock not had within
    `_LOCK_WAIT` raises, and the month is left to the batches. The counts, subjects and
    keys reported are those a batch deleting the same rows would report."""
    records = step.table
    in_month = and_(step.key >= month.low, step.key < month.high)
    partitioned_dependants: list[Table] = []
    if step.side is None:
        partitioned_dependants = [
            child for child, _ in dependants(records.metadata, records) if child.name in PARTITIONED
        ]
    emptied = [step.side] if step.side is not None else [*partitioned_dependants, records]
    locked = {month.partition(t.name) for t in (records, *emptied)}
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'")
    conn.exec_driver_sql(f"LOCK TABLE {', '.join(sorted(locked))} IN SHARE MODE")
    undue = not_(func.coalesce(_due(step, now, holds), false()))
    if conn.execute(select(select(step.key).where(in_month, undue).exists())).scalar():
        return None
    if step.side is not None:
        side_key = step.walk_key
        count = _count(conn, step.side, and_(side_key >= month.low, side_key < month.high))
        if not count:
            return None
        _truncate(conn, [month.partition(step.side.name)])
        return Batch(count, month.high, {})
    count = _count(conn, records, in_month)
    if not count:
        return None
    removed: dict[str, int] = {}
    key_ids: list[str] = []

    def within(column: Any) -> ColumnElement[bool]:
        return and_(column >= month.low, column < month.high)

    for child, belongs in _walk_dependants(records, select(step.key).where(in_month), within):
        if lifecycle_of(child).key_material:
            key_ids += _keys_of(conn, child, belongs)
        if child in partitioned_dependants:  # the truncate takes the partition's every row
            parent = lifecycle_of(child).parent
            assert parent is not None
            gone = _count(conn, child, within(child.c[parent.local]))
        else:
            gone = conn.execute(delete(child).where(belongs)).rowcount
        removed[child.name] = removed.get(child.name, 0) + gone
    if step.lifecycle.key_material:
        key_ids += _keys_of(conn, records, in_month)
    subjects = _subjects_of(conn, step, in_month)
    _truncate(conn, [month.partition(t.name) for t in emptied])
    return Batch(count, month.high, removed, subjects, tuple(key_ids))


_LOCK_WAIT = "2s"


def worth_emptying(
    conn: Connection, step: Step, now: datetime, holds: Sequence[Hold], month: Month
) -> bool:
    """Whether `empty_month` may find the month all due, judged without a lock from its
    newest record (the last to become due): a month already emptied, or crossing the
    rule's boundary, costs a probe or two of an index, not a scan."""
    walked = step.walk_key  # nothing to change in the month: nothing to look at
    if not conn.execute(
        select(walked).where(walked >= month.low, walked < month.high).limit(1)
    ).first():
        return False
    key = step.key
    newest = (
        select(func.coalesce(_due(step, now, holds), false()))
        .where(key >= month.low, key < month.high)
        .order_by(key.desc())
        .limit(1)
    )
    return bool(conn.execute(newest).scalar())


def _count(conn: Connection, table: Table, rows: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(rows)).scalar_one())


def _truncate(conn: Connection, partitions: Sequence[str]) -> None:
    conn.exec_driver_sql(f"TRUNCATE {', '.join(partitions)}")


# --- runs and audit ------------------------------------------------------------------


def latest_run_now(conn: Connection) -> datetime | None:
    value: datetime | None = conn.execute(select(func.max(retention_runs.c.now))).scalar()
    return value


def insert_run(
    conn: Connection, *, run_id: str, now: datetime, policy: str, version: str, started: datetime
) -> None:
    conn.execute(
        insert(retention_runs).values(
            id=run_id, now=now, policy_name=policy, policy_version=version, started_at=started
        )
    )


def finish_run(conn: Connection, run_id: str, at: datetime) -> None:
    conn.execute(update(retention_runs).where(retention_runs.c.id == run_id).values(finished_at=at))


def add_to_audit(
    conn: Connection,
    *,
    run_id: str,
    rule: str,
    data_set: str,
    action: str,
    count: int,
    at: datetime,
) -> None:
    """Add `count` to the run's entry for (rule, data set, action), creating it (one
    statement: batches running side by side may create it at the same moment)."""
    values = {
        "run_id": run_id,
        "rule": rule,
        "data_set": data_set,
        "action": action,
        "count": count,
        "updated_at": at,
    }
    upsert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(retention_audit)
    conn.execute(
        upsert.values(values).on_conflict_do_update(
            index_elements=["run_id", "rule", "data_set", "action"],
            set_={"count": retention_audit.c.count + count, "updated_at": at},
        )
    )


def list_runs(conn: Connection, limit: int) -> list[Row[Any]]:
    query = select(retention_runs).order_by(retention_runs.c.id.desc()).limit(limit)
    return list(conn.execute(query))


def audit_of(conn: Connection, run_ids: Sequence[str]) -> list[Row[Any]]:
    if not run_ids:
        return []
    query = (
        select(retention_audit)
        .where(retention_audit.c.run_id.in_(list(run_ids)))
        .order_by(retention_audit.c.rule, retention_audit.c.data_set, retention_audit.c.action)
    )
    return list(conn.execute(query))
