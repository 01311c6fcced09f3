"""The gateway's /metrics: names, types and labels of what it exposes, in the Prometheus text
format as prometheus_client's own parser reads it."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.metrics import Metrics
from gateway.services import Services
from projections.database_health import ConsumerLag, DatabaseHealth, TableHealth


class FigureSource:
    """The few figures the metrics read from a platform, made up."""

    def __init__(self, *, kafka: bool) -> None:
        self.kafka = kafka

    def positions(self) -> dict[str, int]:
        found = {"stored": 120, "projected": 117}
        return {**found, "relayed": 119} if self.kafka else found

    def read_model_positions(self) -> dict[str, int]:
        return {"campaigns": 117, "domains": 120}

    def outbox_backlog(self) -> int | None:
        return 7 if self.kafka else None

    def realtime_position(self) -> int:
        return 40

    def database_health(self) -> DatabaseHealth | None:
        if not self.kafka:
            return None  # as on SQLite
        return DatabaseHealth(
            tables=(TableHealth("messages", 1000, 400, 2, 2**20),),
            oldest_transaction_seconds=90.5,
            oldest_transaction_holder="dispatch idle in transaction: UPDATE messages",
            idle_in_transaction=1,
            prepared_transactions=0,
            lags=(ConsumerLag("stats", "campaigns.activity", 0, 12),),
        )

    def message_totals(self) -> dict[str, dict[str, int]]:
        return {"demo": {"queued": 3, "sent": 10, "delivered": 8, "failed": 1, "unknown": 0}}


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def values(family: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for sample in family.samples
    }


def exposition(*, kafka: bool, state: Any = None) -> dict[str, Any]:
    platform = cast(Services, FigureSource(kafka=kafka))
    metrics = Metrics(platform, state or SimpleNamespace())
    return families(metrics.exposition().decode())


def test_positions_are_counters_and_lags_gauges_under_their_established_names() -> None:
    found = exposition(kafka=True)
    assert found["campaigns_events_stored"].type == "counter"
    assert values(found["campaigns_events_stored"]) == {("campaigns_events_stored_total", ()): 120}
    assert values(found["campaigns_events_relayed"]) == {
        ("campaigns_events_relayed_total", ()): 119
    }
    assert found["campaigns_relayed_lag_events"].type == "gauge"
    assert values(found["campaigns_relayed_lag_events"]) == {
        ("campaigns_relayed_lag_events", ()): 1
    }
    assert values(found["campaigns_projected_lag_events"]) == {
        ("campaigns_projected_lag_events", ()): 3
    }


def test_each_feed_shows_how_far_it_is_behind() -> None:
    found = exposition(kafka=True)
    assert found["campaigns_read_model_lag_events"].type == "gauge"
    assert values(found["campaigns_read_model_lag_events"]) == {
        ("campaigns_read_model_lag_events", (("read_model", "campaigns"),)): 3,
        ("campaigns_read_model_lag_events", (("read_model", "domains"),)): 0,
    }
    assert values(found["campaigns_outbox_backlog_records"]) == {
        ("campaigns_outbox_backlog_records", ()): 7
    }


def test_without_kafka_there_is_no_relay_or_outbox_to_show() -> None:
    found = exposition(kafka=False)
    assert "campaigns_events_relayed" not in found
    assert "campaigns_relayed_lag_events" not in found
    assert "campaigns_outbox_backlog_records" not in found
    assert "campaigns_projected_lag_events" in found


def test_messages_are_counted_per_stream_and_status() -> None:
    family = exposition(kafka=False)["campaigns_messages"]
    assert family.type == "counter"
    counted = {
        (sample.labels["stream"], sample.labels["status"]): sample.value
        for sample in family.samples
        if sample.name == "campaigns_messages_total"
    }
    assert counted[("demo", "sent")] == 10
    assert counted[("demo", "delivered")] == 8
    assert counted[("demo", "failed")] == 1
    assert counted[("demo", "unknown")] == 0
    assert ("demo", "queued") not in counted  # it falls as messages go: a gauge
    queued = exposition(kafka=False)["campaigns_messages_queued"]
    assert queued.type == "gauge"
    assert values(queued) == {("campaigns_messages_queued", (("stream", "demo"),)): 3}


def test_websocket_clients_of_the_wall_and_of_replays_are_gauges() -> None:
    state = SimpleNamespace(
        hub=SimpleNamespace(clients=3, position=38),
        replay_slots=SimpleNamespace(playing=Counter({"token-a": 2, "token-b": 1})),
    )
    found = exposition(kafka=False, state=state)
    for name, value in (
        ("campaigns_wall_clients", 3),
        ("campaigns_wall_position", 38),
        ("campaigns_wall_lag_changes", 2),
        ("campaigns_replay_clients", 3),
    ):
        assert found[name].type == "gauge", name
        assert values(found[name]) == {(name, ()): value}


def test_two_apps_in_one_process_keep_their_own_registries() -> None:
    platform = cast(Services, FigureSource(kafka=False))
    first, second = Metrics(platform, SimpleNamespace()), Metrics(platform, SimpleNamespace())
    first.latency.labels("/healthz", "GET", "2xx").observe(0.01)
    assert 'route="/healthz"' in first.exposition().decode()
    assert 'route="/healthz"' not in second.exposition().decode()


def test_requests_are_timed_per_route_template_method_and_status_class() -> None:
    app = create_app(cast(Services, FigureSource(kafka=False)))
    client = TestClient(app)  # not started: no hub, no platform to start
    assert client.get("/healthz").status_code == 200
    campaign = "/api/campaigns/0b0c4d3e-0000-4000-8000-000000000000"
    assert client.get(campaign).status_code == 401  # refused before it reached its route
    assert client.get("/nowhere").status_code == 404
    family = families(client.get("/metrics").text)["campaigns_http_request_duration_seconds"]
    assert family.type == "histogram"
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in family.samples
        if s.name.endswith("_count")
    }
    assert counts[("/healthz", "GET", "2xx")] == 1
    assert counts[("/api/campaigns/{id}", "GET", "4xx")] == 1
    assert counts[("unmatched", "GET", "4xx")] == 1
    buckets = [
        s.labels["le"]
        for s in family.samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/healthz"
    ]
    assert buckets[0] == "0.001" and buckets[-1] == "+Inf"


def test_what_would_slow_a_long_used_database_down_is_shown() -> None:
    found = exposition(kafka=True)
    assert values(found["campaigns_db_dead_rows"]) == {
        ("campaigns_db_dead_rows", (("table", "messages"),)): 400
    }
    assert values(found["campaigns_db_oldest_transaction_seconds"]) == {
        ("campaigns_db_oldest_transaction_seconds", ()): 90.5
    }
    assert values(found["campaigns_db_idle_in_transaction_sessions"]) == {
        ("campaigns_db_idle_in_transaction_sessions", ()): 1
    }
    assert values(found["campaigns_consumer_lag_records"]) == {
        (
            "campaigns_consumer_lag_records",
            (("partition", "0"), ("read_model", "stats"), ("topic", "campaigns.activity")),
        ): 12
    }
    assert "campaigns_db_dead_rows" not in exposition(kafka=False)


def test_the_health_report_names_an_old_transaction_and_a_bloated_table() -> None:
    health = DatabaseHealth((TableHealth("messages", 30_000, 20_000, 0, 2**20),), 120.0, "x", 0, 0)
    report = "\n".join(health.report())
    assert "messages: 30,000 live rows, 20,000 dead" in report
    assert "(bloated" in report
    assert "oldest open transaction: 120 s (x) (old" in report
