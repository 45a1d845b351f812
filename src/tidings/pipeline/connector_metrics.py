"""Connector state in /metrics, read at scrape time: from each connector's status() where
this process runs them, else from the worker nodes' reports (with a `node` label)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# connector name -> its states: one (here) or one per reporting node (with "node")
States = Callable[[], Mapping[str, list[dict[str, Any]]]]


class ConnectorCollector(Collector):
    def __init__(self, states: States, reported: Callable[[], bool]) -> None:
        self._states = states
        self._reported = reported

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        by_node = self._reported()
        labels = ["connector", "node"] if by_node else ["connector"]
        bound = GaugeMetricFamily(
            "tidings_connector_bound", "1 when every session is bound", labels=labels
        )
        binds = CounterMetricFamily(
            "tidings_connector_binds", "Successful binds since start", labels=labels
        )
        tps = GaugeMetricFamily(
            "tidings_connector_tps", "Submits in the last second", labels=labels
        )
        in_flight = GaugeMetricFamily(
            "tidings_connector_session_in_flight",
            "Requests awaiting the peer's response",
            labels=labels,
        )
        errors = CounterMetricFamily(
            "tidings_connector_errors",
            "Errors since start, by SMPP status or kind",
            labels=[*labels, "status"],
        )
        for name, states in sorted(self._states().items()):
            for state in states:
                if "bound" not in state:
                    continue  # a connector without sessions (the simulator)
                key = [name, str(state.get("node", ""))] if by_node else [name]
                bound.add_metric(key, 1.0 if state["bound"] else 0.0)
                binds.add_metric(key, float(_number(state.get("binds"))))
                tps.add_metric(key, float(_number(state.get("tps_now"))))
                in_flight.add_metric(key, float(_number(state.get("in_flight"))))
                counted = state.get("errors")
                if isinstance(counted, dict):
                    for status, count in sorted(counted.items()):
                        errors.add_metric([*key, str(status)], float(_number(count)))
        yield from (bound, binds, tps, in_flight, errors)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
