"""Two gateway processes on one store: each decides commands on its own copy of what it last
committed, and a copy made stale by the other one never produces a wrong answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import Platform, build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS

from .scenarios import campaign_in, stored_events


@pytest.fixture
def second(store: Settings) -> Iterator[TestClient]:
    """Another gateway process on the same store (its own application, cache and feed)."""
    with TestClient(create_app(build(store), own_platform=True), headers=ADMIN_HEADERS) as other:
        yield other


def command(client: TestClient, campaign_id: str, name: str, **body: Any) -> Any:
    return client.post(f"/api/campaigns/{campaign_id}/{name}", json=body or None)


def test_a_command_refused_on_a_stale_copy_is_decided_again_on_the_store(
    client: TestClient, platform: Platform, second: TestClient
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    assert command(client, campaign_id, "pause").status_code == 200  # this process: Paused
    assert command(second, campaign_id, "resume").status_code == 200  # the store: Started

    again = command(client, campaign_id, "pause")

    assert again.status_code == 200, again.text
    assert again.json()["status"] == "Paused"


def test_a_write_from_a_stale_copy_is_refused_by_the_store_and_redone_on_the_latest(
    client: TestClient, platform: Platform, second: TestClient
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    assert command(client, campaign_id, "pause").status_code == 200
    renamed = second.patch(f"/api/campaigns/{campaign_id}", json={"name": "Renamed there"})
    assert renamed.status_code == 200, renamed.text

    resumed = command(client, campaign_id, "resume")

    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["status"], resumed.json()["name"]) == ("Started", "Renamed there")
    assert resumed.json()["version"] == renamed.json()["version"] + 1


def test_a_command_id_used_by_the_other_process_returns_its_answer_and_writes_nothing(
    client: TestClient, platform: Platform, second: TestClient
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    seen = client.patch(f"/api/campaigns/{campaign_id}", json={"description": "seen"}).json()
    first = command(
        second, campaign_id, "pause", command_id="p-1", expected_version=seen["version"]
    )
    before = stored_events(platform)

    again = command(
        client, campaign_id, "pause", command_id="p-1", expected_version=seen["version"]
    )

    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["version"]) == ("Paused", first.json()["version"])
    assert stored_events(platform) == before


def test_commands_on_many_campaigns_at_once_from_two_processes_all_apply(
    client: TestClient, platform: Platform, second: TestClient
) -> None:
    campaigns = [campaign_in(client, platform, "Sending") for _ in range(4)]
    answers: list[int] = []

    def pause_resume_pause(campaign_id: str) -> None:
        for name in ("pause", "resume", "pause"):
            answers.append(command(client, campaign_id, name).status_code)

    def tag_elsewhere(campaign_id: str) -> None:
        edit = second.patch(f"/api/campaigns/{campaign_id}", json={"tags": ["both"]})
        answers.append(edit.status_code)

    threads = [
        threading.Thread(target=work, args=(campaign_id,))
        for campaign_id in campaigns
        for work in (pause_resume_pause, tag_elsewhere)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert answers == [200] * 16
    for campaign_id in campaigns:
        current = client.get(f"/api/campaigns/{campaign_id}").json()
        assert (current["status"], current["tags"]) == ("Paused", ["both"])
        assert current["version"] == 5 + 4  # Sending is version 5; then three commands, one edit
