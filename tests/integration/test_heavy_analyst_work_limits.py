"""Review finding 14, "heavy analyst work has no limits": replay sockets are capped per
gateway and per token (beyond, an `error` and 1013), and `GET /api/events?type=` reads a
bounded window of the store per request, saying in `X-Next-After` where to read on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway import api
from gateway.app import create_app
from infra.bootstrap import Platform
from projections.messages import EventMessage
from tests.credentials import ADMIN_HEADERS
from tests.integration.scenarios import create
from tests.integration.test_access import bearer
from tests.integration.test_replay import stamp

WINDOW = 10  # positions one filtered request reads, in these tests
MAX_REPLAYS, MAX_REPLAYS_PER_TOKEN = 8, 2  # at once: per gateway, per token (the README's)


@pytest.fixture
def gateway(platform: Platform) -> Iterator[TestClient]:
    """A client with no token of its own: each request says who it is."""
    with TestClient(create_app(platform, own_platform=True)) as client:
        yield client


def analyst(platform: Platform, name: str) -> dict[str, str]:
    return bearer(platform.tokens.create(name, "analyst")[1])


def replay_path() -> str:
    """An hour of history at real speed: it plays for as long as the test needs."""
    start = datetime.now(UTC) - timedelta(hours=2)
    return f"/ws/replay?from={stamp(start)}&to={stamp(start + timedelta(hours=1))}&speed=1"


def open_replay(stack: ExitStack, client: TestClient, headers: dict[str, str]) -> Any:
    socket = stack.enter_context(client.websocket_connect(replay_path(), headers=headers))
    return socket


def assert_refused_as_busy(client: TestClient, headers: dict[str, str]) -> str:
    with client.websocket_connect(replay_path(), headers=headers) as socket:
        message = socket.receive_json()
        assert message["type"] == "error", message  # before waiting for a close
        closing = socket.receive()
    assert message["error"]["code"] == "too_many_requests", message
    assert closing["type"] == "websocket.close" and closing["code"] == 1013, closing
    return str(message["error"]["message"])


def test_a_token_plays_at_most_two_replays_at_once(platform: Platform, gateway: TestClient) -> None:
    ana = analyst(platform, "Ana")
    with ExitStack() as stack:
        for _ in range(MAX_REPLAYS_PER_TOKEN):
            assert open_replay(stack, gateway, ana).receive_json()["type"] == "snapshot"

        assert "this token" in assert_refused_as_busy(gateway, ana)
        other = open_replay(stack, gateway, analyst(platform, "Bo"))
        assert other.receive_json()["type"] == "snapshot"


def test_a_replay_that_ends_gives_its_place_back(platform: Platform, gateway: TestClient) -> None:
    ana = analyst(platform, "Ana")
    with ExitStack() as stack:
        for _ in range(MAX_REPLAYS_PER_TOKEN):
            open_replay(stack, gateway, ana).receive_json()
    deadline = time.monotonic() + 5
    while True:  # the server notices the sockets leaving a moment after they left
        with gateway.websocket_connect(replay_path(), headers=ana) as socket:
            first = socket.receive_json()
        if first["type"] == "snapshot" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert first["type"] == "snapshot", first


def test_a_gateway_plays_at_most_eight_replays_at_once(
    platform: Platform, gateway: TestClient
) -> None:
    tokens = [analyst(platform, f"Analyst {n}") for n in range(MAX_REPLAYS)]
    with ExitStack() as stack:
        for n in range(MAX_REPLAYS):
            socket = open_replay(stack, gateway, tokens[n // MAX_REPLAYS_PER_TOKEN])
            assert socket.receive_json()["type"] == "snapshot"

        assert "this gateway" in assert_refused_as_busy(gateway, tokens[-1])


# GET /api/events?type=


def recording_reads(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> list[list[EventMessage]]:
    """What the gateway reads from the store, one list per read."""
    reads: list[list[EventMessage]] = []
    read_events = platform.read_events

    def recorded(after: int, limit: int) -> list[EventMessage]:
        found = read_events(after, limit)
        reads.append(found)
        return found

    monkeypatch.setattr(platform, "read_events", recorded)
    return reads


def lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_an_events_request_for_a_rare_type_reads_a_bounded_window_of_the_store(
    platform: Platform, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3 * WINDOW):
        create(client, name=f"Campaign {n}")
    everything = lines(client.get("/api/events", params={"limit": 100_000}))
    assert len(everything) > 2 * WINDOW  # the store goes on well past the window
    monkeypatch.setattr(api, "EVENTS_SCAN", WINDOW, raising=False)
    reads = recording_reads(platform, monkeypatch)

    response = client.get("/api/events", params={"type": "Nothing.Stored", "limit": 5})

    assert lines(response) == []
    assert response.headers["x-next-after"] == str(WINDOW)
    read = [message.position for found in reads for message in found]
    assert read and max(read) <= WINDOW  # positions 1 to 10: no more of the store


def test_following_x_next_after_finds_every_event_of_a_type(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3 * WINDOW):
        create(client, name=f"Campaign {n}")
    everything = lines(client.get("/api/events", params={"limit": 100_000}))
    wanted = everything[-1]["type"]
    monkeypatch.setattr(api, "EVENTS_SCAN", WINDOW, raising=False)

    found, after, requests = [], 0, 0
    while True:
        requests += 1
        response = client.get("/api/events", params={"type": wanted, "after": after})
        found += lines(response)
        if "x-next-after" not in response.headers:
            break
        after = int(response.headers["x-next-after"])

    assert found == [event for event in everything if event["type"] == wanted]
    assert requests > 2
    unfiltered = client.get("/api/events", params={"limit": 5}, headers=ADMIN_HEADERS)
    assert "x-next-after" not in unfiltered.headers and len(lines(unfiltered)) == 5
