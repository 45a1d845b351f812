"""Prometheus metrics of one running Tidings (own registry, so tests can run several)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "tidings_messages_accepted_total",
            "Messages accepted by the API",
            ["channel"],
            registry=self.registry,
        )
        self.dispatched = Counter(
            "tidings_messages_dispatched_total",
            "Submits handed to a connector, by outcome",
            ["connector", "outcome"],
            registry=self.registry,
        )
        self.status = Counter(
            "tidings_message_status_total",
            "Status transitions recorded",
            ["status"],
            registry=self.registry,
        )
        self.inbound = Counter(
            "tidings_inbound_total",
            "Inbound messages, by result",
            ["result"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "tidings_webhook_attempts_total",
            "Webhook delivery attempts, by result",
            ["result"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "tidings_dispatch_queue_depth",
            "Messages waiting to be dispatched",
            registry=self.registry,
        )
        self.inflight = Gauge(
            "tidings_connector_inflight",
            "Submits awaiting a durable result",
            ["connector"],
            registry=self.registry,
        )
        self.accept_latency = Histogram(
            "tidings_accept_seconds",
            "Time to validate and commit an accepted request",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.delivery_latency = Histogram(
            "tidings_accept_to_final_seconds",
            "Time from accept to a final status",
            ["status"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once: labels() takes a lock and builds its key
        on every call, which the per-request paths feel."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found
