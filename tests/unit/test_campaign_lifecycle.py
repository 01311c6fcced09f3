"""The transitions T1-T17 of the product spec, allowed and refused, by every command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import IllegalTransition, NotFound
from domain.status import Status

S = Status

# The spec's table, written out here rather than read from domain.status, so that the code
# is checked against the spec: command -> (statuses it may leave, status it leads to).
SPEC: dict[str, tuple[set[Status], Status]] = {
    "launch": ({S.DRAFT}, S.PROCESSING),  # T3
    "reject": ({S.PROCESSING}, S.REJECTED),  # T4
    "prepare": ({S.PROCESSING}, S.READY),  # T5 (T6 when the start time is ahead)
    "start": ({S.READY, S.SCHEDULED}, S.STARTED),  # T7, T8
    "unschedule": ({S.SCHEDULED}, S.DRAFT),  # T9
    "begin_sending": ({S.STARTED}, S.SENDING),  # T10
    "close_window": ({S.SENDING}, S.STARTED),  # T11
    "pause": ({S.STARTED, S.SENDING}, S.PAUSED),  # T12
    "resume": ({S.PAUSED, S.SUSPENDED}, S.STARTED),  # T13, T15
    "suspend": ({S.STARTED, S.SENDING}, S.SUSPENDED),  # T14
    "abort": ({S.READY, S.SCHEDULED, S.STARTED, S.SENDING, S.PAUSED, S.SUSPENDED}, S.ABORTED),
    "finish": ({S.SENDING}, S.FINISHED),  # T17
}
USER_COMMANDS = ("launch", "unschedule", "pause", "resume", "abort")
FINAL = (S.FINISHED, S.ABORTED, S.REJECTED)
SPEC_ORDER = list(Status)


def run(app: CampaignPlatform, campaign: Campaign, command: str) -> Campaign:
    """A user command through the application; a system command on the aggregate, saved."""
    if command in USER_COMMANDS:
        return app.change_campaign_status(campaign.id, command, actor="alice", reason="by hand")
    system: dict[str, Callable[[Campaign], None]] = {
        "reject": lambda c: c.reject("no usable recipient after suppression"),
        "prepare": lambda c: c.prepare(12, datetime.now(UTC)),
        "start": lambda c: c.start("the stream took it"),
        "begin_sending": lambda c: c.begin_sending("inside the sending window"),
        "close_window": lambda c: c.close_window("the sending window closed"),
        "suspend": lambda c: c.suspend("CTR 0.1% below 1% after 500", {"kind": "rule"}),
        "finish": lambda c: c.finish("every recipient attempted"),
    }
    system[command](campaign)
    app.save(campaign)
    return app.get_campaign(campaign.id)


ALLOWED = [
    (command, status) for command, (sources, _) in SPEC.items() for status in sorted(sources)
]
REFUSED = [
    (command, status)
    for command, (sources, _) in SPEC.items()
    for status in Status
    if status not in sources
]


@pytest.mark.parametrize(("command", "status"), ALLOWED)
def test_each_command_leads_from_the_statuses_the_spec_allows_to_its_status(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign], command: str, status: Status
) -> None:
    campaign = campaign_in(status)
    version = campaign.version

    after = run(app, campaign, command)

    assert after.status is SPEC[command][1]
    assert after.version == version + 1


@pytest.mark.parametrize(("command", "status"), REFUSED)
def test_each_command_is_refused_from_every_other_status_naming_what_is_allowed(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    command: str,
    status: Status,
) -> None:
    campaign = campaign_in(status)

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        run(app, campaign, command)

    sources = sorted(SPEC[command][0], key=SPEC_ORDER.index)
    error = refused.value
    assert error.code == "illegal_transition"
    assert f"that is {status.value}" in error.message
    assert ", ".join(s.value for s in sources) in error.message
    assert error.details["status"] == status.value
    assert error.details["command"] == command
    assert error.details["allowed_from"] == [s.value for s in sources]
    assert app.get_campaign(campaign.id).status is status


def test_creating_a_campaign_gives_a_draft(app: CampaignPlatform) -> None:
    campaign = app.create_campaign({"name": "Only a name"}, actor="alice")

    assert campaign.status is Status.DRAFT
    assert campaign.version == 1
    assert campaign.created_by == "alice"
    assert app.get_campaign(campaign.id).fields["name"] == "Only a name"


def test_preparing_with_a_start_time_ahead_schedules_the_campaign(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.PROCESSING, start_at="2999-01-01T09:00:00+02:00")

    after = run(app, campaign, "prepare")

    assert after.status is Status.SCHEDULED
    assert after.recipients == 12
    assert "2999-01-01T07:00:00" in after.status_reason


def test_preparing_with_a_start_time_passed_makes_the_campaign_ready(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.PROCESSING, start_at="2000-01-01T00:00:00Z")

    after = run(app, campaign, "prepare")

    assert after.status is Status.READY
    assert after.recipients == 12


def test_a_rejection_records_its_reason(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    after = run(app, campaign_in(Status.PROCESSING), "reject")

    assert after.status is Status.REJECTED
    assert after.status_reason == "no usable recipient after suppression"


def test_an_unscheduled_campaign_is_a_draft_again_and_can_be_edited_and_relaunched(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.SCHEDULED)

    run(app, campaign, "unschedule")
    edited = app.edit_campaign(campaign.id, {"sender": "Other", "start_at": None}, actor="bob")
    relaunched = app.change_campaign_status(campaign.id, "launch", actor="bob")

    assert edited.fields["sender"] == "Other"
    assert relaunched.status is Status.PROCESSING


def test_a_suspension_records_its_cause_and_a_resume_clears_it(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    suspended = run(app, campaign_in(Status.SENDING), "suspend")
    assert suspended.suspension == {"kind": "rule"}
    assert suspended.status_reason == "CTR 0.1% below 1% after 500"

    resumed = run(app, suspended, "resume")

    assert resumed.status is Status.STARTED
    assert resumed.suspension is None


def test_finishing_records_the_started_and_finished_times(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    finished = campaign_in(Status.FINISHED)

    assert finished.started_at is not None
    assert finished.finished_at is not None
    assert finished.started_at <= finished.finished_at


def test_a_status_change_event_carries_actor_reason_and_command_id(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.SENDING)

    app.change_campaign_status(
        campaign.id, "pause", actor="carol", reason="client asked", command_id="pause-1"
    )

    event = list(app.events.get(campaign.id))[-1]
    assert isinstance(event, Campaign.Paused)
    assert (event.actor, event.reason, event.command_id) == ("carol", "client asked", "pause-1")


def test_a_system_event_names_the_system_as_its_actor(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)

    event = list(app.events.get(campaign.id))[-1]

    assert isinstance(event, Campaign.Started)
    assert event.actor == "system"


@pytest.mark.parametrize("status", FINAL)
@pytest.mark.parametrize("command", sorted(SPEC))
def test_a_final_status_refuses_every_command_and_says_only_duplicate_works(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    status: Status,
    command: str,
) -> None:
    campaign = campaign_in(status)

    with pytest.raises(IllegalTransition) as refused:
        run(app, campaign, command)

    assert "final status: only duplicate works" in refused.value.message
    assert refused.value.details["allowed_commands"] == ["duplicate"]


def test_pausing_a_finished_campaign_is_refused(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.FINISHED)

    with pytest.raises(IllegalTransition) as refused:
        app.change_campaign_status(campaign.id, "pause", actor="alice")

    assert refused.value.message == (
        "cannot pause a campaign that is Finished (a final status: only duplicate works); "
        "pause is allowed from Started, Sending"
    )


@pytest.mark.parametrize(
    ("status", "commands"),
    [
        (S.DRAFT, ["edit", "launch", "duplicate"]),
        (S.PROCESSING, ["edit", "duplicate"]),
        (S.READY, ["edit", "abort", "duplicate"]),
        (S.SCHEDULED, ["edit", "abort", "unschedule", "duplicate"]),
        (S.STARTED, ["edit", "pause", "abort", "duplicate"]),
        (S.SENDING, ["edit", "pause", "abort", "duplicate"]),
        (S.PAUSED, ["edit", "resume", "abort", "duplicate"]),
        (S.SUSPENDED, ["edit", "resume", "abort", "duplicate"]),
    ],
)
def test_a_refusal_lists_the_user_commands_the_current_status_accepts(
    app: CampaignPlatform,
    campaign_in: Callable[..., Campaign],
    status: Status,
    commands: list[str],
) -> None:
    campaign = campaign_in(status)
    wrong = "finish" if status is not S.SENDING else "launch"

    with pytest.raises(IllegalTransition) as refused:
        run(app, campaign, wrong)

    assert refused.value.details["allowed_commands"] == commands


def test_an_unknown_lifecycle_command_is_not_found(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> None:
    campaign = new_campaign()

    with pytest.raises(NotFound):
        app.change_campaign_status(campaign.id, "explode", actor="alice")


def test_a_command_on_an_unknown_campaign_is_not_found(app: CampaignPlatform) -> None:
    import uuid

    with pytest.raises(NotFound):
        app.change_campaign_status(uuid.uuid4(), "pause", actor="alice")
