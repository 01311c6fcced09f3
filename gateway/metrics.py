"""The gateway's Prometheus metrics: one registry per app, timed requests, and collectors
that read the store, the read models and the WebSocket hubs when Prometheus scrapes."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client import Histogram as HistogramMetric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from gateway.services import Services

# Seconds; finer than the library's default below 50 ms, where the API's targets are.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # the route label of a request no route takes (a 404)

POSITIONS = {
    "stored": "Events saved in the store (its last position).",
    "relayed": "Events the relay has published to Kafka (the last position it reached).",
    "projected": "Events applied to the read models (the last position they reflect).",
}


class PipelineCollector:
    """Read at scrape time: positions along the pipeline as counters (their rates are the
    throughputs), how far each feed is behind what it follows, and messages per stream."""

    def __init__(self, platform: Services) -> None:
        self.platform = platform

    def collect(self) -> Iterable[Metric]:
        positions = self.platform.positions()
        for name, value in positions.items():
            yield counter(f"campaigns_events_{name}_total", POSITIONS[name], value)
        stored = positions["stored"]
        for name in ("relayed", "projected"):
            if name in positions:
                yield gauge(
                    f"campaigns_{name}_lag_events",
                    f"Events stored but not yet {name}.",
                    max(0, stored - positions[name]),
                )
        yield from self.feed_lags(stored)
        yield from self.messages()

    def feed_lags(self, stored: int) -> Iterable[Metric]:
        lags = GaugeMetricFamily(
            "campaigns_read_model_lag_events",
            "Events stored but not yet applied, per event-fed read model (fed from the "
            "store's log, or from Kafka behind the relay).",
            labels=["read_model"],
        )
        for name, position in sorted(self.platform.read_model_positions().items()):
            lags.add_metric([name], max(0, stored - position))
        yield lags
        backlog = self.platform.outbox_backlog()
        if backlog is not None:
            yield gauge(
                "campaigns_outbox_backlog_records",
                "Counter changes of the activity outbox not yet published to Kafka.",
                backlog,
            )

    def messages(self) -> Iterable[Metric]:
        counted = CounterMetricFamily(
            "campaigns_messages",
            "Messages per sending stream and status (sent, the carriers' outcomes, unknown, "
            "suppressed, cancelled), as the campaigns' stats count them.",
            labels=["stream", "status"],
        )
        queued = GaugeMetricFamily(
            "campaigns_messages_queued",
            "Messages recorded and not yet handed to the carrier, per sending stream.",
            labels=["stream"],
        )
        for stream, counts in sorted(self.platform.message_totals().items()):
            for status, count in counts.items():
                if status == "queued":  # a level, not a count: it falls as messages go
                    queued.add_metric([stream], count)
                else:
                    counted.add_metric([stream, status], count)
        yield counted
        yield queued


class DatabaseCollector:
    """Read at scrape time: what would slow a long-used deployment down (dead rows per
    table, the oldest open transaction, sessions idle in a transaction, prepared
    transactions) and how many records each Kafka consumer has yet to apply."""

    def __init__(self, platform: Services) -> None:
        self.platform = platform

    def collect(self) -> Iterable[Metric]:
        health = self.platform.database_health()
        if health is None:  # SQLite
            return
        dead = GaugeMetricFamily(
            "campaigns_db_dead_rows",
            "Rows deleted or replaced that vacuum has not removed yet, per table.",
            labels=["table"],
        )
        live = GaugeMetricFamily(
            "campaigns_db_live_rows",
            "Rows of each table (the server's estimate).",
            labels=["table"],
        )
        for table in health.tables:
            dead.add_metric([table.name], table.dead_rows)
            live.add_metric([table.name], table.live_rows)
        yield dead
        yield live
        yield gauge(
            "campaigns_db_oldest_transaction_seconds",
            "Age of the oldest open transaction (vacuum keeps every row changed since).",
            health.oldest_transaction_seconds,
        )
        yield gauge(
            "campaigns_db_idle_in_transaction_sessions",
            "Sessions idle inside a transaction.",
            health.idle_in_transaction,
        )
        yield gauge(
            "campaigns_db_prepared_transactions",
            "Prepared (two-phase) transactions not yet committed or rolled back.",
            health.prepared_transactions,
        )
        lags = GaugeMetricFamily(
            "campaigns_consumer_lag_records",
            "Records of a topic's partition a Kafka-fed read model has yet to apply.",
            labels=["read_model", "topic", "partition"],
        )
        for lag in health.lags:
            lags.add_metric([lag.projection, lag.topic, str(lag.partition)], lag.records)
        yield lags


class SocketsCollector:
    """Read at scrape time: this gateway's WebSocket clients (the wall's and the replays')
    and how far its realtime hub is behind the change log."""

    def __init__(self, platform: Services, state: Any) -> None:
        self.platform = platform
        self.state = state

    def collect(self) -> Iterable[Metric]:
        slots = getattr(self.state, "replay_slots", None)
        if slots is not None:
            yield gauge(
                "campaigns_replay_clients",
                "WebSocket clients of this gateway playing a replay.",
                slots.playing.total(),
            )
        hub = getattr(self.state, "hub", None)
        if hub is None:  # the app has not started
            return
        position = max(hub.position, 0)
        yield gauge(
            "campaigns_wall_clients",
            "WebSocket clients of this gateway's realtime hub.",
            hub.clients,
        )
        yield gauge(
            "campaigns_wall_position",
            "The realtime change log's position this gateway's hub reached.",
            position,
        )
        yield gauge(
            "campaigns_wall_lag_changes",
            "Changes of the realtime rows logged but not yet reached by this gateway's hub.",
            max(0, self.platform.realtime_position() - position),
        )


def counter(name: str, documentation: str, value: float) -> Metric:
    return CounterMetricFamily(name, documentation, value=value)


def gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    """An app's registry (its own, so that several apps in one process never clash) with
    the request latency histogram and the collectors read at scrape time."""

    def __init__(self, platform: Services, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.latency = HistogramMetric(
            "campaigns_http_request_duration_seconds",
            "Time to answer an HTTP request, per route template, method and status class.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PipelineCollector(platform))
        self.registry.register(DatabaseCollector(platform))
        self.registry.register(SocketsCollector(platform, state))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (reads the database: not on the loop)."""
        return generate_latest(self.registry)


async def metrics(request: Request) -> Response:
    """Prometheus text: the pipeline's positions and lags, messages per stream, WebSocket
    clients and request latencies."""
    found: Metrics = request.app.state.metrics
    body = await run_in_threadpool(found.exposition)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


class RequestTimer:
    """ASGI middleware: each HTTP request's time to answer into the latency histogram,
    labelled by its route's template (not its path: ids would make a series each)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]  # what an exception that escapes every handler becomes

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            found: Metrics = scope["app"].state.metrics
            found.latency.labels(
                route_template(scope), scope["method"], f"{status[0] // 100}xx"
            ).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The template of the route that took the request; for one refused before routing
    (401, 403), the route that would have taken it."""
    route = scope.get("route")
    if route is None:
        for candidate in getattr(scope.get("app"), "routes", ()):
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:  # a partial match: the method is not allowed
                route = candidate
                break
    return str(getattr(route, "path", UNMATCHED))
