"""Replaying a time range of the history onto the wall (`WS /ws/replay`), on SQLite and on
PostgreSQL: the rows as they were at the start, the changes in time order, each message
marked as a replay, then the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.schemas.realtime_answers import RealtimeEnd, RealtimeSnapshot, RealtimeUpdate
from infra.bootstrap import Platform
from tests.integration.scenarios import create
from tests.integration.test_realtime import fill_and_finish

FAST = 100_000  # history seconds per second: the whole range in one step


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def played(client: TestClient, query: str) -> list[dict[str, Any]]:
    """The messages of a replay, each checked against its declaration."""
    messages = []
    with client.websocket_connect(f"/ws/replay?{query}") as ws:
        try:
            while True:
                messages.append(ws.receive_json())
        except WebSocketDisconnect as closed:
            assert closed.code == 1000
    for message in messages:
        replayed = msgspec.convert(message, RealtimeSnapshot | RealtimeUpdate | RealtimeEnd)
        assert replayed.replay is not msgspec.UNSET
    return messages


def test_a_replay_starts_with_the_rows_as_they_were_and_plays_the_changes(
    client: TestClient,
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    campaign = create(client, name="First name")["id"]
    response = client.patch(f"/api/campaigns/{campaign}", json={"name": "Second name"})
    assert response.status_code == 200, response.text
    after = datetime.now(UTC) + timedelta(seconds=1)

    messages = played(client, f"from={stamp(before)}&to={stamp(after)}&speed={FAST}")
    assert messages[0]["type"] == "snapshot" and messages[0]["rows"] == []
    assert messages[-1]["type"] == "end"
    assert all(m["replay"]["speed"] == FAST for m in messages)
    assert messages[-1]["replay"]["at"] == messages[-1]["replay"]["to"]
    shown = [row for m in messages[1:-1] for row in m["rows"] if row["id"] == campaign]
    assert shown[-1]["name"] == "Second name" and shown[-1]["status"] == "Draft"

    later = played(client, f"from={stamp(after)}&to={stamp(after + timedelta(1))}&speed={FAST}")
    assert [row["name"] for row in later[0]["rows"]] == ["Second name"]


def test_a_replay_shows_the_figures_of_a_campaign_that_sent(
    client: TestClient, platform: Platform
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    campaign = fill_and_finish(client, platform, "Replayed")
    after = datetime.now(UTC) + timedelta(minutes=1)

    messages = played(client, f"from={stamp(before)}&to={stamp(after)}&speed={FAST}&name=replayed")
    last = [row for m in messages for row in m.get("rows", []) if row["id"] == campaign][-1]
    assert last["status"] == "Finished"
    assert last["sent"] == last["delivered"] == last["recipients"] == 12
    assert [d["name"] for d in last["domains"]] == ["go.example.com", "out.example.com"]


def test_a_status_filter_removes_a_row_that_leaves_it_during_the_replay(
    client: TestClient, platform: Platform
) -> None:
    campaign = fill_and_finish(client, platform, "Leaving")
    history = client.get(f"/api/campaigns/{campaign}/history").json()
    created, launched = (parse(row["at"]) for row in history[:2])
    assert history[1]["to_status"] == "Processing"
    while_a_draft = created + (launched - created) / 2  # the snapshot shows it as a Draft
    after = datetime.now(UTC) + timedelta(minutes=1)
    query = f"from={stamp(while_a_draft)}&to={stamp(after)}&speed={FAST}&status=Draft"
    messages = played(client, query)
    assert [row["id"] for row in messages[0]["rows"]] == [campaign]
    assert any(campaign in m.get("removed", []) for m in messages)


def test_bad_replay_ranges_are_refused_in_the_error_format(client: TestClient) -> None:
    now = datetime.now(UTC)
    for query in (
        "",
        f"from={stamp(now)}&to={stamp(now - timedelta(1))}",
        f"from=yesterday&to={stamp(now)}",
        f"from={stamp(now)}&to={stamp(now + timedelta(1))}&speed=0",
        f"from={stamp(now)}&to={stamp(now + timedelta(1))}&status=Nope",
    ):
        with client.websocket_connect(f"/ws/replay?{query}") as ws:
            message = ws.receive_json()
            assert message["type"] == "error", query
            assert message["error"]["code"] == "validation_failed"
