"""Fixtures for the domain's unit tests: an in-memory platform and campaigns in any status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.status import Status
from infra.application import ProcessPlatform

LIST_ID = "2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"
FUTURE = "2999-01-01T09:00:00Z"


def complete_fields() -> dict[str, Any]:
    """Everything a campaign needs to launch: sender, a list, variants, and both links."""
    return {
        "name": "Spring sale",
        "description": "Twenty percent off",
        "tags": ["spring"],
        "sender": "Shop",
        "contact_lists": [LIST_ID],
        "variants": [
            {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3},
            {"text": "Sale now on {short_url} Stop: {optout_url}", "weight": 1},
        ],
        "links": {
            "short": {"target": "https://shop.example.com/spring", "domains": ["go.example.com"]},
            "optout": {"domains": ["out.example.com"]},
        },
    }


@pytest.fixture
def app() -> ProcessPlatform:
    platform = ProcessPlatform(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    platform.ensure_demo_stream()
    return platform


def add_link_domains(app: CampaignPlatform) -> None:
    """Links name only domains that exist: adds (not configures) those complete_fields uses."""
    app.add_domains(
        ["go.example.com", "out.example.com", "s.example.com", "o.example.com"], actor="alice"
    )


@pytest.fixture
def fields(app: CampaignPlatform) -> dict[str, Any]:
    add_link_domains(app)
    return complete_fields()


@pytest.fixture
def new_campaign(app: CampaignPlatform) -> Callable[..., Campaign]:
    add_link_domains(app)

    def make(**overrides: Any) -> Campaign:
        return app.create_campaign({**complete_fields(), **overrides}, actor="alice")

    return make


def _bring(app: CampaignPlatform, campaign: Campaign, status: Status) -> Campaign:
    """Walks a campaign along the lifecycle to `status`, by the commands that lead there."""
    cid = campaign.id

    def system(act: Callable[[Campaign], None]) -> Campaign:
        current = app.get_campaign(cid)
        act(current)
        app.save(current)
        return app.get_campaign(cid)

    def user(command: str) -> Campaign:
        return app.change_campaign_status(cid, command, actor="alice")

    path: dict[Status, Callable[[], Campaign]] = {
        Status.DRAFT: lambda: app.get_campaign(cid),
        Status.PROCESSING: lambda: user("launch"),
        Status.READY: lambda: system(lambda c: c.prepare(5, datetime.now(UTC))),
        Status.SCHEDULED: lambda: system(lambda c: c.prepare(5, datetime.now(UTC))),
        Status.STARTED: lambda: system(lambda c: c.start("the stream took it")),
        Status.SENDING: lambda: system(lambda c: c.begin_sending("window open")),
        Status.PAUSED: lambda: user("pause"),
        Status.SUSPENDED: lambda: system(
            lambda c: c.suspend("rule fired", {"kind": "rule", "metric": "ctr"})
        ),
        Status.ABORTED: lambda: user("abort"),
        Status.REJECTED: lambda: system(lambda c: c.reject("content rule hit")),
        Status.FINISHED: lambda: system(lambda c: c.finish("every recipient attempted")),
    }
    route = {
        Status.DRAFT: [],
        Status.PROCESSING: [Status.PROCESSING],
        Status.READY: [Status.PROCESSING, Status.READY],
        Status.SCHEDULED: [Status.PROCESSING, Status.SCHEDULED],
        Status.STARTED: [Status.PROCESSING, Status.READY, Status.STARTED],
        Status.SENDING: [Status.PROCESSING, Status.READY, Status.STARTED, Status.SENDING],
        Status.PAUSED: [Status.PROCESSING, Status.READY, Status.STARTED, Status.PAUSED],
        Status.SUSPENDED: [Status.PROCESSING, Status.READY, Status.STARTED, Status.SUSPENDED],
        Status.ABORTED: [Status.PROCESSING, Status.READY, Status.ABORTED],
        Status.REJECTED: [Status.PROCESSING, Status.REJECTED],
        Status.FINISHED: [
            Status.PROCESSING,
            Status.READY,
            Status.STARTED,
            Status.SENDING,
            Status.FINISHED,
        ],
    }[status]
    for step in route:
        campaign = path[step]()
        assert campaign.status is step
    return app.get_campaign(cid)


@pytest.fixture
def campaign_in(
    app: CampaignPlatform, new_campaign: Callable[..., Campaign]
) -> Callable[..., Campaign]:
    """A complete campaign brought to the given status (Scheduled starts in the future)."""

    def make(status: Status, **overrides: Any) -> Campaign:
        if status is Status.SCHEDULED:
            overrides.setdefault("start_at", FUTURE)
        return _bring(app, new_campaign(**overrides), status)

    return make


@pytest.fixture
def writes_nothing(app: CampaignPlatform) -> Callable[[], AbstractContextManager[None]]:
    """Asserts that the block leaves the event store as it found it."""

    @contextmanager
    def check() -> Iterator[None]:
        before = app.recorder.max_notification_id()
        yield
        assert app.recorder.max_notification_id() == before

    return check
