"""Duplicate (T1): from any status, including the final ones, a new Draft."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import NotFound
from domain.status import Status


@pytest.mark.parametrize("status", list(Status))
def test_duplicating_a_campaign_in_any_status_gives_a_new_draft(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign], status: Status
) -> None:
    source = campaign_in(status)

    copy = app.duplicate_campaign(source.id, actor="bob")

    stored = app.get_campaign(copy.id)
    assert stored.id != source.id
    assert stored.status is Status.DRAFT
    assert stored.version == 1
    assert stored.fields["name"] == "Spring sale (copy)"
    assert stored.duplicated_from == str(source.id)
    assert stored.created_by == "bob"
    assert stored.status_reason == "duplicated"
    assert app.get_campaign(source.id).status is status


def test_a_duplicate_keeps_the_settings_but_gives_its_variants_new_ids(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    source = campaign_in(Status.SENDING)

    copy = app.get_campaign(app.duplicate_campaign(source.id, actor="bob").id)

    kept = [(v["text"], v["weight"]) for v in copy.fields["variants"]]
    assert kept == [(v["text"], v["weight"]) for v in source.fields["variants"]]
    new_ids = {v["id"] for v in copy.fields["variants"]}
    assert not new_ids & {v["id"] for v in source.fields["variants"]}
    assert len(new_ids) == 2
    same = ("sender", "contact_lists", "links", "tags", "description", "stream", "type")
    assert {k: copy.fields[k] for k in same} == {k: source.fields[k] for k in same}
    assert copy.ratio_epoch == 0
    assert copy.recipients == 0


def test_a_duplicate_of_a_scheduled_campaign_has_no_start_time(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    source = campaign_in(Status.SCHEDULED)

    copy = app.duplicate_campaign(source.id, actor="bob")

    assert source.fields["start_at"] is not None
    assert copy.fields["start_at"] is None


def test_a_duplicate_of_a_finished_campaign_can_launch(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    copy = app.duplicate_campaign(campaign_in(Status.FINISHED).id, actor="bob")

    launched = app.change_campaign_status(copy.id, "launch", actor="bob")

    assert launched.status is Status.PROCESSING


def test_the_copy_of_a_longest_name_still_fits_the_name_limit(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    source = new_campaign(name="n" * 200)

    copy = app.duplicate_campaign(source.id, actor="bob")

    assert len(copy.fields["name"]) == 200
    assert copy.fields["name"].endswith("n (copy)")


def test_a_copy_of_a_copy_says_copy_twice(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    first = app.duplicate_campaign(new_campaign().id, actor="bob")

    second = app.duplicate_campaign(first.id, actor="bob")

    assert second.fields["name"] == "Spring sale (copy) (copy)"


def test_duplicating_an_unknown_campaign_is_not_found(app: CampaignPlatform) -> None:
    with pytest.raises(NotFound):
        app.duplicate_campaign(uuid.uuid4(), actor="bob")
