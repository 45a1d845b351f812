"""Connector state in /metrics, read from each connector's status() at scrape time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tidings.channels.base import Connector


class ConnectorCollector(Collector):
    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = connectors

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        bound = GaugeMetricFamily(
            "tidings_connector_bound", "1 when every session is bound", labels=["connector"]
        )
        binds = CounterMetricFamily(
            "tidings_connector_binds", "Successful binds since start", labels=["connector"]
        )
        tps = GaugeMetricFamily(
            "tidings_connector_tps", "Submits in the last second", labels=["connector"]
        )
        in_flight = GaugeMetricFamily(
            "tidings_connector_session_in_flight",
            "Requests awaiting the peer's response",
            labels=["connector"],
        )
        errors = CounterMetricFamily(
            "tidings_connector_errors",
            "Errors since start, by SMPP status or kind",
            labels=["connector", "status"],
        )
        for name, connector in list(self._connectors.items()):
            state = connector.status()
            if "bound" not in state:
                continue  # a connector without sessions (the simulator)
            bound.add_metric([name], 1.0 if state["bound"] else 0.0)
            binds.add_metric([name], float(_number(state.get("binds"))))
            tps.add_metric([name], float(_number(state.get("tps_now"))))
            in_flight.add_metric([name], float(_number(state.get("in_flight"))))
            counted = state.get("errors")
            if isinstance(counted, dict):
                for status, count in sorted(counted.items()):
                    errors.add_metric([name, str(status)], float(_number(count)))
        yield from (bound, binds, tps, in_flight, errors)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
