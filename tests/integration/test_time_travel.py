"""Time travel (F14) over the API and on its page: a campaign at a past version is exactly
the aggregate replayed from the stored events up to that version, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from domain.campaign import Campaign
from domain.status import Status
from gateway.app import create_app
from gateway.representation import campaign_json
from gateway.stats import CampaignStats
from infra.bootstrap import Platform
from tests.credentials import ADMIN_HEADERS
from tests.integration.scenarios import create_complete, drive
from tests.integration.test_sending_engine import (
    OPTOUT,
    SHORT,
    add_configured,
    contact_list,
    new_campaign,
    sending,
)
from tests.integration.test_sending_engine import drive as drive_engine

__all__ = ["sending"]  # the engine's fixture, used here too


def replayed(platform: Platform, campaign_id: str, version: int) -> Campaign:
    """The campaign folded from its stored events up to `version`, without the repository
    (and its cache) that the API reads through."""
    stored = platform.app.recorder.select_events(uuid.UUID(campaign_id), lte=version)
    aggregate: Any = None
    for record in stored:
        aggregate = platform.app.mapper.to_domain_event(record).mutate(aggregate)
    assert isinstance(aggregate, Campaign) and aggregate.version == version
    return aggregate


def eventful_campaign(client: TestClient, platform: Platform) -> str:
    """A campaign with edits before and after launch, system steps, a pause and a resume."""
    campaign_id = str(create_complete(client, name="Travelling")["id"])
    url = f"/api/campaigns/{campaign_id}"
    client.patch(url, json={"tags": ["spring", "vip"], "description": "first week"})
    client.post(f"{url}/launch")
    drive(platform, campaign_id, "prepare", "start", "begin_sending")
    variants = client.get(url).json()["variants"]
    ratio = [{"id": v["id"], "text": None, "weight": 1} for v in variants]
    assert client.patch(url, json={"variants": ratio, "name": "Travelling on"}).is_success
    client.post(f"{url}/pause", json={"reason": "<b>checking</b>"})
    client.post(f"{url}/resume")
    drive(platform, campaign_id, "suspend")
    return campaign_id


def test_each_version_over_the_api_is_the_campaign_replayed_to_that_version(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = eventful_campaign(client, platform)
    latest = client.get(f"/api/campaigns/{campaign_id}").json()["version"]
    stats = CampaignStats(platform.activity.stats)

    for version in range(1, latest + 1):
        answer = client.get(f"/api/campaigns/{campaign_id}", params={"version": version})
        then = replayed(platform, campaign_id, version)
        expected = campaign_json(then, stats.totals_of(then, then.modified_on))

        assert answer.status_code == 200, answer.text
        assert answer.json() == expected, f"version {version}"
    assert latest == 10


def test_a_moment_over_the_api_is_the_last_version_at_or_before_it(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = eventful_campaign(client, platform)
    rows = client.get(f"/api/campaigns/{campaign_id}/history").json()

    for row in rows:
        answer = client.get(f"/api/campaigns/{campaign_id}", params={"as_of": row["at"]}).json()
        stats = client.get(f"/api/campaigns/{campaign_id}/stats", params={"as_of": row["at"]})
        # Two events may share a clock tick: the moment shows the later one.
        version = max(r["version"] for r in rows if r["at"] <= row["at"])

        assert answer["version"] == version
        assert answer == {
            **campaign_json(replayed(platform, campaign_id, version)),
            **{k: answer[k] for k in ("recipients", "ctr", "cost")},
        }
        assert stats.json()["status"] == answer["status"]


def test_the_page_compares_two_versions_and_highlights_what_differs(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = eventful_campaign(client, platform)

    page = client.get(f"/campaigns/{campaign_id}/at", params={"a": 2, "b": 8})

    assert page.status_code == 200
    changed = page.text.split('id="settings-name" class="')[1].split('"')[0]
    unchanged = page.text.split('id="settings-sender" class="')[1].split('"')[0]
    assert (changed, unchanged) == ("changed", "")
    assert "Travelling on" in page.text and "first week" in page.text
    assert 'id="slider-a" name="a" min="1" max="10"' in page.text


def test_the_page_takes_a_moment_and_says_when_the_campaign_did_not_exist_then(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = eventful_campaign(client, platform)

    before = client.get(f"/campaigns/{campaign_id}/at", params={"a_at": "2000-01-01T00:00:00"})
    malformed = client.get(f"/campaigns/{campaign_id}/at", params={"b_at": "noon"})

    assert "campaign did not exist at that time" in before.text
    assert "b_at must be an ISO 8601 date or time" in malformed.text


def test_a_version_before_the_campaign_started_shows_nothing_sent_even_in_the_same_minute(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    campaign = new_campaign(sending, [contact_list(sending, 20)])
    drive_engine(sending, campaign.id, Status.FINISHED)
    url = f"/api/campaigns/{campaign.id}"

    with TestClient(create_app(sending), headers=ADMIN_HEADERS) as client:
        draft = client.get(url, params={"version": 1}).json()
        created_at = draft["created_at"]
        stats_then = client.get(f"{url}/stats", params={"as_of": created_at}).json()
        finished = client.get(url).json()

    assert (draft["status"], draft["recipients"]["sent"], draft["cost"]) == ("Draft", 0, "0.0000")
    assert (stats_then["sent"], stats_then["series"]) == (0, [])
    assert finished["recipients"]["sent"] == 20
