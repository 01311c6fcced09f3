"""The read models catch up with the store when a platform starts again on the same store."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS

from .scenarios import create, stored_events


def test_the_list_catches_up_after_a_restart(store: Settings) -> None:
    first = build(store)
    with TestClient(create_app(first, own_platform=True), headers=ADMIN_HEADERS) as client:
        created = [create(client, name=f"Before restart {n}") for n in range(3)]
    # Written while no feed runs: only catching up at the next start can show these.
    offline = build(store)
    offline.app.create_campaign({"name": "Written offline"}, actor="script")
    offline.app.edit_campaign(uuid.UUID(created[1]["id"]), {"tags": ["offline"]}, actor="script")
    offline.close()

    again = build(store)
    with TestClient(create_app(again, own_platform=True), headers=ADMIN_HEADERS) as client:
        page = client.get("/api/campaigns").json()
        tagged = client.get("/api/campaigns?tag=offline").json()
        position = again.projector.position()
        stored = stored_events(again)
        ready = client.get("/readyz").json()

    assert [item["name"] for item in page["items"]] == [
        "Written offline",
        "Before restart 2",
        "Before restart 1",
        "Before restart 0",
    ]
    assert page["total"] == 4
    assert [item["id"] for item in tagged["items"]] == [created[1]["id"]]
    assert position == stored > 0
    assert ready["checks"]["read_models"]["position"] == stored


def test_a_restart_keeps_domains_streams_and_settings(store: Settings) -> None:
    first = build(store)
    with TestClient(create_app(first, own_platform=True), headers=ADMIN_HEADERS) as client:
        client.post("/api/domains", json={"names": ["go.example.com"]})
        client.post("/api/domains/go.example.com/configure")
        client.put("/api/settings/domain-limit", json={"limit": 42})
        client.patch("/api/streams/demo", json={"rate": 9})
        stored = stored_events(first)

    again = build(store)
    with TestClient(create_app(again, own_platform=True), headers=ADMIN_HEADERS) as client:
        domains = client.get("/api/domains").json()
        streams = client.get("/api/streams").json()["items"]
        after = stored_events(again)

    assert [(d["name"], d["status"]) for d in domains["items"]] == [
        ("go.example.com", "Configured")
    ]
    assert domains["limit"] == 42
    assert [s["rate"] for s in streams if s["name"] == "demo"] == [9]
    assert after == stored  # starting again wrote nothing (the demo stream already exists)
