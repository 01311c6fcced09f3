"""A retried command never applies twice; a stale expected version is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import VersionConflict
from domain.status import Status


def test_repeating_a_create_with_its_command_id_returns_the_same_campaign_and_writes_nothing(
    app: CampaignPlatform, fields: dict[str, Any], writes_nothing: Callable[[], Any]
) -> None:
    first = app.create_campaign(fields, actor="alice", command_id="create-1")

    with writes_nothing():
        again = app.create_campaign(fields, actor="alice", command_id="create-1")

    assert again.id == first.id
    assert again.version == 1
    assert again.fields == first.fields


def test_a_repeated_create_returns_the_campaign_as_created_even_after_it_changed(
    app: CampaignPlatform, fields: dict[str, Any]
) -> None:
    first = app.create_campaign(fields, actor="alice", command_id="create-1")
    app.edit_campaign(first.id, {"name": "Renamed"}, actor="alice")

    again = app.create_campaign({**fields, "name": "Other"}, actor="alice", command_id="create-1")

    assert again.id == first.id
    assert again.fields["name"] == "Spring sale"


def test_creates_without_command_ids_make_separate_campaigns(
    app: CampaignPlatform, fields: dict[str, Any]
) -> None:
    first = app.create_campaign(fields, actor="alice")
    second = app.create_campaign(fields, actor="alice")

    assert first.id != second.id


def test_different_command_ids_make_different_campaigns(
    app: CampaignPlatform, fields: dict[str, Any]
) -> None:
    first = app.create_campaign(fields, actor="alice", command_id="create-1")
    second = app.create_campaign(fields, actor="alice", command_id="create-2")

    assert first.id != second.id


def test_repeating_a_pause_with_its_command_id_returns_the_first_result_and_writes_nothing(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
) -> None:
    campaign = campaign_in(Status.SENDING)
    first = app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-1")
    app.change_campaign_status(campaign.id, "resume", actor="alice", command_id="r-1")

    with writes_nothing():
        again = app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-1")

    assert again.status is Status.PAUSED
    assert again.version == first.version
    assert app.get_campaign(campaign.id).status is Status.STARTED


def test_a_repeated_pause_is_not_refused_although_the_campaign_is_already_paused(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
) -> None:
    campaign = campaign_in(Status.STARTED)
    app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-1")

    with writes_nothing():
        again = app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-1")

    assert again.status is Status.PAUSED


def test_a_second_pause_with_a_new_command_id_is_refused(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    from domain.errors import IllegalTransition

    campaign = campaign_in(Status.STARTED)
    app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-1")

    with pytest.raises(IllegalTransition):
        app.change_campaign_status(campaign.id, "pause", actor="alice", command_id="p-2")


def test_repeating_an_edit_with_its_command_id_applies_it_once(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], writes_nothing: Callable[[], Any]
) -> None:
    campaign = new_campaign()
    app.edit_campaign(campaign.id, {"tags": ["a"]}, actor="alice", command_id="e-1")
    app.edit_campaign(campaign.id, {"tags": ["b"]}, actor="alice", command_id="e-2")

    with writes_nothing():
        again = app.edit_campaign(campaign.id, {"tags": ["a"]}, actor="alice", command_id="e-1")

    assert again.fields["tags"] == ["a"]
    assert app.get_campaign(campaign.id).fields["tags"] == ["b"]


def test_a_stale_expected_version_is_a_version_conflict_and_writes_nothing(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], writes_nothing: Callable[[], Any]
) -> None:
    campaign = new_campaign()
    app.edit_campaign(campaign.id, {"name": "Someone else's edit"}, actor="bob")

    with writes_nothing(), pytest.raises(VersionConflict) as conflict:
        app.edit_campaign(campaign.id, {"name": "Mine"}, actor="alice", expected_version=1)

    assert conflict.value.code == "version_conflict"
    assert conflict.value.details == {"expected_version": 1, "version": 2}
    assert app.get_campaign(campaign.id).fields["name"] == "Someone else's edit"


def test_a_status_change_with_a_stale_expected_version_is_refused(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
) -> None:
    campaign = campaign_in(Status.SENDING)

    with writes_nothing(), pytest.raises(VersionConflict):
        app.change_campaign_status(
            campaign.id, "pause", actor="alice", expected_version=campaign.version - 1
        )

    assert app.get_campaign(campaign.id).status is Status.SENDING


def test_the_current_expected_version_lets_the_command_through(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()

    edited = app.edit_campaign(campaign.id, {"name": "Mine"}, actor="alice", expected_version=1)

    assert edited.version == 2


def test_a_retry_after_success_wins_over_its_now_stale_expected_version(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], writes_nothing: Callable[[], Any]
) -> None:
    campaign = new_campaign()
    app.edit_campaign(
        campaign.id, {"name": "Mine"}, actor="alice", command_id="e-1", expected_version=1
    )

    with writes_nothing():
        again = app.edit_campaign(
            campaign.id, {"name": "Mine"}, actor="alice", command_id="e-1", expected_version=1
        )

    assert again.version == 2


def test_repeating_a_duplicate_with_its_command_id_returns_the_same_copy(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], writes_nothing: Callable[[], Any]
) -> None:
    source = new_campaign()
    copy = app.duplicate_campaign(source.id, actor="alice", command_id="d-1")

    with writes_nothing():
        again = app.duplicate_campaign(source.id, actor="alice", command_id="d-1")

    assert again.id == copy.id
