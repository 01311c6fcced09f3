"""A command repeated with the same command_id answers as the first time and writes nothing."""

from __future__ import annotations

from starlette.testclient import TestClient

from infra.bootstrap import Platform

from .scenarios import campaign_in, create, create_complete, stored_events


def test_creating_twice_with_one_command_id_creates_one_campaign(
    client: TestClient, platform: Platform
) -> None:
    body = {"name": "Once only", "tags": ["retry"], "command_id": "create-1"}

    first = client.post("/api/campaigns", json=body)
    after_first = stored_events(platform)
    second = client.post("/api/campaigns", json=body)
    # A retry that differs (say, a client that re-rendered its form) still changes nothing.
    third = client.post("/api/campaigns", json={**body, "name": "Something else"})

    assert first.status_code == second.status_code == third.status_code == 201
    assert second.json() == first.json()
    assert third.json() == first.json()
    assert stored_events(platform) == after_first
    listed = client.get("/api/campaigns").json()
    assert listed["total"] == 1
    assert listed["items"][0]["name"] == "Once only"


def test_different_command_ids_create_different_campaigns(client: TestClient) -> None:
    first = client.post("/api/campaigns", json={"name": "A", "command_id": "create-a"}).json()
    second = client.post("/api/campaigns", json={"name": "A", "command_id": "create-b"}).json()

    assert first["id"] != second["id"]
    assert client.get("/api/campaigns").json()["total"] == 2


def test_pausing_twice_with_one_command_id_pauses_once(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    url = f"/api/campaigns/{campaign_id}/pause"
    body = {"reason": "client asked", "command_id": "pause-1"}

    first = client.post(url, json=body)
    after_first = stored_events(platform)
    second = client.post(url, json=body)

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert first.json()["status"] == "Paused"
    assert stored_events(platform) == after_first
    history = client.get(f"/api/campaigns/{campaign_id}/history").json()
    assert [row["type"] for row in history].count("Campaign.Paused") == 1
    assert history[-1]["command_id"] == "pause-1"


def test_a_late_retry_of_a_pause_does_not_pause_a_resumed_campaign(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    url = f"/api/campaigns/{campaign_id}"
    paused = client.post(f"{url}/pause", json={"command_id": "pause-1"}).json()
    resumed = client.post(f"{url}/resume", json={"command_id": "resume-1"}).json()
    after_resume = stored_events(platform)

    retry = client.post(f"{url}/pause", json={"command_id": "pause-1"})

    assert retry.status_code == 200
    assert retry.json() == paused  # the first answer, not a new pause
    assert client.get(url).json()["status"] == resumed["status"] == "Started"
    assert stored_events(platform) == after_resume


def test_a_retried_command_id_wins_over_a_stale_expected_version(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    url = f"/api/campaigns/{campaign_id}/pause"
    version = client.get(f"/api/campaigns/{campaign_id}").json()["version"]
    body = {"command_id": "pause-1", "expected_version": version}

    first = client.post(url, json=body)
    after_first = stored_events(platform)
    retry = client.post(url, json=body)  # the version moved on because of the first attempt

    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert stored_events(platform) == after_first


def test_duplicating_twice_with_one_command_id_makes_one_copy(
    client: TestClient, platform: Platform
) -> None:
    source = create_complete(client)
    url = f"/api/campaigns/{source['id']}/duplicate"

    first = client.post(url, json={"command_id": "dup-1"})
    after_first = stored_events(platform)
    second = client.post(url, json={"command_id": "dup-1"})

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert first.json()["id"] != source["id"]
    assert stored_events(platform) == after_first
    assert client.get("/api/campaigns").json()["total"] == 2
    other = client.post(url, json={"command_id": "dup-2"})
    assert other.status_code == 201
    assert other.json()["id"] not in (source["id"], first.json()["id"])


def test_editing_and_launching_twice_with_one_command_id_apply_once(
    client: TestClient, platform: Platform
) -> None:
    campaign = create_complete(client)
    url = f"/api/campaigns/{campaign['id']}"

    edit = {"tags": ["edited"], "command_id": "edit-1"}
    first_edit = client.patch(url, json=edit)
    later_edit = client.patch(url, json={"tags": ["edited later"]})
    retried_edit = client.patch(url, json=edit)
    assert retried_edit.status_code == 200
    assert retried_edit.json() == first_edit.json()
    assert client.get(url).json()["tags"] == later_edit.json()["tags"] == ["edited later"]

    first_launch = client.post(f"{url}/launch", json={"command_id": "launch-1"})
    after_launch = stored_events(platform)
    retried_launch = client.post(f"{url}/launch", json={"command_id": "launch-1"})
    assert retried_launch.status_code == 200, retried_launch.text
    assert retried_launch.json() == first_launch.json()
    assert stored_events(platform) == after_launch


def test_a_domain_command_retried_with_its_command_id_applies_once(
    client: TestClient, platform: Platform
) -> None:
    client.post("/api/domains", json={"names": ["go.example.com"]})
    configured = client.post("/api/domains/go.example.com/configure", json={"command_id": "c-1"})
    client.post("/api/domains/go.example.com/block")
    after_block = stored_events(platform)

    retry = client.post("/api/domains/go.example.com/configure", json={"command_id": "c-1"})

    assert retry.status_code == 200
    assert retry.json() == configured.json()
    assert client.get("/api/domains").json()["items"][0]["status"] == "Blocked"
    assert stored_events(platform) == after_block


def test_a_command_id_is_not_shared_between_campaigns(client: TestClient) -> None:
    first = create(client, name="First")
    second = create(client, name="Second")

    one = client.patch(f"/api/campaigns/{first['id']}", json={"tags": ["x"], "command_id": "same"})
    two = client.patch(f"/api/campaigns/{second['id']}", json={"tags": ["y"], "command_id": "same"})

    assert one.json()["tags"] == ["x"]
    assert two.json()["tags"] == ["y"]
