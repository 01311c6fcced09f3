"""Time travel (F14): a campaign as it was at a past version or moment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import NotFound
from domain.status import Status


@pytest.fixture
def history(app: CampaignPlatform, new_campaign: Callable[..., Campaign]) -> list[Campaign]:
    """One campaign at each of its four versions: created, renamed, launched, prepared."""
    created = new_campaign()
    renamed = app.edit_campaign(created.id, {"name": "Renamed"}, actor="bob")
    launched = app.change_campaign_status(created.id, "launch", actor="bob")
    prepared = app.get_campaign(created.id)
    prepared.prepare(3, datetime.now(UTC))
    app.save(prepared)
    return [created, renamed, launched, prepared]


def test_a_campaign_is_seen_as_it_was_at_its_first_version(
    app: CampaignPlatform, history: list[Campaign]
) -> None:
    then = app.get_campaign(history[0].id, version=1)

    assert then.version == 1
    assert then.status is Status.DRAFT
    assert then.fields["name"] == "Spring sale"
    assert app.get_campaign(history[0].id).fields["name"] == "Renamed"


@pytest.mark.parametrize(
    ("version", "status", "name"),
    [
        (1, Status.DRAFT, "Spring sale"),
        (2, Status.DRAFT, "Renamed"),
        (3, Status.PROCESSING, "Renamed"),
        (4, Status.READY, "Renamed"),
    ],
)
def test_each_version_shows_its_status_and_settings(
    app: CampaignPlatform, history: list[Campaign], version: int, status: Status, name: str
) -> None:
    then = app.get_campaign(history[0].id, version=version)

    assert (then.version, then.status, then.fields["name"]) == (version, status, name)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_a_campaign_as_of_the_moment_of_a_version_is_that_version(
    app: CampaignPlatform, history: list[Campaign], index: int
) -> None:
    moment = history[index].modified_on
    # The latest version at or before that moment (two events may share a clock tick).
    expected = max(i for i, past in enumerate(history) if past.modified_on <= moment)

    then = app.get_campaign(history[0].id, as_of=moment)

    assert then.version == expected + 1
    assert then.status is history[expected].status


def test_a_moment_between_two_events_shows_the_earlier_one(
    app: CampaignPlatform, history: list[Campaign]
) -> None:
    between = history[1].modified_on + (history[2].modified_on - history[1].modified_on) / 2

    then = app.get_campaign(history[0].id, as_of=between)

    assert then.version in (2, 3)  # equal timestamps are possible on a fast clock
    assert then.version == (3 if history[2].modified_on <= between else 2)


def test_a_moment_after_the_last_event_shows_the_campaign_now(
    app: CampaignPlatform, history: list[Campaign]
) -> None:
    then = app.get_campaign(history[0].id, as_of=history[3].modified_on + timedelta(days=1))

    assert then.version == 4
    assert then.status is Status.READY


def test_a_moment_before_the_campaign_existed_is_not_found(
    app: CampaignPlatform, history: list[Campaign]
) -> None:
    with pytest.raises(NotFound):
        app.get_campaign(history[0].id, as_of=history[0].created_on - timedelta(seconds=1))


def test_an_unknown_campaign_is_not_found(app: CampaignPlatform) -> None:
    with pytest.raises(NotFound):
        app.get_campaign(uuid.uuid4())


def test_a_version_the_campaign_has_not_reached_is_not_found(
    app: CampaignPlatform, history: list[Campaign]
) -> None:
    with pytest.raises(NotFound):
        app.get_campaign(history[0].id, version=5)
