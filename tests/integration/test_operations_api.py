"""Health, readiness and the event history for analysts (NDJSON)."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from infra.bootstrap import Platform

from .scenarios import assert_error, create, stored_events


def events(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/events{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_store_and_the_read_models(
    client: TestClient, platform: Platform
) -> None:
    create(client, name="Something to store")
    client.get("/api/campaigns")  # waits until the read models show it

    response = client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["store"] == {"ok": True, "position": stored_events(platform)}
    assert body["checks"]["read_models"] == {"ok": True, "position": stored_events(platform)}


def test_readyz_is_public_and_returns_no_raw_driver_errors(
    client: TestClient, platform: Platform, monkeypatch: Any
) -> None:
    """Finding 12: a failing part is named; the driver's message (hosts, users) is logged
    and shown to admins only."""
    secret = 'connection to server at "db.internal" (10.0.0.7), user "app" failed'

    def failing() -> int:
        raise RuntimeError(secret)

    monkeypatch.setattr(platform.app.recorder, "max_notification_id", failing)
    public = client.get("/readyz", headers={"Authorization": ""})
    assert public.status_code == 503
    assert "db.internal" not in public.text and '"app"' not in public.text
    assert public.json()["checks"]["store"] == {
        "ok": False,
        "error": "the event store did not answer",
    }
    admin = client.get("/readyz")  # the tests' client is an admin
    assert admin.json()["checks"]["store"]["details"] == secret


def test_the_event_history_streams_every_stored_event_in_order(
    client: TestClient, platform: Platform
) -> None:
    first = create(client, name="First")
    client.patch(f"/api/campaigns/{first['id']}", json={"name": "First, renamed"})
    create(client, name="Second")

    lines = events(client)

    positions = [line["position"] for line in lines]
    assert positions == sorted(set(positions))
    assert positions[-1] == stored_events(platform)
    assert len(lines) == len(platform.read_events(0, 10_000))
    for line in lines:
        assert set(line) == {"position", "at", "aggregate_id", "version", "type", "data"}
        assert line["at"].endswith("Z")
    mine = [line for line in lines if line["aggregate_id"] == first["id"]]
    assert [(line["type"], line["version"]) for line in mine] == [
        ("Campaign.Created", 1),
        ("Campaign.Edited", 2),
    ]
    assert mine[0]["data"]["fields"]["name"] == "First"
    assert mine[1]["data"]["changes"] == {"name": "First, renamed"}
    assert mine[1]["data"]["actor"] == "bootstrap"


def test_the_event_history_takes_after_limit_and_type(
    client: TestClient, platform: Platform
) -> None:
    for name in ("One", "Two", "Three"):
        create(client, name=name)
    total = stored_events(platform)

    after = events(client, f"?after={total - 2}")
    limited = events(client, "?limit=2")
    created = events(client, "?type=Campaign.Created")
    by_name = events(client, "?type=Created&after=0&limit=100")
    one_created = events(client, "?type=Campaign.Created&limit=1")
    past_the_end = events(client, f"?after={total}")

    everything = events(client)
    assert [line["position"] for line in after] == [
        line["position"] for line in everything if line["position"] > total - 2
    ]
    assert limited == everything[:2]
    assert [line["data"]["fields"]["name"] for line in created] == ["One", "Two", "Three"]
    assert created == [line for line in by_name if line["type"] == "Campaign.Created"]
    assert one_created == created[:1]
    assert past_the_end == []


def test_the_event_history_refuses_a_bad_position_or_limit(client: TestClient) -> None:
    for query in ("?after=-1", "?after=x", "?limit=0", "?limit=many"):
        assert_error(client.get(f"/api/events{query}"), 422, "validation_failed")


def test_metrics_show_events_stored_and_projected_and_the_lag(
    client: TestClient, platform: Platform
) -> None:
    create(client, name="Counted")
    platform.feed.catch_up()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = unlabelled_samples(response.text)
    assert lines["campaigns_events_stored_total"] >= 1
    assert lines["campaigns_events_projected_total"] == lines["campaigns_events_stored_total"]
    assert lines["campaigns_projected_lag_events"] == 0
    assert "campaigns_events_relayed_total" not in lines  # no Kafka on the embedded default


def unlabelled_samples(text: str) -> dict[str, float]:
    """The samples without labels of a Prometheus text exposition, by name."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def test_readiness_names_no_kafka_check_without_kafka(client: TestClient) -> None:
    assert set(client.get("/readyz").json()["checks"]) == {"store", "read_models"}
