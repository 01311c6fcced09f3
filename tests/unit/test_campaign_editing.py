"""Editing (T2 and the live edits of section 1): all of a Draft, part of a live campaign."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import IllegalTransition, ValidationFailed
from domain.status import Status
from domain.stream import DEMO_CARRIER_DEFAULTS, Stream

LIVE = (
    Status.PROCESSING,
    Status.READY,
    Status.SCHEDULED,
    Status.STARTED,
    Status.SENDING,
    Status.PAUSED,
    Status.SUSPENDED,
)
FINAL = (Status.FINISHED, Status.ABORTED, Status.REJECTED)

# A new, valid value for every field a campaign has.
NEW_VALUES: dict[str, Any] = {
    "name": "Summer sale",
    "description": "Thirty percent off",
    "tags": ["summer", "vip"],
    "type": "two_way",
    "stream": "backup",
    "sender": "447700900123",
    "contact_lists": ["0f0e0d0c-0b0a-4909-8807-060504030201"],
    "variants": [{"text": "Only one variant now {short_url} {optout_url}", "weight": 2}],
    "links": {
        "short": {"target": "https://shop.example.com/summer", "domains": ["s.example.com"]},
        "optout": {"domains": ["o.example.com"]},
    },
    "start_at": "2999-06-01T08:00:00Z",
    "sending_schedule": {"days": ["mon", "fri"], "from": "09:00", "to": "18:00"},
    "pause_rules": [{"metric": "failure_rate", "above": 10, "after": 100}],
    "ctr_indicators": {"red_below": 1, "green_from": 5},
}
# Stored forms that differ from what was sent.
STORED: dict[str, Any] = {
    "links": {
        "short": {
            "pool": None,
            "domains": ["s.example.com"],
            "target": "https://shop.example.com/summer",
        },
        "optout": {"pool": None, "domains": ["o.example.com"]},
    },
    "start_at": "2999-06-01T08:00:00.000000Z",
    "sending_schedule": {
        "days": ["mon", "fri"],
        "from": "09:00",
        "to": "18:00",
        "time_zone": "UTC",
    },
    "ctr_indicators": {"red_below": 1.0, "green_from": 5.0},
}
EDITABLE_LIVE = (
    "name",
    "description",
    "tags",
    "links",
    "sending_schedule",
    "pause_rules",
    "ctr_indicators",
)
FIXED_LIVE = ("type", "stream", "sender", "contact_lists", "start_at")


def register_backup_stream(app: CampaignPlatform) -> None:
    backup = Stream.register("backup", "demo", 50, DEMO_CARRIER_DEFAULTS, actor="system")
    app.save_with_catalogue("streams", [backup], actor="system")


def new_value(field: str) -> Any:
    return NEW_VALUES[field]


def same_weights_reversed(campaign: Campaign) -> list[dict[str, Any]]:
    return [{"id": v["id"], "weight": v["weight"] + 1} for v in campaign.fields["variants"]]


@pytest.mark.parametrize("field", sorted(NEW_VALUES))
def test_every_field_of_a_draft_can_be_edited(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], field: str
) -> None:
    register_backup_stream(app)
    campaign = new_campaign()

    edited = app.edit_campaign(campaign.id, {field: new_value(field)}, actor="bob")

    stored = app.get_campaign(campaign.id)
    assert stored.status is Status.DRAFT
    assert stored.version == campaign.version + 1
    if field == "variants":
        [variant] = stored.fields["variants"]
        assert variant["text"] == NEW_VALUES["variants"][0]["text"]
        assert variant["weight"] == 2
        assert variant["id"]
    else:
        assert stored.fields[field] == STORED.get(field, NEW_VALUES[field])
    assert edited.fields == stored.fields


@pytest.mark.parametrize("status", LIVE)
@pytest.mark.parametrize("field", EDITABLE_LIVE)
def test_a_live_campaign_keeps_its_names_links_schedule_and_rules_editable(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign], status: Status, field: str
) -> None:
    campaign = campaign_in(status)

    app.edit_campaign(campaign.id, {field: new_value(field)}, actor="bob")

    stored = app.get_campaign(campaign.id)
    assert stored.status is status
    assert stored.fields[field] == STORED.get(field, NEW_VALUES[field])


@pytest.mark.parametrize("status", LIVE)
@pytest.mark.parametrize("field", FIXED_LIVE)
def test_a_launched_campaign_refuses_to_change_its_texts_audience_sender_and_setup(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    status: Status,
    field: str,
) -> None:
    register_backup_stream(app)
    campaign = campaign_in(status)

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        app.edit_campaign(campaign.id, {field: new_value(field), "name": "Renamed"}, actor="bob")

    assert refused.value.details["status"] == status.value
    assert refused.value.details["fixed_fields"] == [field]
    assert "name" in refused.value.details["editable_fields"]
    assert f"it is {status.value}" in refused.value.message
    assert app.get_campaign(campaign.id).fields["name"] == "Spring sale"


@pytest.mark.parametrize("status", LIVE)
def test_changing_the_ratio_of_a_live_campaign_opens_a_new_epoch(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign], status: Status
) -> None:
    campaign = campaign_in(status)
    first, second = campaign.fields["variants"]

    app.edit_campaign(
        campaign.id,
        {"variants": [{"id": first["id"], "weight": 1}, {"id": second["id"], "weight": 5}]},
        actor="bob",
    )

    stored = app.get_campaign(campaign.id)
    assert stored.ratio_epoch == 1
    assert stored.fields["variants"] == [{**first, "weight": 1}, {**second, "weight": 5}]


def test_each_ratio_change_opens_another_epoch(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.SENDING)
    first, second = campaign.fields["variants"]

    for weight in (2, 7, 4):
        app.edit_campaign(
            campaign.id,
            {"variants": [{"id": first["id"], "weight": weight}, {"id": second["id"]}]},
            actor="bob",
        )

    assert app.get_campaign(campaign.id).ratio_epoch == 3


def test_sending_the_same_ratio_again_changes_nothing(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign], writes_nothing: Callable[[], Any]
) -> None:
    campaign = campaign_in(Status.SENDING)
    unchanged = [{"id": v["id"], "weight": v["weight"]} for v in campaign.fields["variants"]]

    with writes_nothing():
        app.edit_campaign(campaign.id, {"variants": unchanged}, actor="bob")

    assert app.get_campaign(campaign.id).ratio_epoch == 0


def test_a_ratio_change_may_repeat_the_unchanged_texts(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    variants = [{**v, "weight": 9} for v in campaign.fields["variants"]]

    app.edit_campaign(campaign.id, {"variants": variants}, actor="bob")

    assert [v["weight"] for v in app.get_campaign(campaign.id).fields["variants"]] == [9, 9]


def test_changing_the_ratio_of_a_draft_opens_no_epoch(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()

    app.edit_campaign(campaign.id, {"variants": same_weights_reversed(campaign)}, actor="bob")

    stored = app.get_campaign(campaign.id)
    assert stored.ratio_epoch == 0
    assert [v["weight"] for v in stored.fields["variants"]] == [4, 2]
    assert [v["text"] for v in stored.fields["variants"]] == [
        v["text"] for v in campaign.fields["variants"]
    ]


@pytest.mark.parametrize(
    "change",
    [
        "new text",
        "added variant",
        "removed variant",
        "variant without id",
    ],
)
def test_a_live_campaign_refuses_any_variant_change_but_the_ratio(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    change: str,
) -> None:
    campaign = campaign_in(Status.SENDING)
    first, second = campaign.fields["variants"]
    variants = {
        "new text": [{"id": first["id"], "text": "Changed {short_url}"}, {"id": second["id"]}],
        "added variant": [{"id": first["id"]}, {"id": second["id"]}, {"text": "Third"}],
        "removed variant": [{"id": first["id"], "weight": 1}],
        "variant without id": [{"id": first["id"]}, {"text": second["text"]}],
    }[change]

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        app.edit_campaign(campaign.id, {"variants": variants}, actor="bob")

    assert refused.value.details == {"status": "Sending", "field": "variants"}
    assert "only the ratio" in refused.value.message


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SENDING])
def test_a_variant_id_the_campaign_does_not_have_is_refused(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    status: Status,
) -> None:
    campaign = campaign_in(status)
    stranger = "11111111-2222-4333-8444-555555555555"

    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.edit_campaign(campaign.id, {"variants": [{"id": stranger, "weight": 2}]}, actor="bob")

    assert refused.value.details[0]["field"] == "variants"
    assert stranger in refused.value.details[0]["message"]


def test_a_draft_variant_named_by_id_without_text_keeps_its_text(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()
    first, _second = campaign.fields["variants"]

    app.edit_campaign(campaign.id, {"variants": [{"id": first["id"], "weight": 8}]}, actor="bob")

    assert app.get_campaign(campaign.id).fields["variants"] == [{**first, "weight": 8}]


@pytest.mark.parametrize("status", FINAL)
@pytest.mark.parametrize("field", ["name", "tags", "variants"])
def test_a_final_campaign_refuses_every_edit(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    status: Status,
    field: str,
) -> None:
    campaign = campaign_in(status)
    value = same_weights_reversed(campaign) if field == "variants" else new_value(field)

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        app.edit_campaign(campaign.id, {field: value}, actor="bob")

    assert refused.value.details["status"] == status.value
    assert refused.value.details["command"] == "edit"
    assert "only duplicate works" in refused.value.message


def test_an_edit_that_changes_nothing_writes_nothing(
    app: CampaignPlatform,
    new_campaign: Callable[..., Campaign],
    fields: dict[str, Any],
    writes_nothing: Callable[[], Any],
) -> None:
    campaign = new_campaign()

    with writes_nothing():
        edited = app.edit_campaign(
            campaign.id, {"name": fields["name"], "tags": fields["tags"]}, actor="bob"
        )

    assert edited.version == campaign.version


def test_an_edit_records_only_what_changed_with_its_actor_and_reason(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign], fields: dict[str, Any]
) -> None:
    campaign = new_campaign()

    app.edit_campaign(
        campaign.id,
        {"name": fields["name"], "description": "New words"},
        actor="bob",
        reason="typo",
    )

    event = list(app.events.get(campaign.id))[-1]
    assert isinstance(event, Campaign.Edited)
    assert event.changes == {"description": "New words"}
    assert (event.actor, event.reason) == ("bob", "typo")


@pytest.mark.parametrize(
    ("links", "missing"),
    [
        (
            None,
            [
                "message: the Short URL target",
                "message: a domain pool or domains for the Short URL",
                "message: a domain pool or domains for the Opt-out URL",
            ],
        ),
        (
            {
                "short": {"domains": ["go.example.com"]},
                "optout": {"domains": ["out.example.com"]},
            },
            ["message: the Short URL target"],
        ),
        (
            {"short": {"target": "https://shop.example.com", "domains": ["go.example.com"]}},
            ["message: a domain pool or domains for the Opt-out URL"],
        ),
    ],
)
def test_a_live_campaign_refuses_links_that_leave_its_texts_without_a_target_or_domains(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    links: Any,
    missing: list[str],
) -> None:
    campaign = campaign_in(Status.SENDING)

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        app.edit_campaign(campaign.id, {"links": links}, actor="bob")

    assert refused.value.details == {"status": "Sending", "field": "links", "missing": missing}
    assert app.get_campaign(campaign.id).fields["links"] == campaign.fields["links"]


def test_a_draft_may_leave_its_links_incomplete_until_launch(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()

    edited = app.edit_campaign(campaign.id, {"links": None}, actor="bob")

    assert edited.fields["links"] == {}
