"""Prometheus metrics of one app: charges by result, request latency, tick lag."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.charges = Counter(
            "postmeter_charges", "Charges answered, by result", ["result"], registry=self.registry
        )
        self.latency = Histogram(
            "postmeter_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.tick_lag = Gauge(
            "postmeter_tick_lag_seconds",
            "Seconds since tick last finished",
            registry=self.registry,
        )
        self._tick_done = time.monotonic()
        self.tick_lag.set_function(lambda: time.monotonic() - self._tick_done)

    def ticked(self) -> None:
        self._tick_done = time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)
