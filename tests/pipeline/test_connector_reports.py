"""Connector states reported by worker nodes, shown where the connectors do not run."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import generate_latest

from tidings.core.clock import ManualClock
from tidings.pipeline.fleet import REPORT_MAX_AGE
from tidings.runtime import Runtime
from tidings.store import connector_reports as report_store

NAME = "sim"  # the test runtime's connector
BOUND = {"name": "sim", "state": "bound", "bound": True, "binds": 3, "errors": {"88": 2}}


def report(runtime: Runtime, node: str, state: dict[str, object]) -> None:
    with runtime.db.write() as conn:
        report_store.replace_reports(conn, node, {NAME: state}, runtime.clock.now())


def test_an_api_only_process_shows_what_the_workers_report(
    runtime: Runtime, clock: ManualClock
) -> None:
    fleet = runtime.fleet
    assert not fleet.runs_connectors  # no workers started: the API role
    assert fleet.list_connectors()[0]["state"]["state"] == "not_reported"
    report(runtime, "w1:100:a", BOUND)
    clock.advance(timedelta(seconds=1))
    report(runtime, "w2:200:b", {**BOUND, "bound": False, "binds": 0})
    described = fleet.get_connector(NAME)
    assert [n["node"] for n in described["nodes"]] == ["w1:100:a", "w2:200:b"]
    assert described["state"]["node"] == "w2:200:b"  # the newest report
    metrics = generate_latest(runtime.metrics.registry).decode()
    assert 'tidings_connector_bound{connector="sim",node="w1:100:a"} 1.0' in metrics
    assert 'tidings_connector_bound{connector="sim",node="w2:200:b"} 0.0' in metrics
    assert (
        'tidings_connector_errors_total{connector="sim",node="w1:100:a",status="88"} 2.0' in metrics
    )
    # a node that stopped reporting drops out once its report is too old
    clock.advance(REPORT_MAX_AGE)
    report(runtime, "w2:200:b", BOUND)
    assert [n["node"] for n in fleet.get_connector(NAME)["nodes"]] == ["w2:200:b"]
    # a node's new report replaces its old one
    report(runtime, "w2:200:b", {**BOUND, "binds": 9})
    assert [n["binds"] for n in fleet.get_connector(NAME)["nodes"]] == [9]
