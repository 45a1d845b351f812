"""Monthly partitions of the message tables on PostgreSQL.

A message id begins with the time the message was accepted (core/ids.py), so a month of
messages is a range of ids. On PostgreSQL `messages`, `message_bodies` and
`message_events` are partitioned by that range (migration 0017), one partition a month
for each, and a default partition takes the ids of months not made yet. When every
message of a month is due for deletion, the retention sweep empties the month's
partitions whole instead of deleting its rows one by one (store/retention.py). SQLite
keeps plain tables: nothing here runs on it.

`ensure_months` makes the months a clock is about to need (serve runs it at start and
daily); a month whose messages went to the default partition meanwhile gets them moved
into its own partition as it is made.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

from tidings.core.clock import Clock
from tidings.core.ids import lowest_id
from tidings.core.months import Month as CalendarMonth
from tidings.store.database import Database

log = logging.getLogger("tidings.partitions")

# table -> the column holding the message id it is partitioned by
PARTITIONED: dict[str, str] = {
    "messages": "id",
    "message_bodies": "message_id",
    "message_events": "message_id",
}
# Room left free in each page of a table (of each partition of a partitioned one): a row
# is rewritten in its own page (HOT) only if the page has room for the new version. A
# message changes status three times; a part is updated by its receipt.
FILLFACTOR: dict[str, int] = {"messages": 50, "message_parts": 40}
MONTHS_AHEAD = 3  # months after the current one that exist before a message needs them
_LOCK_WAIT = "5s"
_NAME = re.compile(r"^(?P<table>[a-z_]+)_m(?P<year>\d{4})(?P<month>\d{2})$")


class Month(CalendarMonth):
    """A calendar month as a range of message ids, and its partitions."""

    @property
    def low(self) -> str:
        """The smallest message id of the month (inclusive bound)."""
        return lowest_id("msg", self.start)

    @property
    def high(self) -> str:
        """The smallest message id of the next month (exclusive bound)."""
        return lowest_id("msg", self.end)

    def partition(self, table: str) -> str:
        return f"{table}_m{self.year:04d}{self.month:02d}"


def default_partition(table: str) -> str:
    return f"{table}_default"


def is_partition(name: str) -> bool:
    """Whether a table name is one of the partitions (not a table the schema declares)."""
    found = _NAME.match(name)
    if found is not None and found["table"] in PARTITIONED:
        return True
    return any(name == default_partition(t) for t in PARTITIONED)


def partitioned(conn: Connection) -> bool:
    """Whether this database keeps messages in monthly partitions."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('messages')")
    ).scalar()
    return bool(kind == "p")


def partitions_of(conn: Connection, table: str) -> list[str]:
    """The names of `table`'s partitions, its default one included (PostgreSQL)."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": table},
    ).scalars()
    return sorted(names)


def months(conn: Connection, table: str = "messages") -> list[Month]:
    """The months `table` has a partition of, oldest first."""
    found = []
    for name in partitions_of(conn, table):
        match = _NAME.match(name)
        if match is not None and match["table"] == table:
            found.append(Month(int(match["year"]), int(match["month"])))
    return sorted(found)


def ensure_months(conn: Connection, wanted: Iterable[Month]) -> list[Month]:
    """Make the partitions of the `wanted` months that do not exist; returns those made.

    A partition is made as a table of its own, filled with the month's rows from the
    default partition, and attached: attaching locks the parent only against schema
    changes, so messages keep flowing meanwhile."""
    if not partitioned(conn):
        return []
    # One maker at a time (serve's roles start together); each waits briefly for its locks.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('tidings.partitions'))"))
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'")
    have = set(months(conn))
    made = []
    for month in sorted(set(wanted) - have):
        for table, column in PARTITIONED.items():
            _attach(conn, table, column, month)
        made.append(month)
    return made


def ensure_ahead(conn: Connection, now: datetime) -> list[Month]:
    """The current month's partitions and those of the next `MONTHS_AHEAD` months."""
    current = Month.of(now)
    return ensure_months(conn, (current.plus(n) for n in range(MONTHS_AHEAD + 1)))


def make_ahead(db: Database, now: datetime) -> None:
    """`ensure_ahead` as `serve` runs it, at start and daily: a month not made for want
    of a lock is made at the next run; until then its messages wait in the default
    partition, where everything works but emptying them whole."""
    try:
        with db.write() as conn:
            made = ensure_ahead(conn, now)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        log.warning("message partitions not made (their tables were busy); next run")
        return
    if made:
        log.info("message partitions made for %s", ", ".join(map(str, made)))


def scheduled_months(db: Database, clock: Clock) -> Callable[[threading.Event], None]:
    """`make_ahead` for serve's periodic job (core/periodic.py)."""
    return lambda _stopping: make_ahead(db, clock.now())


def _attach(conn: Connection, table: str, column: str, month: Month) -> None:
    name, default = month.partition(table), default_partition(table)
    low, high = _literal(month.low), _literal(month.high)
    conn.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        + storage_clause(table)
    )
    conn.exec_driver_sql(
        f"WITH moved AS (DELETE FROM {default} WHERE {column} >= {low} AND {column} < {high} "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    )
    conn.exec_driver_sql(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
    )


def storage_clause(table: str) -> str:
    """The `WITH (...)` of a new partition of `table` (a partitioned table has no storage
    of its own to inherit it from)."""
    fill = FILLFACTOR.get(table)
    return f" WITH (fillfactor = {fill})" if fill else ""


def _literal(message_id: str) -> str:
    if not re.fullmatch(r"msg_[0-9a-z]{26}", message_id):
        raise ValueError(f"not a message id bound: {message_id!r}")
    return f"'{message_id}'"
