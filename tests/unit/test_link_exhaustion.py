"""The rule that suspends a campaign whose links ran out of domains, and keeps it suspended."""

from __future__ import annotations

from domain.link_domain import DomainStatus, LinkDomain
from domain.link_exhaustion import DomainUse, exhausted_links, still_exhausted, suspension_for

LIMIT = 5
CONFIGURED = DomainStatus.CONFIGURED
REACHED = DomainStatus.REACHED_LIMIT


def test_a_link_with_a_usable_domain_needs_no_suspension() -> None:
    links = {
        "short": [
            DomainUse("full.example.com", REACHED, 5),
            DomainUse("go.example.com", CONFIGURED, 1),
        ],
        "optout": [DomainUse("out.example.com", CONFIGURED, 4)],
    }

    assert exhausted_links(links, LIMIT) == {}
    assert suspension_for(links, LIMIT) is None
    assert still_exhausted(links, LIMIT) == []


def test_a_link_whose_domains_all_reached_the_limit_suspends_the_campaign() -> None:
    links = {
        "short": [DomainUse("go.example.com", REACHED, 5)],
        "optout": [DomainUse("out.example.com", CONFIGURED, 2)],
    }

    suspension = suspension_for(links, LIMIT)

    assert suspension is not None
    assert suspension.reason == (
        "every domain for the Short URL reached the messaging limit of 5 or is not usable: "
        "go.example.com (Reached Limit, 5/5). Add a domain, configure one or raise the limit "
        "to resume."
    )
    assert suspension.cause == {
        "kind": "domains",
        "links": {"short": ["go.example.com (Reached Limit, 5/5)"]},
        "limit": 5,
    }


def test_domains_not_configured_are_not_usable_whatever_their_usage() -> None:
    links = {
        "optout": [
            DomainUse("new.example.com", DomainStatus.PENDING, 0),
            DomainUse("bad.example.com", DomainStatus.BLOCKED, 0),
        ]
    }

    assert exhausted_links(links, LIMIT) == {
        "optout": ["new.example.com (Pending, 0/5)", "bad.example.com (Blocked, 0/5)"]
    }


def test_a_link_without_domains_is_exhausted_and_said_to_have_none() -> None:
    suspension = suspension_for(
        {"short": [DomainUse("go.example.com", REACHED, 5)], "optout": []}, 5
    )

    assert suspension is not None
    assert suspension.reason.startswith(
        "every domain for the Short URL reached the messaging limit of 5 or is not usable: "
        "go.example.com (Reached Limit, 5/5); every domain for the Opt-out URL reached the "
        "messaging limit of 5 or is not usable: no domains."
    )
    assert suspension.cause["links"] == {
        "short": ["go.example.com (Reached Limit, 5/5)"],
        "optout": [],
    }


def test_a_resume_is_blocked_by_each_link_still_without_a_usable_domain() -> None:
    links = {"short": [DomainUse("go.example.com", REACHED, 5)], "optout": []}

    assert still_exhausted(links, LIMIT) == [
        "no usable domain for the Short URL: add a domain, configure one, or raise the limit (5)",
        "no usable domain for the Opt-out URL: add a domain, configure one, or raise the limit (5)",
    ]


def test_a_campaign_without_links_never_runs_out_of_domains() -> None:
    assert suspension_for({}, LIMIT) is None
    assert still_exhausted({}, LIMIT) == []


def test_a_configured_domain_reads_as_reached_limit_once_its_usage_is_at_the_limit() -> None:
    domain = LinkDomain.add("go.example.com", actor="ann")
    domain.change_status("configure", actor="ann")
    domain.record_usage(5, None)

    assert DomainUse.of(domain, 6) == DomainUse("go.example.com", CONFIGURED, 5)
    assert DomainUse.of(domain, 5) == DomainUse("go.example.com", REACHED, 5)
    assert not DomainUse.of(domain, 5).usable
