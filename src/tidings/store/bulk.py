"""Bulk writes at the driver level: the hot path's many-row inserts and updates.

SQLAlchemy's compiled executemany processes every parameter of every row in Python;
for thousands of rows per transaction that dominated the accept and dispatch cost.
SQLite: rows go to the driver's executemany as tuples, datetimes in the text form
SQLAlchemy itself stores (naive UTC), so both paths read and compare alike.
PostgreSQL: executemany still runs one statement per row on the server, so inserts
use COPY and updates one `UPDATE ... FROM unnest(arrays)` per group of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    any_,
    bindparam,
)
from sqlalchemy.dialects.postgresql import ARRAY


def _sqlite_time(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS.ffffff` in UTC (isoformat is several times faster than
    strftime, and cutting off its "+00:00" than replacing the tzinfo)."""
    if value.tzinfo is None:
        return value.isoformat(" ", "microseconds")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]


def _converter(
    conn: Connection, table: Table, columns: Sequence[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Turn a row's values into driver parameters; SQLite needs datetimes as text."""
    times = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, DateTime)]
    if conn.dialect.name != "sqlite" or not times:
        return tuple
    cache: dict[datetime, str] = {}  # rows of one batch mostly share their timestamps

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for i in times:
            value = values[i]
            if value is not None:
                text = cache.get(value)
                if text is None:
                    text = cache[value] = _sqlite_time(value)
                values[i] = text
        return tuple(values)

    return convert


def placeholder(conn: Connection) -> str:
    """The driver's parameter mark, for SQL written by hand."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
) -> None:
    """Insert rows that all have the same keys (or at least `columns`, which are written)."""
    if not rows:
        return
    names = list(rows[0]) if columns is None else list(columns)
    if len(names) == 1:
        insert_values(conn, table, names, [(row[names[0]],) for row in rows])
        return
    values = itemgetter(*names)  # the row's values as a tuple, looked up in C
    insert_values(conn, table, names, [values(row) for row in rows])


def insert_values(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as values in the order of `columns`."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, columns, values)
        return
    convert = _converter(conn, table, columns)
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([placeholder(conn)] * len(columns))})"
    )
    conn.exec_driver_sql(sql, [convert(row) for row in values])


def insert_new_values(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """`insert_values`, skipping rows whose primary key is stored already: SQLite's
    `INSERT OR IGNORE`; on PostgreSQL one statement over one array per column
    (`ON CONFLICT DO NOTHING`: COPY cannot skip a row)."""
    if not values:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        if len(values) >= _COPY_FIRST_FROM and _copied_unless_stored(conn, table, columns, values):
            return
        arrays = ", ".join(
            f"%b::{table.c[c].type.compile(dialect=conn.dialect)}[]" for c in columns
        )
        key = ", ".join(quote(c.name) for c in table.primary_key.columns)
        driver_rows(
            conn,
            f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({key}) DO NOTHING",
            tuple([row[i] for row in values] for i in range(len(columns))),
        )
        return
    convert = _converter(conn, table, columns)
    conn.exec_driver_sql(
        f"INSERT OR IGNORE INTO {quote(table.name)} ({names}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [convert(row) for row in values],
    )


# From this many rows, `insert_new_values` first tries a COPY in a savepoint: it costs the
# server about a third less than `ON CONFLICT` per row, and two more statements per call.
_COPY_FIRST_FROM = 100


def _copied_unless_stored(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> bool:
    """COPY the rows in a savepoint; False (and nothing written) when one of them was
    stored already."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SAVEPOINT copy_new_values")
        try:
            _copy(conn, table, columns, values)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT copy_new_values")
            return False
        cursor.execute("RELEASE SAVEPOINT copy_new_values")
        return True
    finally:
        cursor.close()


def insert_driver_values(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of values already in the driver's form (`driver_time` for datetimes):
    nothing is converted on the way, for the largest inserts."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        _copy(conn, table, columns, values)
        return
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([placeholder(conn)] * len(columns))})"
    )
    conn.exec_driver_sql(sql, values)


def _copy(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    """COPY the rows in binary where every column's type has a binary form here (the
    server parses no text: hex-encoded bytes and timestamps cost it several µs a row),
    else in text."""
    types = [_binary_type(table.c[c].type) for c in columns]
    if None in types:
        _copy_rows(conn, table, columns, values)
    else:
        _copy_binary(conn, table, columns, [t for t in types if t is not None], values)


def _binary_type(type_: Any) -> str | None:
    """The PostgreSQL type a column's values go to a binary COPY as (None: not here)."""
    if isinstance(type_, LargeBinary):
        return "bytea"
    if isinstance(type_, String):
        return "text"  # varchar's binary form is text's
    if isinstance(type_, BigInteger):
        return "int8"
    if isinstance(type_, Integer):
        return "int4"
    if isinstance(type_, DateTime) and type_.timezone:
        return "timestamptz"
    if isinstance(type_, Numeric) and type_.asdecimal:
        return "numeric"
    if isinstance(type_, Boolean):
        return "bool"
    return None


def _copy_binary(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    types: Sequence[str],
    values: Sequence[Sequence[Any]],
) -> None:
    """COPY in PostgreSQL's binary format: bytes go as they are, not as hex text the
    server has to decode."""
    quote = conn.dialect.identifier_preparer.quote
    statement = (
        f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        "FROM STDIN (FORMAT BINARY)"
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            copy.set_types(list(types))
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()


def update_rows(
    conn: Connection, table: Table, key: str | tuple[str, ...], changes: Sequence[dict[str, Any]]
) -> None:
    """Update rows by `key` (a column, or the columns of a composite key); each change is
    {key column: ..., column: value, ...}.

    Changes that set different columns go in separate statements.
    """
    keys = (key,) if isinstance(key, str) else key
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    # Changes from one place list their columns in one order: sort each order once.
    orders: dict[tuple[str, ...], tuple[str, ...]] = {}
    for change in changes:
        order = tuple(change)
        columns = orders.get(order)
        if columns is None:
            columns = orders[order] = tuple(sorted(c for c in order if c not in keys))
        group = groups.get(columns)
        if group is None:
            groups[columns] = [change]
        else:
            group.append(change)
    if conn.dialect.name == "postgresql":
        for columns, rows in groups.items():
            _update_from_values(conn, table, keys, columns, rows)
        return
    mark = placeholder(conn)
    quote = conn.dialect.identifier_preparer.quote
    match = " AND ".join(f"{quote(k)} = {mark}" for k in keys)
    for columns, rows in groups.items():
        order = (*columns, *keys)
        convert = _converter(conn, table, order)
        assignments = ", ".join(f"{quote(c)} = {mark}" for c in columns)
        sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {match}"
        values = itemgetter(*order)  # at least one column and one key: always a tuple
        _driver_executemany(conn, sql, [convert(values(row)) for row in rows])


def _driver_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _copy_rows(
    conn: Connection, table: Table, columns: Sequence[str], values: Sequence[Sequence[Any]]
) -> None:
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()


def _update_from_values(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """One statement of constant text: one array parameter per column, joined by unnest.
    Arrays go in binary (%b): the driver's text form tests and escapes every element in
    Python (2.3 µs an element for an id, against 0.4 µs in binary)."""
    quote = conn.dialect.identifier_preparer.quote
    order = (*keys, *columns)
    arrays = ", ".join(f"%b::{table.c[c].type.compile(dialect=conn.dialect)}[]" for c in order)
    assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
    names = ", ".join(quote(c) for c in order)
    match = " AND ".join(f"t.{quote(k)} = v.{quote(k)}" for k in keys)
    sql = (
        f"UPDATE {quote(table.name)} AS t SET {assignments} "
        f"FROM unnest({arrays}) AS v({names}) "
        f"WHERE {match}"
    )
    conn.exec_driver_sql(sql, tuple([row[c] for row in rows] for c in order))


def driver_rows(
    conn: Connection, sql: str, params: Sequence[Any] = (), *, plan_each_time: bool = False
) -> list[Any]:
    """Run one statement on the driver's own cursor, in the connection's transaction, and
    return its rows as tuples (none for a statement without a result).

    For the statements every message goes through several times (the worker's claim,
    outcome and receipt transactions): `exec_driver_sql` costs about 25 µs of CPU per
    statement besides the statement itself (execution context, result object, a Row per
    row), as much as the rows of a whole batch. Errors are the driver's own exceptions.

    `plan_each_time` (PostgreSQL): never run it as a prepared statement. A prepared
    statement's generic plan is kept while the table's statistics stay the same: one made
    while a table was nearly empty scans the whole table for ever after, however large it
    grows. Planned at each run, the plan sees the table as it is now."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if plan_each_time and conn.dialect.name == "postgresql":
            cursor.execute(sql, params, prepare=False)  # type: ignore[call-arg]
        else:
            cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description is not None else []
    finally:
        cursor.close()


def driver_time(conn: Connection, value: datetime | None) -> Any:
    """A datetime as a driver-level parameter (SQLite: the text SQLAlchemy stores)."""
    if value is None or conn.dialect.name != "sqlite":
        return value
    return _sqlite_time(value)


def read_time(value: str | datetime) -> datetime:
    """A datetime column as the driver returns it (SQLite: text), as a datetime (naive
    UTC from SQLite, as SQLAlchemy reads it there)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def driver_in(conn: Connection, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """(SQL, parameters) of an `IN` test for driver-level SQL: `IN (?, ...)` on SQLite,
    `= ANY(%b)` with one array on PostgreSQL. Put the SQL right after the column."""
    if conn.dialect.name == "postgresql":
        return "= ANY(%b)", [list(values)]
    padded = padded_list(values)
    return f"IN ({', '.join('?' * len(padded))})", padded


def in_list(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`; on PostgreSQL one array parameter (`= ANY`), which the driver
    does not have to re-parse for every list length the way it does hundreds of
    placeholders; on SQLite a list of `padded_list` length."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(padded_list(values))


def padded_list(values: Sequence[Any]) -> list[Any]:
    """`values` with the last one repeated up to the next power of two, for SQLite IN
    lists. SQLite prepares a statement per list length and the driver keeps the last 128
    of each connection, at about 220 bytes a placeholder: lists of every length filled
    each pooled connection's cache with statements of thousands of placeholders, tens of
    MB that grew for hours. With these lengths a query has at most 14 statements of up
    to 8,192 values. A repeated value changes neither IN nor NOT IN."""
    padded = list(values)
    if padded:
        padded.extend(padded[-1:] * ((1 << (len(padded) - 1).bit_length()) - len(padded)))
    return padded
