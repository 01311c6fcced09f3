"""Commands running at the same time: saved together when they touch different aggregates,
one after the other when they touch the same one, and never decided wrongly on a stale copy
of what this process committed before another process wrote."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import ApplicationRecorder

from domain.campaign import Campaign
from domain.errors import IllegalTransition, VersionConflict
from domain.status import Status
from infra.application import ProcessPlatform

WAIT = 5.0
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def in_threads(*functions: Callable[[], Any]) -> list[dict[str, Any]]:
    """Runs each function in its own thread; returns each one's value or error."""
    outcomes: list[dict[str, Any]] = [{} for _ in functions]

    def body(i: int) -> None:
        try:
            outcomes[i]["value"] = functions[i]()
        except Exception as error:
            outcomes[i]["error"] = error

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def transactions_of(app: ProcessPlatform, hold_until_waiting: int = 0) -> list[int]:
    """Counts the events of each transaction the group commit makes. With
    `hold_until_waiting`, the first one waits until that many other callers wait too."""
    sizes: list[int] = []
    store = app.group_commit.store

    def counting(events: list[Any]) -> Any:
        if not sizes:
            deadline = time.monotonic() + WAIT
            while len(app.group_commit.waiting) < hold_until_waiting:
                assert time.monotonic() < deadline, "the other callers never came"
                time.sleep(0.001)
        sizes.append(len(events))
        return store(events)

    app.group_commit.store = counting
    return sizes


def together(parties: int) -> Callable[[Callable[[Campaign], None]], Callable[[Campaign], None]]:
    """Makes each action wait, the first time, until every party has loaded its campaign, so
    that all of them decide on the same version."""
    barrier = threading.Barrier(parties, timeout=WAIT)

    def wrap(action: Callable[[Campaign], None]) -> Callable[[Campaign], None]:
        calls: list[int] = []

        def act(campaign: Campaign) -> None:
            calls.append(campaign.version)
            if len(calls) == 1:
                barrier.wait()
            action(campaign)

        act.calls = calls  # type: ignore[attr-defined]
        return act

    return wrap


def pause(c: Campaign, command_id: str | None = None) -> None:
    c.pause(actor="alice", command_id=command_id)


def stored_versions(app: ProcessPlatform, campaign_id: uuid.UUID) -> list[int]:
    return [e.originator_version for e in app.events.get(campaign_id)]


# One process, several threads.


def test_commands_on_different_campaigns_at_once_all_apply_in_shared_transactions(
    app: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaigns = [campaign_in(Status.STARTED) for _ in range(6)]
    sizes = transactions_of(app, hold_until_waiting=5)

    outcomes = in_threads(
        *(lambda c=c: app.change_campaign_status(c.id, "pause", actor="alice") for c in campaigns)
    )

    assert [o.get("error") for o in outcomes] == [None] * 6
    assert [o["value"].status for o in outcomes] == [Status.PAUSED] * 6
    assert [app.get_campaign(c.id).status for c in campaigns] == [Status.PAUSED] * 6
    assert sizes == [1, 5]  # the first alone, the five that waited for it together


def test_two_commands_on_one_campaign_at_once_both_apply_one_after_the_other(
    app: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    wrap = together(2)
    pausing = wrap(pause)
    renaming = wrap(lambda c: c.edit({"name": "Renamed"}, actor="bob", command_id=None))

    outcomes = in_threads(
        lambda: app.run_command(Campaign, campaign.id, "campaign", pausing),
        lambda: app.run_command(Campaign, campaign.id, "campaign", renaming),
    )

    assert [o.get("error") for o in outcomes] == [None, None]
    stored = app.get_campaign(campaign.id)
    assert (stored.status, stored.fields["name"]) == (Status.PAUSED, "Renamed")
    assert stored_versions(app, campaign.id)[-2:] == [campaign.version + 1, campaign.version + 2]
    retried = [c for c in (pausing.calls, renaming.calls) if len(c) == 2]  # type: ignore[attr-defined]
    assert retried == [[campaign.version, campaign.version + 1]]  # decided again, on the new one


def test_two_pauses_at_once_pause_once_and_the_retry_is_refused_on_the_new_status(
    app: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    wrap = together(2)

    outcomes = in_threads(
        lambda: app.run_command(Campaign, campaign.id, "campaign", wrap(pause)),
        lambda: app.run_command(Campaign, campaign.id, "campaign", wrap(pause)),
    )

    errors = [o.get("error") for o in outcomes]
    assert [type(e) for e in errors].count(IllegalTransition) == 1
    assert errors.count(None) == 1
    assert stored_versions(app, campaign.id)[-1] == campaign.version + 1


def test_two_commands_expecting_one_version_at_once_one_applies_the_other_conflicts(
    app: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    wrap = together(2)

    def command(action: Callable[[Campaign], None]) -> Callable[[], Campaign]:
        return lambda: app.run_command(
            Campaign, campaign.id, "campaign", wrap(action), expected_version=campaign.version
        )

    outcomes = in_threads(
        command(pause), command(lambda c: c.edit({"name": "Renamed"}, actor="bob", command_id=None))
    )

    errors = [o.get("error") for o in outcomes]
    assert [type(e) for e in errors].count(VersionConflict) == 1
    assert errors.count(None) == 1
    assert stored_versions(app, campaign.id)[-1] == campaign.version + 1


def test_one_command_id_sent_twice_at_once_applies_once_and_both_get_its_answer(
    app: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    wrap = together(2)

    def command() -> Campaign:
        action = wrap(lambda c: pause(c, "pause-1"))
        return app.run_command(Campaign, campaign.id, "campaign", action, command_id="pause-1")

    outcomes = in_threads(command, command)

    assert [o.get("error") for o in outcomes] == [None, None]
    assert [(o["value"].status, o["value"].version) for o in outcomes] == [
        (Status.PAUSED, campaign.version + 1)
    ] * 2
    assert stored_versions(app, campaign.id)[-1] == campaign.version + 1


def test_new_campaigns_created_at_once_are_all_saved(
    app: ProcessPlatform, fields: dict[str, Any]
) -> None:
    sizes = transactions_of(app, hold_until_waiting=3)

    outcomes = in_threads(
        *(lambda n=n: app.create_campaign({**fields, "name": f"C{n}"}, actor="a") for n in range(4))
    )

    created = [o["value"] for o in outcomes]
    assert sorted(app.get_campaign(c.id).fields["name"] for c in created) == [
        "C0",
        "C1",
        "C2",
        "C3",
    ]
    assert sizes == [1, 3]


# Another process writing to the same store: this process's copies go stale.


class OtherProcess(ProcessPlatform):
    """A second application on the same store, as another gateway process would be."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.shared_recorder = recorder
        super().__init__(env=POPO)

    def construct_recorder(self) -> ApplicationRecorder:
        return self.shared_recorder


@pytest.fixture
def other(app: ProcessPlatform) -> ProcessPlatform:
    return OtherProcess(app.recorder)


def test_a_command_refused_on_a_stale_copy_is_decided_again_on_the_store_state(
    app: ProcessPlatform, other: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    app.change_campaign_status(campaign.id, "pause", actor="alice")  # this process: Paused
    other.change_campaign_status(campaign.id, "resume", actor="bob")  # the store: Started

    paused = app.change_campaign_status(campaign.id, "pause", actor="alice")

    assert paused.status is Status.PAUSED
    assert app.get_campaign(campaign.id).version == campaign.version + 3


def test_a_write_from_a_stale_copy_is_refused_by_the_store_and_decided_again(
    app: ProcessPlatform, other: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    app.change_campaign_status(campaign.id, "pause", actor="alice")
    other.edit_campaign(campaign.id, {"name": "Renamed elsewhere"}, actor="bob")

    resumed = app.change_campaign_status(campaign.id, "resume", actor="alice")

    assert resumed.status is Status.STARTED
    assert resumed.fields["name"] == "Renamed elsewhere"  # the other process's edit is kept
    assert stored_versions(app, campaign.id)[-1] == campaign.version + 3


def test_an_expected_version_is_checked_against_the_store_not_a_stale_copy(
    app: ProcessPlatform, other: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    paused = app.change_campaign_status(campaign.id, "pause", actor="alice")
    edited = other.edit_campaign(campaign.id, {"name": "Renamed elsewhere"}, actor="bob")

    with pytest.raises(VersionConflict):
        app.change_campaign_status(
            campaign.id, "resume", actor="alice", expected_version=paused.version
        )
    resumed = app.change_campaign_status(
        campaign.id, "resume", actor="alice", expected_version=edited.version
    )

    assert resumed.version == edited.version + 1


def test_a_command_id_applied_by_another_process_returns_its_first_answer(
    app: ProcessPlatform, other: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    app.edit_campaign(campaign.id, {"description": "seen here"}, actor="alice")  # a copy here
    first = other.change_campaign_status(campaign.id, "pause", actor="bob", command_id="p-1")

    again = app.change_campaign_status(campaign.id, "pause", actor="bob", command_id="p-1")

    assert (again.status, again.version) == (Status.PAUSED, first.version)
    assert stored_versions(app, campaign.id)[-1] == first.version


def test_a_command_id_applied_elsewhere_wins_over_the_expected_version_of_a_stale_copy(
    app: ProcessPlatform, other: ProcessPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.STARTED)
    seen = app.edit_campaign(campaign.id, {"description": "seen here"}, actor="alice")
    first = other.change_campaign_status(
        campaign.id, "pause", actor="bob", command_id="p-1", expected_version=seen.version
    )

    again = app.change_campaign_status(
        campaign.id, "pause", actor="bob", command_id="p-1", expected_version=seen.version
    )

    assert (again.status, again.version) == (Status.PAUSED, first.version)
