"""Creating, reading, listing and editing campaigns through the JSON API, on both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.testclient import TestClient

from infra.bootstrap import Platform

from .scenarios import (
    LIST_ID,
    add_link_domains,
    assert_error,
    assert_list_agrees_with_campaigns,
    complete_fields,
    create,
    create_complete,
    drive,
    stored_events,
)

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
CAMPAIGN_KEYS = {
    "id",
    "version",
    "name",
    "description",
    "status",
    "status_reason",
    "tags",
    "type",
    "stream",
    "sender",
    "created_at",
    "contact_lists",
    "variants",
    "links",
    "start_at",
    "sending_schedule",
    "pause_rules",
    "ctr_indicators",
    "recipients",
    "ctr",
    "cost",
}


def listed(client: TestClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/campaigns{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_creating_a_campaign_answers_201_with_a_draft_echoing_every_field(
    client: TestClient, platform: Platform
) -> None:
    fields = complete_fields(
        name="Spring sale ✓ 20% <off> & more",
        tags=["spring", "vip"],
        type="two_way",
        start_at="2999-01-01T09:00:00+01:00",
        sending_schedule={
            "days": ["mon", "tue"],
            "from": "09:00",
            "to": "20:00",
            "time_zone": "Europe/Berlin",
        },
        pause_rules=[{"metric": "ctr", "below": 1.5, "after": 500}],
        ctr_indicators={"red_below": 1.5, "green_from": 4.0},
    )
    add_link_domains(client)
    before = stored_events(platform)

    response = client.post("/api/campaigns", json=fields)

    assert response.status_code == 201, response.text
    campaign = response.json()
    assert set(campaign) >= CAMPAIGN_KEYS
    assert campaign["status"] == "Draft"
    assert campaign["version"] == 1
    for key in ("name", "description", "tags", "type", "stream", "sender", "contact_lists"):
        assert campaign[key] == fields[key], key
    assert campaign["links"]["short"]["target"] == "https://shop.example.com/spring"
    assert campaign["links"]["short"]["domains"] == ["go.example.com"]
    assert campaign["links"]["optout"]["domains"] == ["out.example.com"]
    assert [(v["text"], v["weight"]) for v in campaign["variants"]] == [
        (v["text"], v["weight"]) for v in fields["variants"]
    ]
    assert all(v["id"] for v in campaign["variants"])
    assert campaign["start_at"] == "2999-01-01T08:00:00.000000Z"  # stored in UTC
    assert campaign["sending_schedule"] == fields["sending_schedule"]
    assert campaign["pause_rules"] == fields["pause_rules"]
    assert campaign["ctr_indicators"] == fields["ctr_indicators"]
    assert campaign["recipients"] == {"total": 0, "sent": 0}
    assert campaign["cost"] == "0.0000"
    assert TIME.match(campaign["created_at"])
    assert stored_events(platform) == before + 1


def test_a_campaign_created_with_only_a_name_gets_the_defaults(client: TestClient) -> None:
    campaign = create(client, name="Just a name")

    assert campaign["status"] == "Draft"
    assert campaign["type"] == "outbound"
    assert campaign["stream"] == "demo"
    assert campaign["tags"] == []
    assert campaign["variants"] == []
    assert campaign["sender"] is None


def test_a_name_of_200_characters_of_any_kind_is_accepted(client: TestClient) -> None:
    name = ("Ünïcødé 🚀 #1 & <b>" * 20)[:200]

    campaign = create(client, name=name)

    assert campaign["name"] == name
    assert client.get(f"/api/campaigns/{campaign['id']}").json()["name"] == name


def test_getting_a_campaign_returns_what_was_created(client: TestClient) -> None:
    created = create_complete(client)

    response = client.get(f"/api/campaigns/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_the_list_shows_every_campaign_newest_first_with_the_total(client: TestClient) -> None:
    for name in ("First", "Second", "Third"):
        create(client, name=name)

    page = listed(client)

    assert names(page) == ["Third", "Second", "First"]
    assert page["total"] == 3
    assert page["page"] == 1
    assert page["per_page"] == 20
    item = page["items"][0]
    assert item["status"] == "Draft"
    assert item["recipients"] == {"total": 0, "sent": 0}
    assert TIME.match(item["created_at"])
    assert_list_agrees_with_campaigns(client)


def test_the_list_pages_newest_first(client: TestClient) -> None:
    for number in range(1, 6):
        create(client, name=f"Campaign {number}")

    first = listed(client, "?per_page=2")
    second = listed(client, "?per_page=2&page=2")
    third = listed(client, "?per_page=2&page=3")
    beyond = listed(client, "?per_page=2&page=4")

    assert names(first) == ["Campaign 5", "Campaign 4"]
    assert names(second) == ["Campaign 3", "Campaign 2"]
    assert names(third) == ["Campaign 1"]
    assert names(beyond) == []
    assert [p["total"] for p in (first, second, third, beyond)] == [5, 5, 5, 5]
    assert (second["page"], second["per_page"]) == (2, 2)
    assert listed(client, "?per_page=100")["per_page"] == 100


def test_per_page_over_100_or_a_page_below_1_is_refused(
    client: TestClient, platform: Platform
) -> None:
    before = stored_events(platform)
    for query in ("?per_page=101", "?per_page=0", "?page=0", "?page=x", "?per_page=2.5"):
        error = assert_error(client.get(f"/api/campaigns{query}"), 422, "validation_failed")
        assert error["details"][0]["field"] in ("page", "per_page"), query
    assert stored_events(platform) == before


def test_the_name_filter_matches_a_substring_whatever_the_case(client: TestClient) -> None:
    for name in ("Spring SALE", "summer sale", "Newsletter", "100% off_today", "ÜBER Straße"):
        create(client, name=name)

    assert names(listed(client, "?name=Sale")) == ["summer sale", "Spring SALE"]
    assert names(listed(client, "?name=über")) == ["ÜBER Straße"]
    assert names(listed(client, "?name=STRASSE")) == ["ÜBER Straße"]
    assert names(listed(client, "?name=RING")) == ["Spring SALE"]
    assert listed(client, "?name=Sale")["total"] == 2
    # LIKE's wildcards are matched as themselves.
    assert names(listed(client, "?name=%25")) == ["100% off_today"]
    assert names(listed(client, "?name=f_t")) == ["100% off_today"]
    assert names(listed(client, "?name=nothing like it")) == []


def test_the_status_filter_takes_several_statuses(client: TestClient, platform: Platform) -> None:
    create(client, name="A draft")
    launched = create_complete(client, name="Launched")
    assert client.post(f"/api/campaigns/{launched['id']}/launch").status_code == 200
    ready = create_complete(client, name="Ready one")
    client.post(f"/api/campaigns/{ready['id']}/launch")
    drive(platform, ready["id"], "prepare")

    assert names(listed(client, "?status=Draft")) == ["A draft"]
    assert names(listed(client, "?status=Ready")) == ["Ready one"]
    assert names(listed(client, "?status=Processing&status=Ready")) == ["Ready one", "Launched"]
    assert listed(client, "?status=Processing&status=Ready")["total"] == 2
    assert names(listed(client, "?status=Finished")) == []
    assert_list_agrees_with_campaigns(client)


def test_an_unknown_status_or_type_filter_is_refused(client: TestClient) -> None:
    assert_error(client.get("/api/campaigns?status=Running"), 422, "validation_failed")
    assert_error(client.get("/api/campaigns?type=inbound"), 422, "validation_failed")


def test_the_tag_filter_takes_several_tags_and_matches_any_of_them(client: TestClient) -> None:
    create(client, name="Spring", tags=["spring", "vip"])
    create(client, name="Summer", tags=["summer"])
    create(client, name="Untagged")

    assert names(listed(client, "?tag=vip")) == ["Spring"]
    assert names(listed(client, "?tag=spring&tag=summer")) == ["Summer", "Spring"]
    assert listed(client, "?tag=spring&tag=summer")["total"] == 2
    assert names(listed(client, "?tag=winter")) == []


def test_the_list_follows_edited_tags(client: TestClient) -> None:
    campaign = create(client, name="Retagged", tags=["old"])
    client.patch(f"/api/campaigns/{campaign['id']}", json={"tags": ["new"]})

    assert names(listed(client, "?tag=old")) == []
    assert names(listed(client, "?tag=new")) == ["Retagged"]


def test_the_type_and_stream_filters(client: TestClient) -> None:
    create(client, name="Outbound", type="outbound")
    create(client, name="Two way", type="two_way")
    no_stream = create(client, name="No stream yet", type="transactional")
    response = client.patch(f"/api/campaigns/{no_stream['id']}", json={"stream": None})
    assert response.status_code == 200, response.text

    assert names(listed(client, "?type=two_way")) == ["Two way"]
    assert names(listed(client, "?type=transactional")) == ["No stream yet"]
    assert names(listed(client, "?stream=demo")) == ["Two way", "Outbound"]
    assert names(listed(client, "?stream=elsewhere")) == []
    assert names(listed(client, "?type=outbound&stream=demo")) == ["Outbound"]


def test_the_created_between_filter_takes_times_and_dates(client: TestClient) -> None:
    first = create(client, name="First")
    second = create(client, name="Second")
    create(client, name="Third")
    today = datetime.now(UTC).date()

    assert names(listed(client, f"?created_from={second['created_at']}")) == ["Third", "Second"]
    assert names(listed(client, f"?created_to={first['created_at']}")) == ["First"]
    both = f"?created_from={first['created_at']}&created_to={second['created_at']}"
    assert names(listed(client, both)) == ["Second", "First"]
    assert listed(client, f"?created_from={today}&created_to={today}")["total"] == 3
    assert listed(client, f"?created_to={today - timedelta(days=1)}")["total"] == 0
    assert listed(client, f"?created_from={today + timedelta(days=1)}")["total"] == 0
    assert_error(client.get("/api/campaigns?created_from=yesterday"), 422, "validation_failed")


def test_editing_a_draft_changes_its_fields_and_the_list(
    client: TestClient, platform: Platform
) -> None:
    campaign = create(client, name="Before")
    before = stored_events(platform)

    response = client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={
            "name": "After",
            "description": "now with a description",
            "tags": ["edited"],
            "sender": "Shop",
            "contact_lists": [LIST_ID],
            "reason": "wizard step saved",
        },
    )

    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["version"] == 2
    assert edited["status"] == "Draft"
    assert (edited["name"], edited["description"], edited["tags"]) == (
        "After",
        "now with a description",
        ["edited"],
    )
    assert (edited["sender"], edited["contact_lists"]) == ("Shop", [LIST_ID])
    assert client.get(f"/api/campaigns/{campaign['id']}").json() == edited
    assert names(listed(client)) == ["After"]
    assert stored_events(platform) == before + 1
    assert_list_agrees_with_campaigns(client)


def test_an_edit_that_changes_nothing_writes_nothing(
    client: TestClient, platform: Platform
) -> None:
    campaign = create(client, name="Same", tags=["a"])
    before = stored_events(platform)

    response = client.patch(
        f"/api/campaigns/{campaign['id']}", json={"name": "Same", "tags": ["a"]}
    )

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert stored_events(platform) == before


def test_a_live_campaign_keeps_its_name_and_ratio_editable_but_not_its_sender(
    client: TestClient, platform: Platform
) -> None:
    campaign = create_complete(client)
    client.post(f"/api/campaigns/{campaign['id']}/launch")
    drive(platform, campaign["id"], "prepare", "start", "begin_sending")
    variants = [{"id": v["id"], "weight": 5} for v in campaign["variants"]]

    renamed = client.patch(
        f"/api/campaigns/{campaign['id']}",
        json={"name": "Renamed while sending", "variants": variants},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed while sending"
    assert [v["weight"] for v in renamed.json()["variants"]] == [5, 5]
    assert [v["text"] for v in renamed.json()["variants"]] == [
        v["text"] for v in campaign["variants"]
    ]
    assert renamed.json()["status"] == "Sending"

    before = stored_events(platform)
    refused = client.patch(f"/api/campaigns/{campaign['id']}", json={"sender": "Other"})
    error = assert_error(refused, 409, "illegal_transition")
    assert "sender" in error["message"]
    assert error["details"]["fixed_fields"] == ["sender"]
    assert stored_events(platform) == before


def test_a_campaign_can_be_read_as_it_was_at_a_version_or_a_moment(client: TestClient) -> None:
    campaign = create(client, name="Original", tags=["v1"])
    client.patch(f"/api/campaigns/{campaign['id']}", json={"name": "Renamed"})
    client.patch(f"/api/campaigns/{campaign['id']}", json={"tags": ["v3"]})
    url = f"/api/campaigns/{campaign['id']}"

    at_one = client.get(f"{url}?version=1").json()
    at_two = client.get(f"{url}?version=2").json()
    at_creation = client.get(f"{url}?as_of={campaign['created_at']}").json()
    now = client.get(url, params={"as_of": datetime.now(UTC).isoformat()}).json()

    assert (at_one["version"], at_one["name"], at_one["tags"]) == (1, "Original", ["v1"])
    assert (at_two["version"], at_two["name"], at_two["tags"]) == (2, "Renamed", ["v1"])
    assert at_creation == at_one
    assert (now["version"], now["name"], now["tags"]) == (3, "Renamed", ["v3"])
    assert client.get(url).json() == now


def test_time_travel_before_a_campaign_existed_is_not_found(client: TestClient) -> None:
    campaign = create(client, name="Young")
    url = f"/api/campaigns/{campaign['id']}"

    assert_error(client.get(f"{url}?as_of=2000-01-01T00:00:00Z"), 404, "not_found")
    assert_error(client.get(f"{url}?version=0"), 422, "validation_failed")
    assert_error(client.get(f"{url}?version=2"), 404, "not_found")  # not reached yet
    assert_error(client.get(f"{url}?as_of=not-a-time"), 422, "validation_failed")


def test_the_history_lists_every_event_in_order_with_actor_statuses_and_reason(
    client: TestClient, platform: Platform
) -> None:
    campaign = create_complete(client, name="Audited")
    campaign_id = campaign["id"]
    client.patch(f"/api/campaigns/{campaign_id}", json={"name": "Audited again"})
    client.post(f"/api/campaigns/{campaign_id}/launch", json={"reason": "go"})
    drive(platform, campaign_id, "prepare", "start")
    client.post(f"/api/campaigns/{campaign_id}/pause", json={"reason": "client asked"})

    response = client.get(f"/api/campaigns/{campaign_id}/history")

    assert response.status_code == 200, response.text
    rows = response.json()
    keys = ("type", "actor", "from_status", "to_status", "reason", "version")
    assert [tuple(row[k] for k in keys) for row in rows] == [
        ("Campaign.Created", "bootstrap", None, "Draft", "created", 1),
        ("Campaign.Edited", "bootstrap", "Draft", "Draft", "edited", 2),
        ("Campaign.Launched", "bootstrap", "Draft", "Processing", "go", 3),
        ("Campaign.Prepared", "system", "Processing", "Ready", "prepared 12 recipients", 4),
        ("Campaign.Started", "system", "Ready", "Started", "the demo stream took it", 5),
        ("Campaign.Paused", "bootstrap", "Started", "Paused", "client asked", 6),
    ]
    positions = [row["position"] for row in rows]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] <= stored_events(platform)
    assert all(TIME.match(row["at"]) for row in rows)
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)


def test_the_history_filters_by_actor_type_and_time_in_any_time_zone(
    client: TestClient, platform: Platform
) -> None:
    campaign = create_complete(client, name="Filtered")
    client.post(f"/api/campaigns/{campaign['id']}/launch")
    drive(platform, campaign["id"], "prepare")
    url = f"/api/campaigns/{campaign['id']}/history"
    rows = client.get(url).json()
    launched_at = datetime.fromisoformat(rows[1]["at"].replace("Z", "+00:00"))
    # The same instant written in UTC+02:00.
    in_berlin_summer = launched_at.astimezone(timezone(timedelta(hours=2))).isoformat()

    by_system = client.get(url, params={"actor": "system"}).json()
    launches = client.get(url, params={"type": "Launched"}).json()
    from_launch = client.get(url, params={"from": in_berlin_summer}).json()
    until_launch = client.get(url, params={"to": in_berlin_summer}).json()

    assert [row["type"] for row in by_system] == ["Campaign.Prepared"]
    assert [row["type"] for row in launches] == ["Campaign.Launched"]
    assert [row["type"] for row in from_launch] == ["Campaign.Launched", "Campaign.Prepared"]
    assert [row["type"] for row in until_launch] == ["Campaign.Created", "Campaign.Launched"]


def test_the_history_of_an_unknown_campaign_is_not_found(client: TestClient) -> None:
    assert_error(
        client.get("/api/campaigns/00000000-0000-4000-8000-000000000000/history"), 404, "not_found"
    )
