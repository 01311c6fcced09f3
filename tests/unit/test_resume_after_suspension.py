"""Resume from Suspended (T15): refused, saying what is missing, while the cause persists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.audited import id_for_name
from domain.campaign import Campaign
from domain.errors import IllegalTransition
from domain.link_domain import LinkDomain
from domain.status import Status

SHORT_BLOCKED = (
    "no usable domain for the Short URL: add a domain, configure one, or raise the limit (5)"
)
OPTOUT_BLOCKED = (
    "no usable domain for the Opt-out URL: add a domain, configure one, or raise the limit (5)"
)


def add_configured(app: CampaignPlatform, *names: str) -> None:
    app.add_domains(list(names), actor="ops")
    for name in names:
        app.change_domain_status(name, "configure", actor="ops")


def use_up(app: CampaignPlatform, name: str, count: int = 5) -> None:
    domain = app.find(LinkDomain, id_for_name("domain", name))
    assert domain is not None
    domain.record_usage(count, None)
    app.save(domain)


def suspend_for_domains(app: CampaignPlatform, campaign: Campaign) -> Campaign:
    campaign.suspend(
        "every domain for the Short URL reached the limit: go.example.com",
        {"kind": "domains", "link": "short", "domains": ["go.example.com"]},
    )
    app.save(campaign)
    return app.get_campaign(campaign.id)


def resume(app: CampaignPlatform, campaign: Campaign) -> Campaign:
    return app.change_campaign_status(campaign.id, "resume", actor="alice")


def refusal(app: CampaignPlatform, campaign: Campaign) -> IllegalTransition:
    before = app.recorder.max_notification_id()
    with pytest.raises(IllegalTransition) as refused:
        resume(app, campaign)
    assert app.recorder.max_notification_id() == before
    assert app.get_campaign(campaign.id).status is Status.SUSPENDED
    return refused.value


@pytest.fixture
def exhausted(app: CampaignPlatform, campaign_in: Callable[..., Campaign]) -> Campaign:
    """A campaign suspended because its only Short URL domain reached the limit of 5."""
    app.set_domain_limit({"limit": 5}, actor="ops")
    add_configured(app, "go.example.com", "out.example.com")
    campaign = campaign_in(Status.SENDING)
    use_up(app, "go.example.com")
    return suspend_for_domains(app, campaign)


def test_resuming_while_every_domain_is_at_the_limit_is_refused_naming_what_is_missing(
    app: CampaignPlatform, exhausted: Campaign
) -> None:
    error = refusal(app, exhausted)

    assert error.details == {"status": "Suspended", "still_blocking": [SHORT_BLOCKED]}
    assert error.message == f"the campaign cannot resume yet: {SHORT_BLOCKED}"


def test_raising_the_limit_lets_the_campaign_resume(
    app: CampaignPlatform, exhausted: Campaign
) -> None:
    app.set_domain_limit({"limit": 6}, actor="ops")

    resumed = resume(app, exhausted)

    assert resumed.status is Status.STARTED
    assert resumed.suspension is None


def test_a_new_domain_on_the_campaign_lets_it_resume_once_configured(
    app: CampaignPlatform, exhausted: Campaign
) -> None:
    app.add_domains(["go2.example.com"], actor="ops")
    links = {
        "short": {
            "target": "https://shop.example.com/spring",
            "domains": ["go.example.com", "go2.example.com"],
        },
        "optout": {"domains": ["out.example.com"]},
    }
    app.edit_campaign(exhausted.id, {"links": links}, actor="alice")

    assert refusal(app, exhausted).details["still_blocking"] == [SHORT_BLOCKED]

    app.change_domain_status("go2.example.com", "configure", actor="ops")
    assert resume(app, exhausted).status is Status.STARTED


def test_a_new_domain_in_the_campaigns_pool_lets_it_resume_once_configured(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    app.set_domain_limit({"limit": 5}, actor="ops")
    add_configured(app, "go.example.com", "out.example.com")
    pool = app.create_pool({"name": "Short links", "domains": ["go.example.com"]}, actor="ops")
    links = {
        "short": {"target": "https://shop.example.com", "pool": str(pool.id)},
        "optout": {"domains": ["out.example.com"]},
    }
    campaign = campaign_in(Status.SENDING, links=links)
    use_up(app, "go.example.com")
    suspended = suspend_for_domains(app, campaign)
    assert refusal(app, suspended).details["still_blocking"] == [SHORT_BLOCKED]

    app.add_domains(["go2.example.com"], actor="ops")
    app.edit_pool(pool.id, {"add_domains": ["go2.example.com"]}, actor="ops")
    assert refusal(app, suspended).details["still_blocking"] == [SHORT_BLOCKED]

    app.change_domain_status("go2.example.com", "configure", actor="ops")
    assert resume(app, suspended).status is Status.STARTED


@pytest.mark.parametrize("command", ["block", "archive"])
def test_a_domain_taken_out_of_use_does_not_count_as_usable(
    app: CampaignPlatform, exhausted: Campaign, command: str
) -> None:
    app.set_domain_limit({"limit": 100}, actor="ops")
    app.change_domain_status("go.example.com", command, actor="ops")

    assert refusal(app, exhausted).details["still_blocking"] == [
        SHORT_BLOCKED.replace("(5)", "(100)")
    ]


def test_domains_the_campaign_names_but_nobody_added_are_not_usable(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    app.set_domain_limit({"limit": 5}, actor="ops")
    campaign = campaign_in(Status.STARTED)  # its domains were never added

    suspended = suspend_for_domains(app, campaign)

    assert refusal(app, suspended).details["still_blocking"] == [SHORT_BLOCKED, OPTOUT_BLOCKED]


def test_a_campaign_with_no_links_has_nothing_blocking_its_resume(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.SENDING, variants=[{"text": "No links here"}], links=None)

    suspended = suspend_for_domains(app, campaign)

    assert resume(app, suspended).status is Status.STARTED


def test_a_paused_campaign_resumes_without_a_domain_check(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.PAUSED)  # its domains were never added

    assert resume(app, campaign).status is Status.STARTED


def test_a_campaign_suspended_for_its_disabled_stream_resumes_once_it_is_enabled(
    app: CampaignPlatform, campaign_in: Callable[..., Campaign]
) -> None:
    campaign = campaign_in(Status.SENDING)
    app.change_stream("demo", {"enabled": False}, actor="ops")
    campaign.suspend("the stream demo was disabled", {"kind": "stream", "stream": "demo"})
    app.save(campaign)

    error = refusal(app, campaign)
    assert error.details["still_blocking"] == ["the stream demo is disabled"]

    app.change_stream("demo", {"enabled": True}, actor="ops")
    assert resume(app, campaign).status is Status.STARTED


def test_a_retried_resume_after_the_cause_returned_is_still_the_first_result(
    app: CampaignPlatform, exhausted: Campaign, writes_nothing: Callable[[], Any]
) -> None:
    app.set_domain_limit({"limit": 6}, actor="ops")
    first = app.change_campaign_status(exhausted.id, "resume", actor="alice", command_id="r-1")
    app.set_domain_limit({"limit": 5}, actor="ops")

    with writes_nothing():
        again = app.change_campaign_status(exhausted.id, "resume", actor="alice", command_id="r-1")

    assert again.version == first.version
    assert again.status is Status.STARTED
