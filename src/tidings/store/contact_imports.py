"""Contact import jobs (with their durable cursor) and the rows they refused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from tidings.store.bulk import insert_rows
from tidings.store.tables import contact_import_errors, contact_imports


def insert_job(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(contact_imports).values(**values))


def get_job(conn: Connection, account_id: str, import_id: str) -> Row[Any] | None:
    return conn.execute(
        select(contact_imports).where(
            contact_imports.c.id == import_id, contact_imports.c.account_id == account_id
        )
    ).first()


def job_by_id(conn: Connection, import_id: str) -> Row[Any] | None:
    return conn.execute(select(contact_imports).where(contact_imports.c.id == import_id)).first()


def list_jobs(conn: Connection, account_id: str, limit: int = 100) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(contact_imports)
            .where(contact_imports.c.account_id == account_id)
            .order_by(contact_imports.c.id.desc())
            .limit(limit)
        )
    )


def claimable(conn: Connection, now: datetime) -> list[str]:
    """Unfinished jobs nobody holds: new ones, and those whose worker stopped or died."""
    return list(
        conn.execute(
            select(contact_imports.c.id)
            .where(
                contact_imports.c.state.in_(("pending", "running")),
                or_(contact_imports.c.lease_until.is_(None), contact_imports.c.lease_until < now),
            )
            .order_by(contact_imports.c.id)
        ).scalars()
    )


def claim(
    conn: Connection, import_id: str, owner: str, now: datetime, until: datetime
) -> Row[Any] | None:
    """Take the job if it is unfinished and unheld; returns it as it was before."""
    before = conn.execute(select(contact_imports).where(contact_imports.c.id == import_id)).first()
    result = conn.execute(
        update(contact_imports)
        .where(
            contact_imports.c.id == import_id,
            contact_imports.c.state.in_(("pending", "running")),
            or_(contact_imports.c.lease_until.is_(None), contact_imports.c.lease_until < now),
        )
        .values(state="running", lease_owner=owner, lease_until=until, updated_at=now)
    )
    return before if result.rowcount == 1 else None


def advance(conn: Connection, import_id: str, owner: str, values: dict[str, Any]) -> bool:
    """Move the cursor and counts, while this owner still holds the job."""
    result = conn.execute(
        update(contact_imports)
        .where(contact_imports.c.id == import_id, contact_imports.c.lease_owner == owner)
        .values(**values)
    )
    return result.rowcount == 1


def release(conn: Connection, import_id: str, owner: str) -> None:
    conn.execute(
        update(contact_imports)
        .where(contact_imports.c.id == import_id, contact_imports.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def release_all(conn: Connection) -> int:
    result = conn.execute(
        update(contact_imports)
        .where(contact_imports.c.state.in_(("pending", "running")))
        .values(lease_owner=None, lease_until=None)
    )
    return int(result.rowcount)


def insert_errors(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(conn, contact_import_errors, rows)


def errors(
    conn: Connection, import_id: str, *, after_id: int = 0, limit: int = 1000
) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(contact_import_errors)
            .where(
                contact_import_errors.c.import_id == import_id,
                contact_import_errors.c.id > after_id,
            )
            .order_by(contact_import_errors.c.id)
            .limit(limit)
        )
    )


def iterate_errors(conn: Connection, import_id: str) -> Iterator[Row[Any]]:
    after = 0
    while True:
        rows = errors(conn, import_id, after_id=after)
        yield from rows
        if len(rows) < 1000:
            return
        after = rows[-1].id


def delete_errors(conn: Connection, import_id: str) -> None:
    conn.execute(
        delete(contact_import_errors).where(contact_import_errors.c.import_id == import_id)
    )
