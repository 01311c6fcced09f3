"""Launch (T3): refused with the list of missing wizard steps until the campaign is complete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import IllegalTransition
from domain.status import Status


def launch_refusal(app: CampaignPlatform, campaign: Campaign) -> IllegalTransition:
    with pytest.raises(IllegalTransition) as refused:
        app.change_campaign_status(campaign.id, "launch", actor="alice")
    return refused.value


def test_a_complete_campaign_launches_into_processing(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()

    launched = app.change_campaign_status(campaign.id, "launch", actor="alice")

    assert launched.status is Status.PROCESSING
    assert launched.status_reason == "launched"


def test_launching_a_bare_draft_is_refused_with_every_missing_step(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    campaign = app.create_campaign({"name": "Bare"}, actor="alice")

    with writes_nothing():
        refusal = launch_refusal(app, campaign)

    assert refusal.details["status"] == "Draft"
    assert refusal.details["missing"] == [
        "details: sender ID",
        "recipients: at least one contact list",
        "message: at least one variant",
    ]
    assert "missing: details: sender ID; recipients" in refusal.message
    assert app.get_campaign(campaign.id).status is Status.DRAFT


def test_launching_without_links_for_the_placeholders_names_both_links(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign(links=None)

    refusal = launch_refusal(app, campaign)

    assert refusal.details["missing"] == [
        "message: the Short URL target",
        "message: a domain pool or domains for the Short URL",
        "message: a domain pool or domains for the Opt-out URL",
    ]


def test_a_short_link_without_a_target_is_a_missing_step(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign(
        links={"short": {"domains": ["go.example.com"]}, "optout": {"domains": ["o.example.com"]}}
    )

    assert launch_refusal(app, campaign).details["missing"] == ["message: the Short URL target"]


def test_a_text_without_link_placeholders_needs_no_links(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign(variants=[{"text": "Hello {first_name}"}], links=None)

    launched = app.change_campaign_status(campaign.id, "launch", actor="alice")

    assert launched.status is Status.PROCESSING


def test_only_the_opt_out_link_is_needed_when_only_it_is_used(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign(variants=[{"text": "News. Stop: {optout_url}"}], links=None)

    assert launch_refusal(app, campaign).details["missing"] == [
        "message: a domain pool or domains for the Opt-out URL"
    ]


def test_a_domain_pool_stands_in_for_chosen_domains(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    app.add_domains(["go.example.com"], actor="alice")
    pool = app.create_pool({"name": "Main", "domains": ["go.example.com"]}, actor="alice")
    links = {
        "short": {"target": "https://shop.example.com", "pool": str(pool.id)},
        "optout": {"pool": str(pool.id)},
    }
    campaign = new_campaign(links=links)

    launched = app.change_campaign_status(campaign.id, "launch", actor="alice")

    assert launched.status is Status.PROCESSING


def test_a_draft_whose_stream_was_cleared_misses_its_stream(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()
    app.edit_campaign(campaign.id, {"stream": None}, actor="alice")

    assert launch_refusal(app, campaign).details["missing"] == ["details: sending stream"]


def test_completing_the_missing_steps_lets_the_draft_launch(
    app: CampaignPlatform, fields: dict[str, Any]
) -> None:
    campaign = app.create_campaign({"name": "Step by step"}, actor="alice")
    launch_refusal(app, campaign)

    for step in ("sender", "contact_lists", "variants", "links"):
        app.edit_campaign(campaign.id, {step: fields[step]}, actor="alice")
    launched = app.change_campaign_status(campaign.id, "launch", actor="alice")

    assert launched.status is Status.PROCESSING
