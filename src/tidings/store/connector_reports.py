"""Connector states reported by the worker nodes that run the connectors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from tidings.store.tables import connector_reports


def replace_reports(
    conn: Connection, node: str, states: Mapping[str, Mapping[str, Any]], now: datetime
) -> None:
    """The node's current states, in place of what it reported before."""
    conn.execute(delete(connector_reports).where(connector_reports.c.node == node))
    if states:
        conn.execute(
            insert(connector_reports),
            [
                {
                    "node": node,
                    "connector": name,
                    "state_json": json.dumps(state, default=str),
                    "reported_at": now,
                }
                for name, state in states.items()
            ],
        )


def forget_node(conn: Connection, node: str) -> None:
    conn.execute(delete(connector_reports).where(connector_reports.c.node == node))


Report = tuple[str, str, dict[str, Any], datetime]


def reports_since(conn: Connection, since: datetime) -> list[Report]:
    """(node, connector, state, reported_at) of reports newer than `since`, oldest first."""
    rows = conn.execute(
        select(connector_reports)
        .where(connector_reports.c.reported_at >= since)
        .order_by(connector_reports.c.reported_at, connector_reports.c.node)
    )
    return [(r.node, r.connector, json.loads(r.state_json), r.reported_at) for r in rows]
