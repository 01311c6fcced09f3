"""Link domains, domain pools, the domain limit and sending streams through the JSON API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.audited import id_for_name
from domain.link_domain import LinkDomain
from gateway.app import create_app
from infra.bootstrap import Platform
from tests.credentials import ADMIN_HEADERS

from .scenarios import assert_error, stored_events


def add_domains(client: TestClient, *names: str) -> dict[str, Any]:
    response = client.post("/api/domains", json={"names": list(names)})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def domain_statuses(client: TestClient) -> dict[str, str]:
    response = client.get("/api/domains")
    assert response.status_code == 200, response.text
    return {item["name"]: item["status"] for item in response.json()["items"]}


def test_several_domains_are_added_at_once_as_pending(
    client: TestClient, platform: Platform
) -> None:
    before = stored_events(platform)

    response = client.post(
        "/api/domains", json={"names": ["go.example.com", "Out.Example.COM.", "go.example.com"]}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert [d["name"] for d in body["added"]] == ["go.example.com", "out.example.com"]
    assert all(d["status"] == "Pending" and d["usage"] == 0 for d in body["added"])
    assert body["existing"] == []
    assert domain_statuses(client) == {"go.example.com": "Pending", "out.example.com": "Pending"}
    assert stored_events(platform) > before


def test_adding_known_domains_again_changes_nothing(client: TestClient, platform: Platform) -> None:
    add_domains(client, "go.example.com")
    before = stored_events(platform)

    again = client.post("/api/domains", json={"names": ["go.example.com"]})

    assert again.status_code == 200
    assert again.json()["added"] == []
    assert [d["name"] for d in again.json()["existing"]] == ["go.example.com"]
    assert stored_events(platform) == before


def test_the_domain_list_is_sorted_and_carries_the_limit(client: TestClient) -> None:
    add_domains(client, "b.example.com", "a.example.com")
    add_domains(client, "c.example.com")

    body = client.get("/api/domains").json()

    assert [d["name"] for d in body["items"]] == ["a.example.com", "b.example.com", "c.example.com"]
    assert body["limit"] == 10_000
    assert {d["limit"] for d in body["items"]} == {10_000}


def test_domain_commands_change_the_status(client: TestClient) -> None:
    journeys = {
        "a.example.com": (["configure"], "Configured"),
        "b.example.com": (["configure", "block"], "Blocked"),
        "c.example.com": (["decline"], "Declined"),
        "d.example.com": (["archive"], "Archived"),
        "e.example.com": (["block", "configure"], "Configured"),
        "f.example.com": (["configure", "archive", "configure"], "Configured"),
        "g.example.com": (["decline", "configure"], "Configured"),
    }
    add_domains(client, *journeys)

    for name, (commands, status) in journeys.items():
        for command in commands:
            response = client.post(f"/api/domains/{name}/{command}", json={"reason": "by hand"})
            assert response.status_code == 200, (name, command, response.text)
        assert response.json()["status"] == status, name

    assert domain_statuses(client) == {name: status for name, (_, status) in journeys.items()}


def test_an_illegal_domain_transition_is_refused(client: TestClient, platform: Platform) -> None:
    add_domains(client, "go.example.com")
    client.post("/api/domains/go.example.com/configure")
    before = stored_events(platform)

    error = assert_error(
        client.post("/api/domains/go.example.com/decline"), 409, "illegal_transition"
    )

    assert "Configured" in error["message"] and "Pending" in error["message"]
    assert error["details"]["status"] == "Configured"
    assert domain_statuses(client) == {"go.example.com": "Configured"}
    assert stored_events(platform) == before


def test_a_command_on_an_unknown_domain_is_not_found(
    client: TestClient, platform: Platform
) -> None:
    before = stored_events(platform)

    assert_error(client.post("/api/domains/nowhere.example.com/configure"), 404, "not_found")
    assert_error(client.post("/api/domains/not a domain/configure"), 404, "not_found")
    assert_error(client.post("/api/domains/go.example.com/polish"), 404, "not_found")
    assert stored_events(platform) == before


def test_a_domain_at_the_limit_shows_reached_limit_until_the_limit_is_raised(
    client: TestClient, platform: Platform
) -> None:
    add_domains(client, "go.example.com")
    client.post("/api/domains/go.example.com/configure")
    domain = platform.app.load(LinkDomain, id_for_name("domain", "go.example.com"), "domain")
    domain.record_usage(5, None)
    platform.app.save(domain)

    response = client.put("/api/settings/domain-limit", json={"limit": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"limit": 5}
    assert domain_statuses(client) == {"go.example.com": "Reached Limit"}

    client.put("/api/settings/domain-limit", json={"limit": 6})
    assert domain_statuses(client) == {"go.example.com": "Configured"}
    assert client.get("/api/settings").json()["domain_limit"] == 6
    assert client.get("/api/domains").json()["items"][0]["usage"] == 5


def test_setting_the_domain_limit_to_a_non_positive_or_odd_value_is_refused(
    client: TestClient, platform: Platform
) -> None:
    before = stored_events(platform)
    for body in ({"limit": 0}, {"limit": -1}, {"limit": 2.5}, {"limit": "10"}, {}, {"cap": 5}):
        error = assert_error(
            client.put("/api/settings/domain-limit", json=body), 422, "validation_failed"
        )
        assert error["details"], body
    assert stored_events(platform) == before
    assert client.get("/api/settings").json()["domain_limit"] == 10_000


def test_a_pool_is_created_listed_and_edited(client: TestClient) -> None:
    add_domains(client, "a.example.com", "b.example.com", "c.example.com")

    created = client.post(
        "/api/domain-pools",
        json={"name": "Main", "description": "everyday links", "domains": ["a.example.com"]},
    )
    assert created.status_code == 201, created.text
    pool = created.json()
    assert (pool["name"], pool["description"], pool["domains"]) == (
        "Main",
        "everyday links",
        ["a.example.com"],
    )

    edited = client.patch(
        f"/api/domain-pools/{pool['id']}",
        json={"name": "Main pool", "add_domains": ["b.example.com", "c.example.com"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["domains"] == ["a.example.com", "b.example.com", "c.example.com"]

    removed = client.patch(
        f"/api/domain-pools/{pool['id']}", json={"remove_domains": ["a.example.com"]}
    )
    assert removed.json()["domains"] == ["b.example.com", "c.example.com"]
    assert removed.json()["version"] == 3

    client.post("/api/domain-pools", json={"name": "another"})
    listed = client.get("/api/domain-pools").json()["items"]
    assert [(p["name"], p["domains"]) for p in listed] == [
        ("another", []),
        ("Main pool", ["b.example.com", "c.example.com"]),
    ]
    assert client.get(f"/api/domain-pools/{pool['id']}").json() == removed.json()


def test_a_pool_naming_an_unknown_domain_is_refused(client: TestClient, platform: Platform) -> None:
    add_domains(client, "a.example.com")
    pool = client.post("/api/domain-pools", json={"name": "Main"}).json()
    before = stored_events(platform)

    error = assert_error(
        client.post("/api/domain-pools", json={"name": "Bad", "domains": ["nowhere.example.com"]}),
        422,
        "validation_failed",
    )
    assert error["details"][0]["field"] == "domains"
    assert "nowhere.example.com" in error["message"]
    assert_error(
        client.patch(
            f"/api/domain-pools/{pool['id']}", json={"add_domains": ["nowhere.example.com"]}
        ),
        422,
        "validation_failed",
    )
    assert_error(
        client.post("/api/domain-pools", json={"description": "no name"}), 422, "validation_failed"
    )
    assert_error(
        client.patch("/api/domain-pools/00000000-0000-4000-8000-000000000000", json={"name": "x"}),
        404,
        "not_found",
    )
    assert stored_events(platform) == before
    assert [p["name"] for p in client.get("/api/domain-pools").json()["items"]] == ["Main"]


def test_a_campaign_link_may_use_a_pool(client: TestClient) -> None:
    add_domains(client, "a.example.com")
    pool = client.post("/api/domain-pools", json={"name": "Main", "domains": ["a.example.com"]})
    pool_id = pool.json()["id"]

    response = client.post(
        "/api/campaigns",
        json={
            "name": "Pooled",
            "variants": [{"text": "Go {short_url}", "weight": 1}],
            "links": {"short": {"target": "https://shop.example.com", "pool": pool_id}},
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["links"]["short"]["pool"] == pool_id
    missing = response.json()["missing_steps"]
    assert not any("Short URL" in step for step in missing)


def test_the_demo_stream_exists_from_the_start(client: TestClient) -> None:
    response = client.get("/api/streams")

    assert response.status_code == 200
    streams = {s["name"]: s for s in response.json()["items"]}
    assert "demo" in streams
    demo = streams["demo"]
    assert (demo["carrier"], demo["enabled"], demo["rate"]) == ("demo", True, 0)
    assert sum(demo["demo"]["outcomes"].values()) == pytest.approx(1)


def test_patching_the_demo_stream_sets_its_rate_and_simulation(
    client: TestClient, platform: Platform
) -> None:
    outcomes = {
        "delivered": 0.5,
        "undelivered": 0.2,
        "failed": 0.1,
        "no_route": 0.1,
        "rejected": 0.1,
    }

    response = client.patch(
        "/api/streams/demo",
        json={"rate": 25, "seed": 7, "click_rate": 0.5, "reply_rate": 0, "outcomes": outcomes},
    )

    assert response.status_code == 200, response.text
    demo = response.json()
    assert demo["rate"] == 25
    assert demo["demo"]["seed"] == 7
    assert demo["demo"]["click_rate"] == 0.5
    assert demo["demo"]["reply_rate"] == 0
    assert demo["demo"]["optout_rate"] == 0.01  # untouched
    assert demo["demo"]["outcomes"] == outcomes
    listed = client.get("/api/streams").json()["items"]
    assert [s for s in listed if s["name"] == "demo"] == [demo]

    before = stored_events(platform)
    assert client.patch("/api/streams/demo", json={"rate": 25}).json() == demo
    assert stored_events(platform) == before


def test_bad_stream_settings_are_refused(client: TestClient, platform: Platform) -> None:
    before = stored_events(platform)
    demo = [s for s in client.get("/api/streams").json()["items"] if s["name"] == "demo"]

    for body in (
        {"rate": -1},
        {"rate": 1.5},
        {"rate": None},
        {"enabled": "no"},
        {"seed": "x"},
        {"click_rate": 1.5},
        {"optout_rate": -0.1},
        {"outcomes": {"delivered": 0.5}},
        {"outcomes": {"delivered": 1, "lost": 0}},
        {"colour": "red"},
    ):
        response = client.patch("/api/streams/demo", json=body)
        error = assert_error(response, 422, "validation_failed", body)
        assert error["details"][0]["field"] == next(iter(body)), body

    assert stored_events(platform) == before
    assert [s for s in client.get("/api/streams").json()["items"] if s["name"] == "demo"] == demo


def test_a_new_demo_stream_is_added_with_its_rate_and_settings(client: TestClient) -> None:
    response = client.post(
        "/api/streams",
        json={"name": "backup", "carrier": "demo", "rate": 50, "settings": {"seed": 9}},
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name"], created["carrier"], created["rate"]) == ("backup", "demo", 50)
    assert created["demo"]["seed"] == 9
    assert created["demo"]["click_rate"] == 0.08  # the demo stream's default
    assert created["owner"] is None  # no sending process runs here
    names = [s["name"] for s in client.get("/api/streams").json()["items"]]
    assert names == ["backup", "demo"]


def test_a_stream_is_added_once_per_command_id_and_once_per_name(client: TestClient) -> None:
    body = {"name": "backup", "carrier": "demo", "command_id": "add-backup"}
    first = client.post("/api/streams", json=body)
    again = client.post("/api/streams", json=body)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = client.post("/api/streams", json={"name": "backup", "carrier": "demo"})
    error = assert_error(other, 422, "validation_failed")
    assert error["details"][0]["field"] == "name"


def test_bad_new_streams_are_refused(client: TestClient, platform: Platform) -> None:
    before = stored_events(platform)

    for body, field in (
        ({"carrier": "demo"}, "name"),
        ({"name": "Backup Stream", "carrier": "demo"}, "name"),
        ({"name": "b", "carrier": "pigeon"}, "carrier"),
        ({"name": "b", "carrier": "demo", "rate": -1}, "rate"),
        ({"name": "b", "carrier": "demo", "settings": {"click_rate": 2}}, "settings"),
        ({"name": "b", "carrier": "demo", "settings": {"colour": "red"}}, "settings"),
        ({"name": "b", "carrier": "demo", "colour": "red"}, "colour"),
    ):
        error = assert_error(client.post("/api/streams", json=body), 422, "validation_failed")
        assert field in [problem["field"] for problem in error["details"]], body

    assert stored_events(platform) == before


def test_a_stream_shows_the_sending_process_that_owns_it(platform: Platform) -> None:
    platform.sending.engine.step()  # takes every stream: the only sending process
    app = create_app(platform, own_platform=True)
    with TestClient(app, headers=ADMIN_HEADERS) as client:
        demo = next(s for s in client.get("/api/streams").json()["items"] if s["name"] == "demo")

    owner = demo["owner"]
    assert owner["process"] == platform.sending.ownership.owner
    assert owner["epoch"] == 1
    assert owner["lease_expires_at"].endswith("Z")


def test_patching_an_unknown_stream_is_not_found(client: TestClient) -> None:
    assert_error(client.patch("/api/streams/nowhere", json={"rate": 1}), 404, "not_found")


def test_a_domain_command_refuses_unknown_fields(client: TestClient, platform: Platform) -> None:
    add_domains(client, "go.example.com")
    before = stored_events(platform)

    error = assert_error(
        client.post("/api/domains/go.example.com/configure", json={"force": True}),
        422,
        "validation_failed",
    )

    assert [problem["field"] for problem in error["details"]] == ["force"]
    assert domain_statuses(client) == {"go.example.com": "Pending"}
    assert stored_events(platform) == before


def test_a_stale_expected_version_on_a_domain_command_is_a_version_conflict(
    client: TestClient, platform: Platform
) -> None:
    domain = add_domains(client, "go.example.com")["added"][0]
    client.post("/api/domains/go.example.com/configure")  # someone else got there first
    before = stored_events(platform)

    error = assert_error(
        client.post(
            "/api/domains/go.example.com/block", json={"expected_version": domain["version"]}
        ),
        409,
        "version_conflict",
    )

    assert error["details"]["expected_version"] == domain["version"]
    assert domain_statuses(client) == {"go.example.com": "Configured"}
    assert stored_events(platform) == before
    current = client.get("/api/domains").json()["items"][0]["version"]
    blocked = client.post("/api/domains/go.example.com/block", json={"expected_version": current})
    assert blocked.status_code == 200, blocked.text


def test_a_stale_expected_version_on_a_stream_or_pool_is_a_version_conflict(
    client: TestClient, platform: Platform
) -> None:
    demo = next(s for s in client.get("/api/streams").json()["items"] if s["name"] == "demo")
    client.patch("/api/streams/demo", json={"rate": 10})
    pool = client.post("/api/domain-pools", json={"name": "Main"}).json()
    client.patch(f"/api/domain-pools/{pool['id']}", json={"description": "changed"})
    before = stored_events(platform)

    stream_error = assert_error(
        client.patch("/api/streams/demo", json={"rate": 20, "expected_version": demo["version"]}),
        409,
        "version_conflict",
    )
    pool_error = assert_error(
        client.patch(
            f"/api/domain-pools/{pool['id']}",
            json={"name": "Stale", "expected_version": pool["version"]},
        ),
        409,
        "version_conflict",
    )

    assert stream_error["details"]["expected_version"] == demo["version"]
    assert pool_error["details"]["expected_version"] == pool["version"]
    assert stored_events(platform) == before
    assert [s["rate"] for s in client.get("/api/streams").json()["items"]] == [10]


def test_the_price_table_is_shown_set_and_refused_when_bad(
    client: TestClient, platform: Platform
) -> None:
    assert client.get("/api/settings").json()["prices"][""] == "0.0500"

    changed = client.put("/api/settings/prices", json={"prices": {"": 0.06, "33": "0.07"}})
    before = platform.app.recorder.max_notification_id()
    refused = client.put("/api/settings/prices", json={"prices": {"33": "0.07"}})

    assert changed.status_code == 200
    assert changed.json() == {"prices": {"": "0.0600", "33": "0.0700"}}
    assert client.get("/api/settings").json()["prices"] == {"": "0.0600", "33": "0.0700"}
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_failed"
    assert platform.app.recorder.max_notification_id() == before
