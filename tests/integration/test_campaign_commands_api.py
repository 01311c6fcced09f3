"""The lifecycle commands, duplicate and the resume pre-check through the JSON API.

User commands go through HTTP; the sending engine's transitions (prepare, start, ...) are run
on the application, as the engine runs them, and their results read back through HTTP.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from infra.bootstrap import Platform

from .scenarios import (
    FUTURE,
    assert_error,
    assert_list_agrees_with_campaigns,
    campaign_in,
    create,
    create_complete,
    drive,
    stored_events,
)


def command(client: TestClient, campaign_id: str, name: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/campaigns/{campaign_id}/{name}", json=body or None)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_launching_an_incomplete_campaign_is_refused_with_the_missing_steps(
    client: TestClient, platform: Platform
) -> None:
    campaign = create(client, name="Half done", variants=[{"text": "Go {short_url}"}])
    before = stored_events(platform)

    error = assert_error(
        client.post(f"/api/campaigns/{campaign['id']}/launch"), 409, "illegal_transition"
    )

    missing = error["details"]["missing"]
    assert "details: sender ID" in missing
    assert "recipients: at least one contact list" in missing
    assert "message: the Short URL target" in missing
    assert "message: a domain pool or domains for the Short URL" in missing
    assert not any("Opt-out" in step for step in missing)  # the text uses no opt-out link
    assert all(step in error["message"] for step in missing)
    assert client.get(f"/api/campaigns/{campaign['id']}").json()["status"] == "Draft"
    assert stored_events(platform) == before


def test_a_draft_lists_its_missing_steps_until_it_is_complete(client: TestClient) -> None:
    draft = create(client, name="Steps")
    complete = create_complete(client)

    assert "message: at least one variant" in draft["missing_steps"]
    assert complete["missing_steps"] == []


def test_launching_a_complete_campaign_puts_it_in_processing(
    client: TestClient, platform: Platform
) -> None:
    campaign = create_complete(client)
    before = stored_events(platform)

    launched = command(client, campaign["id"], "launch", reason="ship it")

    assert launched["status"] == "Processing"
    assert launched["status_reason"] == "ship it"
    assert launched["version"] == 2
    assert stored_events(platform) == before + 1
    listed = client.get("/api/campaigns?status=Processing").json()
    assert [item["id"] for item in listed["items"]] == [campaign["id"]]


def test_a_running_campaign_can_be_paused(client: TestClient, platform: Platform) -> None:
    for status in ("Started", "Sending"):
        campaign_id = campaign_in(client, platform, status)

        paused = command(client, campaign_id, "pause", reason="client asked")

        assert paused["status"] == "Paused", status
        assert paused["status_reason"] == "client asked"
        assert "resume" in paused["allowed_commands"]
        history = client.get(f"/api/campaigns/{campaign_id}/history").json()
        assert (history[-1]["from_status"], history[-1]["to_status"]) == (status, "Paused")


def test_a_paused_campaign_resumes_to_started(client: TestClient, platform: Platform) -> None:
    campaign_id = campaign_in(client, platform, "Paused")

    resumed = command(client, campaign_id, "resume")

    assert resumed["status"] == "Started"
    history = client.get(f"/api/campaigns/{campaign_id}/history").json()
    assert (history[-1]["from_status"], history[-1]["to_status"]) == ("Paused", "Started")


def test_a_campaign_suspended_by_a_rule_resumes_to_started(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Suspended")
    suspended = client.get(f"/api/campaigns/{campaign_id}").json()
    assert suspended["suspension"]["kind"] == "rule"
    assert "CTR" in suspended["status_reason"]

    resumed = command(client, campaign_id, "resume")

    assert resumed["status"] == "Started"
    assert resumed["suspension"] is None


def test_resuming_a_campaign_suspended_for_domains_waits_for_a_usable_domain(
    client: TestClient, platform: Platform
) -> None:
    client.post("/api/domains", json={"names": ["go.example.com", "out.example.com"]})
    campaign_id = campaign_in(client, platform, "Sending")
    campaign = platform.app.get_campaign(uuid.UUID(campaign_id))
    campaign.suspend("every Short URL domain reached the limit", {"kind": "domains"})
    platform.app.save(campaign)
    before = stored_events(platform)

    refused = client.post(f"/api/campaigns/{campaign_id}/resume")

    error = assert_error(refused, 409, "illegal_transition")
    assert "Short URL" in error["message"] and "Opt-out URL" in error["message"]
    assert len(error["details"]["still_blocking"]) == 2
    assert stored_events(platform) == before

    for name in ("go.example.com", "out.example.com"):
        assert client.post(f"/api/domains/{name}/configure").status_code == 200
    resumed = command(client, campaign_id, "resume")
    assert resumed["status"] == "Started"


def test_a_campaign_can_be_aborted_from_every_status_the_spec_allows(
    client: TestClient, platform: Platform
) -> None:
    for status in ("Ready", "Scheduled", "Started", "Sending", "Paused", "Suspended"):
        campaign_id = campaign_in(client, platform, status)

        aborted = command(client, campaign_id, "abort", reason="wrong audience")

        assert aborted["status"] == "Aborted", status
        assert aborted["allowed_commands"] == ["duplicate"]
        history = client.get(f"/api/campaigns/{campaign_id}/history").json()
        last = history[-1]
        assert (last["from_status"], last["to_status"], last["reason"]) == (
            status,
            "Aborted",
            "wrong audience",
        )


def test_a_scheduled_campaign_can_be_unscheduled_back_to_draft(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Scheduled")
    scheduled = client.get(f"/api/campaigns/{campaign_id}").json()
    assert scheduled["start_at"] == "2999-01-01T09:00:00.000000Z"
    assert FUTURE[:10] in scheduled["status_reason"]

    draft = command(client, campaign_id, "unschedule")

    assert draft["status"] == "Draft"
    # Back in Draft, everything is editable again.
    edited = client.patch(f"/api/campaigns/{campaign_id}", json={"sender": "Other"})
    assert edited.status_code == 200, edited.text


def test_a_command_from_a_status_that_does_not_allow_it_is_refused(
    client: TestClient, platform: Platform
) -> None:
    for status, name in [
        ("Draft", "pause"),
        ("Draft", "resume"),
        ("Draft", "abort"),
        ("Draft", "unschedule"),
        ("Processing", "launch"),
        ("Processing", "pause"),
        ("Ready", "pause"),
        ("Sending", "unschedule"),
        ("Sending", "resume"),
        ("Finished", "abort"),
        ("Aborted", "resume"),
        ("Rejected", "launch"),
    ]:
        if status == "Draft":
            campaign_id = create_complete(client)["id"]
        elif status == "Aborted":
            campaign_id = campaign_in(client, platform, "Ready")
            command(client, campaign_id, "abort")
        else:
            campaign_id = campaign_in(client, platform, status)
        before = stored_events(platform)
        version = client.get(f"/api/campaigns/{campaign_id}").json()["version"]

        response = client.post(f"/api/campaigns/{campaign_id}/{name}")

        error = assert_error(response, 409, "illegal_transition", f"{name} from {status}")
        assert status in error["message"], (status, name, error)
        assert error["details"]["status"] == status
        assert stored_events(platform) == before, (status, name)
        assert client.get(f"/api/campaigns/{campaign_id}").json()["version"] == version


@pytest.mark.parametrize("status", ["Draft", "Finished"])
def test_duplicating_a_campaign_gives_a_new_draft_with_its_fields(
    client: TestClient, platform: Platform, status: str
) -> None:
    if status == "Draft":
        source_id = create_complete(client)["id"]
    else:
        source_id = campaign_in(client, platform, status)
    source = client.get(f"/api/campaigns/{source_id}").json()
    before = stored_events(platform)

    response = client.post(f"/api/campaigns/{source_id}/duplicate")

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != source_id
    assert (copy["status"], copy["version"]) == ("Draft", 1)
    assert copy["name"] == f"{source['name']} (copy)"
    assert copy["duplicated_from"] == source_id
    for key in ("description", "tags", "type", "stream", "sender", "contact_lists", "links"):
        assert copy[key] == source[key], key
    assert [(v["text"], v["weight"]) for v in copy["variants"]] == [
        (v["text"], v["weight"]) for v in source["variants"]
    ]
    assert not {v["id"] for v in copy["variants"]} & {v["id"] for v in source["variants"]}
    assert copy["recipients"]["total"] == 0
    assert stored_events(platform) == before + 1
    assert client.get(f"/api/campaigns/{source_id}").json() == source
    listed = client.get("/api/campaigns?status=Draft").json()
    assert copy["id"] in [item["id"] for item in listed["items"]]
    history = client.get(f"/api/campaigns/{copy['id']}/history").json()
    assert [(row["type"], row["reason"], row["to_status"]) for row in history] == [
        ("Campaign.Created", "duplicated", "Draft")
    ]
    assert_list_agrees_with_campaigns(client)


def test_a_finished_campaign_takes_no_command_but_duplicate(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Finished")

    finished = client.get(f"/api/campaigns/{campaign_id}").json()

    assert finished["allowed_commands"] == ["duplicate"]
    error = assert_error(
        client.patch(f"/api/campaigns/{campaign_id}", json={"name": "Late rename"}),
        409,
        "illegal_transition",
    )
    assert "Finished" in error["message"]


def test_system_transitions_show_in_the_list(client: TestClient, platform: Platform) -> None:
    campaign = create_complete(client)
    client.post(f"/api/campaigns/{campaign['id']}/launch")

    drive(platform, campaign["id"], "prepare", "start", "begin_sending")

    listed = client.get("/api/campaigns?status=Sending").json()
    assert [item["id"] for item in listed["items"]] == [campaign["id"]]
    assert listed["items"][0]["recipients"] == {"total": 12, "sent": 0}
    assert_list_agrees_with_campaigns(client)
