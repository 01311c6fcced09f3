"""The realtime wall's feed over `WS /ws/realtime`, on SQLite and on PostgreSQL: a snapshot
with its position, then updates; filters; resuming after a position; the rows' own checks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.schemas.realtime_answers import RealtimeHeartbeat, RealtimeSnapshot, RealtimeUpdate
from infra.bootstrap import Platform, build
from infra.settings import Settings, parse_database_url
from projections.changes import mark_changed, mark_every_campaign
from tests.integration.conftest import drop_schema, postgres_url
from tests.integration.scenarios import (
    LINK_DOMAINS,
    add_link_domains,
    create,
    create_complete,
    launched,
)

Message = dict[str, Any]
HEARTBEATS = 3  # quiet spells (5 s each) a test waits through before giving up


def receive_until(ws: Any, wanted: Callable[[Message], bool]) -> Message:
    seen: list[Message] = []
    while sum(1 for m in seen if m["type"] == "heartbeat") < HEARTBEATS:
        message: Message = ws.receive_json()
        msgspec.convert(message, RealtimeSnapshot | RealtimeUpdate | RealtimeHeartbeat)
        seen.append(message)
        if wanted(message):
            return message
    raise AssertionError(f"never received what the test waited for; got {seen}")


def showing(campaign_id: str, **fields: Any) -> Callable[[Message], bool]:
    def wanted(message: Message) -> bool:
        return any(
            row["id"] == campaign_id and all(row[k] == v for k, v in fields.items())
            for row in message.get("rows", [])
        )

    return wanted


def row_of(message: Message, campaign_id: str) -> dict[str, Any]:
    return next(row for row in message["rows"] if row["id"] == campaign_id)


def test_a_wall_gets_a_snapshot_with_its_position_then_updates(client: TestClient) -> None:
    campaign = create(client, name="Spring sale", tags=["promo"])
    with client.websocket_connect("/ws/realtime") as ws:
        first = ws.receive_json()
        assert first["type"] == "snapshot" and isinstance(first["position"], int)
        shown = (
            first if showing(campaign["id"])(first) else receive_until(ws, showing(campaign["id"]))
        )
        row = row_of(shown, campaign["id"])
        assert row["name"] == "Spring sale" and row["status"] == "Draft"
        assert row["tags"] == ["promo"] and row["sent"] == 0 and row["recipients"] == 0

        response = client.patch(f"/api/campaigns/{campaign['id']}", json={"name": "Summer sale"})
        assert response.status_code == 200, response.text
        update = receive_until(ws, showing(campaign["id"], name="Summer sale"))
        assert update["type"] == "update" and update["position"] > shown["position"]


def test_filters_choose_the_rows_and_a_row_leaving_them_is_removed(
    client: TestClient,
) -> None:
    with client.websocket_connect("/ws/realtime?status=Draft&name=SPRING") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        other = create(client, name="Autumn sale")
        spring = create_complete(client, name="Spring sale")["id"]
        receive_until(ws, showing(spring, status="Draft"))
        response = client.post(f"/api/campaigns/{spring}/launch")
        assert response.status_code == 200, response.text
        removal = receive_until(ws, lambda m: spring in m.get("removed", []))
        assert removal["type"] == "update"
        seen = [row["id"] for row in removal["rows"]]
        assert other["id"] not in seen and spring not in seen


def test_tag_and_status_filters_accept_several_values(client: TestClient) -> None:
    tagged = create(client, name="Tagged", tags=["vip"])["id"]
    create(client, name="Untagged")
    with client.websocket_connect("/ws/realtime?tag=vip,other&status=Draft&status=Paused") as ws:
        message = receive_until(ws, showing(tagged))
        assert [row["name"] for row in message["rows"]] == ["Tagged"]


def test_reconnecting_after_a_position_continues_with_no_gap(client: TestClient) -> None:
    campaign = create(client, name="First name")["id"]
    with client.websocket_connect("/ws/realtime") as ws:
        position = receive_until(ws, showing(campaign))["position"]
    for name in ("Second name", "Third name"):
        response = client.patch(f"/api/campaigns/{campaign}", json={"name": name})
        assert response.status_code == 200, response.text
    with client.websocket_connect("/ws/realtime") as ws:  # waits until the hub has it
        latest = receive_until(ws, showing(campaign, name="Third name"))["position"]
    with client.websocket_connect(f"/ws/realtime?after={position}") as ws:
        resumed = ws.receive_json()
    assert resumed["type"] == "update"
    assert resumed["position"] >= latest > position
    assert row_of(resumed, campaign)["name"] == "Third name"


def test_a_position_the_hub_cannot_continue_from_gets_a_snapshot(client: TestClient) -> None:
    create(client, name="Any")
    with client.websocket_connect("/ws/realtime?after=999999999") as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_bad_filters_are_refused_in_the_error_format(client: TestClient) -> None:
    for query in ("status=Nope", "after=-3", "after=soon"):
        with client.websocket_connect(f"/ws/realtime?{query}") as ws:
            message = ws.receive_json()
            assert message["type"] == "error", query
            assert message["error"]["code"] == "validation_failed"
            try:
                ws.receive_json()
                raise AssertionError("the connection stayed open")
            except WebSocketDisconnect as closed:
                assert closed.code == 1008


def fill_and_finish(client: TestClient, platform: Platform, name: str) -> str:
    """A campaign of 12 recipients, sent to the end by the engine driven by hand."""
    client.patch(
        "/api/streams/demo",
        json={"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}},
    )
    platform.sending.carrier.delay_scale = 0  # receipts as soon as the carrier takes them
    add_link_domains(client)
    for domain in LINK_DOMAINS:
        assert client.post(f"/api/domains/{domain}/configure").status_code == 200
    contacts = "phone\n" + "".join(f"+4477009{n:05d}\n" for n in range(12))
    response = client.post(
        "/api/contact-lists", content=contacts.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    campaign = str(launched(client, name=name, contact_lists=[response.json()["id"]])["id"])
    for _ in range(100):
        platform.sending.engine.run_until_idle()
        status = client.get(f"/api/campaigns/{campaign}").json()["status"]
        if status == "Finished":
            return campaign
    raise AssertionError(f"the campaign stayed {status}")


def test_a_sending_campaigns_row_follows_its_stats(client: TestClient, platform: Platform) -> None:
    with client.websocket_connect("/ws/realtime?name=busy") as ws:
        campaign = fill_and_finish(client, platform, "Busy")
        finished = showing(campaign, status="Finished", delivered=12)
        done = receive_until(ws, lambda m: finished(m) and row_of(m, campaign)["domains"] != [])
    row = row_of(done, campaign)
    assert row["sent"] == row["recipients"] == 12 and row["failed"] == 0
    assert [(d["name"], d["usage"]) for d in row["domains"]] == [(d, 12) for d in LINK_DOMAINS]
    assert row["active_domains"] == list(LINK_DOMAINS) and row["cost"] != "0.0000"


def test_verify_names_a_tampered_realtime_row_and_a_redraw_repairs_it(
    client: TestClient, platform: Platform
) -> None:
    campaign = create(client, name="Checked")["id"]
    with client.websocket_connect("/ws/realtime") as ws:
        receive_until(ws, showing(campaign))
    assert platform.verify() == []
    with platform.database.transaction() as cursor:
        cursor.execute(
            "UPDATE realtime_rows SET row_json = REPLACE(row_json, 'Checked', 'Tampered')"
        )
    differences = platform.verify()
    assert any("realtime_rows" in line and campaign in line for line in differences)
    assert platform.redraw_realtime() >= 1
    assert platform.verify() == []


def test_an_unknown_campaign_mark_draws_nothing(platform: Platform) -> None:
    platform.realtime_rows.mark([str(uuid.uuid4())])
    before = platform.realtime_rows.position()
    assert platform.realtime_rows.refresh() == before
    assert platform.realtime_rows.pending() == 0


def test_a_mark_for_every_campaign_redraws_each_row_once(platform: Platform) -> None:
    ids = [
        str(platform.app.create_campaign({"name": f"Everyone {n}"}, actor="ann").id)
        for n in range(3)
    ]
    platform.feed.catch_up()
    platform.redraw_realtime()
    with platform.database.transaction() as cursor:
        cursor.execute("UPDATE realtime_rows SET row_json = '{}'")  # all stale
        mark_every_campaign(cursor)
    assert platform.verify() == []  # every row is due for a redraw: none is wrong yet
    assert platform.realtime_rows.pending() == 1
    platform.realtime_rows.refresh()
    assert platform.realtime_rows.pending() == 0
    assert platform.verify() == []
    snapshot = platform.realtime_rows.snapshot()
    assert {row["id"] for row in snapshot[1]} >= set(ids)


def test_metrics_count_the_walls_clients_and_the_position_they_reached(
    client: TestClient,
) -> None:
    campaign = create(client, name="Measured")["id"]
    with client.websocket_connect("/ws/realtime") as ws:
        position = receive_until(ws, showing(campaign))["position"]
        lines = {
            sample.name: sample.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for sample in family.samples
        }
        assert lines["campaigns_wall_clients"] == 1
        assert lines["campaigns_wall_position"] >= position


def test_a_lower_limit_shows_the_domains_that_reached_it_on_the_row(
    client: TestClient, platform: Platform
) -> None:
    with client.websocket_connect("/ws/realtime?name=limited") as ws:
        campaign = fill_and_finish(client, platform, "Limited")
        receive_until(ws, lambda m: showing(campaign)(m) and row_of(m, campaign)["domains"] != [])
        response = client.put("/api/settings/domain-limit", json={"limit": 10})
        assert response.status_code == 200, response.text
        limited = receive_until(
            ws, lambda m: showing(campaign)(m) and not row_of(m, campaign)["active_domains"]
        )
    domains = row_of(limited, campaign)["domains"]
    assert {d["status"] for d in domains} == {"Reached Limit"}
    assert platform.verify() == []


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[Platform]:
    """A platform on PostgreSQL only: what two transactions at once do to the marks."""
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    platform = build(Settings(data_dir=tmp_path, postgres=parse_database_url(url, schema)))
    try:
        yield platform
    finally:
        platform.close()
        drop_schema(url, schema)


def test_a_campaign_changed_while_the_rows_take_its_mark_is_marked_again(
    on_postgres: Platform,
) -> None:
    platform = on_postgres
    campaign = str(platform.app.create_campaign({"name": "Before"}, actor="ann").id)
    platform.feed.catch_up()  # its row, and a mark that nobody has taken yet
    database, rows = platform.database, platform.realtime_rows
    taken, writer_marking, drawn = threading.Event(), threading.Event(), threading.Event()
    names: list[str] = []

    def refresh() -> None:  # the realtime rows' refresh, held between reading and deleting
        with database.transaction() as cursor:
            cursor.execute(
                "SELECT campaign_id FROM campaign_changes ORDER BY campaign_id "
                "FOR UPDATE SKIP LOCKED"
            )
            assert cursor.fetchall() == [(campaign,)]
            taken.set()
            assert writer_marking.wait(10)
            time.sleep(0.3)  # the writer marks the campaign now
            cursor.execute("DELETE FROM campaign_changes WHERE campaign_id = ?", (campaign,))
            cursor.execute("SELECT name FROM campaign_list WHERE id = ?", (campaign,))
            names.append(str(cursor.fetchall()[0][0]))
            drawn.set()

    refreshing = threading.Thread(target=refresh)
    refreshing.start()
    assert taken.wait(10)
    with database.transaction() as writer:  # a writer of the campaign's row, and its mark
        writer.execute("UPDATE campaign_list SET name = 'After' WHERE id = ?", (campaign,))
        writer_marking.set()
        mark_changed(writer, [campaign])  # waits for the refresh, which drew the old row
        assert drawn.wait(10)  # (committing only after the draw, whatever happened)
    refreshing.join(10)
    assert names == ["Before"]
    assert rows.pending() == 1  # marked again: the next refresh draws "After"


def test_a_mark_a_writer_holds_is_left_for_the_next_refresh(on_postgres: Platform) -> None:
    platform = on_postgres
    campaign = str(platform.app.create_campaign({"name": "Held"}, actor="ann").id)
    platform.feed.catch_up()
    with platform.database.transaction() as writer:
        mark_changed(writer, [campaign])
        with platform.database.transaction() as cursor:  # does not wait for the writer
            assert platform.realtime_rows.take_marks(cursor, 100) == []
    assert platform.realtime_rows.pending() == 1
