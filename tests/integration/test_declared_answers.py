"""Real answers of the server are what their declarations say: each converts to the
msgspec Struct the document's schema for it is generated from."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import msgspec
from starlette.testclient import TestClient

from gateway.schemas.campaign_answers import (
    Campaign,
    CampaignListItem,
    EventMessage,
    HistoryEntry,
    ListPage,
)
from gateway.schemas.operations_answers import Error, Health, Readiness
from gateway.schemas.stream_answers import Stream, StreamList
from infra.bootstrap import Platform

from .scenarios import campaign_in, create, create_complete

T = TypeVar("T")


def declared(body: Any, declaration: type[T]) -> T:
    """The body as its declaration; msgspec names the field it refuses."""
    return msgspec.convert(body, declaration)


def answered(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_campaign_with_every_field_is_a_declared_campaign(client: TestClient) -> None:
    campaign = create_complete(
        client,
        start_at="2999-01-01T09:00:00+01:00",
        sending_schedule={"days": ["mon"], "from": "09:00", "to": "20:00", "time_zone": "UTC"},
        pause_rules=[{"metric": "ctr", "below": 1.5, "after": 500}],
        ctr_indicators={"red_below": 1.5, "green_from": 4.0},
    )

    declared(campaign, Campaign)
    declared(answered(client, f"/api/campaigns/{campaign['id']}"), Campaign)
    declared(create(client, name="Bare"), Campaign)


def test_a_suspended_campaign_its_list_and_its_history_are_declared(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Suspended")
    client.patch(f"/api/campaigns/{campaign_id}", json={"name": "Renamed"})

    suspended = declared(answered(client, f"/api/campaigns/{campaign_id}"), Campaign)
    page = declared(answered(client, "/api/campaigns"), ListPage)
    history = declared(
        answered(client, f"/api/campaigns/{campaign_id}/history"), list[HistoryEntry]
    )

    assert suspended.suspension is not None
    assert [type(item) for item in page.items] == [CampaignListItem]
    assert any(isinstance(entry.cause, dict) for entry in history)
    assert any(isinstance(entry.changed, list) for entry in history)


def test_every_line_of_the_event_history_is_a_declared_event(client: TestClient) -> None:
    create_complete(client)

    response = client.get("/api/events")

    lines = response.text.splitlines()
    assert lines
    for line in lines:
        declared(json.loads(line), EventMessage)


def test_the_streams_a_new_one_among_them_are_declared_streams(client: TestClient) -> None:
    settings = {"host": "smsc.example.com", "system_id": "shop", "password": "s3cret!"}
    body = {"name": "smsc", "carrier": "smpp", "rate": 5, "settings": settings}
    added = client.post("/api/streams", json=body)
    assert added.status_code == 201, added.text

    smsc = declared(added.json(), Stream)
    streams = declared(answered(client, "/api/streams"), StreamList)

    assert smsc.link is not None and smsc.link.state == "waiting"
    assert {stream.name for stream in streams.items} == {"demo", "smsc"}


def test_health_readiness_and_refusals_are_declared(client: TestClient) -> None:
    unknown = client.get("/api/campaigns/2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a")
    invalid = client.post("/api/campaigns", json={"name": "", "colour": "red"})
    stale = client.patch(
        f"/api/campaigns/{create(client, name='Once')['id']}",
        json={"name": "Twice", "expected_version": 7},
    )

    declared(answered(client, "/healthz"), Health)
    assert declared(answered(client, "/readyz"), Readiness).status == "ready"
    for refusal, status in ((unknown, 404), (invalid, 422), (stale, 409)):
        assert refusal.status_code == status, refusal.text
        declared(refusal.json(), Error)
    assert isinstance(declared(invalid.json(), Error).error.details, list)
