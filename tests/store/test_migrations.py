"""The migrations build exactly the schema the tables declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tidings.store.database import Database
from tidings.store.migrate import upgrade
from tidings.store.tables import metadata


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        upgrade(db)  # applying again is a no-op
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
    finally:
        db.dispose()
