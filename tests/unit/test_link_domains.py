"""Link domains (F10): added Pending, moved by hand, shown Reached Limit at the global limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.audited import id_for_name
from domain.errors import IllegalTransition, NotFound, ValidationFailed
from domain.link_domain import DomainStatus, LinkDomain
from domain.settings import DEFAULT_DOMAIN_LIMIT

D = DomainStatus

# The hand-made moves: command -> (statuses it may leave, status it leads to).
MOVES: dict[str, tuple[set[DomainStatus], DomainStatus]] = {
    "configure": ({D.PENDING, D.ARCHIVED, D.BLOCKED, D.DECLINED}, D.CONFIGURED),
    "block": ({D.PENDING, D.CONFIGURED}, D.BLOCKED),
    "decline": ({D.PENDING}, D.DECLINED),
    "archive": ({D.PENDING, D.CONFIGURED, D.BLOCKED, D.DECLINED}, D.ARCHIVED),
}
# How to bring a freshly added domain to each stored status.
ROUTES: dict[DomainStatus, list[str]] = {
    D.PENDING: [],
    D.CONFIGURED: ["configure"],
    D.BLOCKED: ["block"],
    D.DECLINED: ["decline"],
    D.ARCHIVED: ["archive"],
}
STORED = list(ROUTES)


def domain_in(app: CampaignPlatform, status: DomainStatus, name: str = "go.example.com") -> None:
    app.add_domains([name], actor="ops")
    for command in ROUTES[status]:
        app.change_domain_status(name, command, actor="ops")


def stored(app: CampaignPlatform, name: str = "go.example.com") -> LinkDomain:
    domain = app.find(LinkDomain, id_for_name("domain", name))
    assert domain is not None
    return domain


def test_an_added_domain_is_pending_and_not_usable(app: CampaignPlatform) -> None:
    added, known = app.add_domains(["Go.Example.com", "out.example.com"], actor="ops")

    assert [d.name for d in added] == ["go.example.com", "out.example.com"]
    assert known == []
    assert stored(app).status is DomainStatus.PENDING
    assert stored(app).usage == 0
    assert not stored(app).is_usable(DEFAULT_DOMAIN_LIMIT)
    assert [d.name for d in app.list_domains()] == ["go.example.com", "out.example.com"]


def test_adding_names_already_known_is_harmless(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    app.add_domains(["go.example.com"], actor="ops")
    app.change_domain_status("go.example.com", "configure", actor="ops")

    with writes_nothing():
        added, known = app.add_domains(["go.example.com", "GO.example.com."], actor="ops")

    assert added == []
    assert [d.name for d in known] == ["go.example.com"]
    assert stored(app).status is DomainStatus.CONFIGURED
    assert len(app.list_domains()) == 1


def test_adding_new_and_known_names_adds_only_the_new_ones(app: CampaignPlatform) -> None:
    app.add_domains(["go.example.com"], actor="ops")

    added, known = app.add_domains(["go.example.com", "b.example.com"], actor="ops")

    assert [d.name for d in added] == ["b.example.com"]
    assert [d.name for d in known] == ["go.example.com"]
    assert [d.name for d in app.list_domains()] == ["b.example.com", "go.example.com"]


@pytest.mark.parametrize(
    ("names", "why"),
    [
        ([], "give at least one domain name"),
        ("go.example.com", "a list of domain names"),
        (["go.example.com", "not a domain"], "is not a valid domain name"),
        (["localhost"], "is not a valid domain name"),
        ([7], "a domain name"),
    ],
)
def test_adding_invalid_domain_names_is_refused_and_adds_none(
    app: CampaignPlatform, writes_nothing: Callable[[], Any], names: Any, why: str
) -> None:
    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.add_domains(names, actor="ops")

    assert refused.value.details[0]["field"] == "names"
    assert why in refused.value.details[0]["message"]
    assert app.list_domains() == []


ALLOWED = [(c, s) for c, (sources, _) in MOVES.items() for s in STORED if s in sources]
REFUSED = [
    (c, s) for c, (sources, target) in MOVES.items() for s in STORED if s not in sources | {target}
]


@pytest.mark.parametrize(("command", "status"), ALLOWED)
def test_a_domain_moves_by_hand_where_allowed(
    app: CampaignPlatform, command: str, status: DomainStatus
) -> None:
    domain_in(app, status)

    moved = app.change_domain_status("go.example.com", command, actor="ops", reason="checked")

    assert moved.status is MOVES[command][1]
    assert stored(app).status is MOVES[command][1]


@pytest.mark.parametrize(("command", "status"), REFUSED)
def test_a_domain_move_from_elsewhere_is_refused_naming_the_status(
    app: CampaignPlatform,
    writes_nothing: Callable[[], Any],
    command: str,
    status: DomainStatus,
) -> None:
    domain_in(app, status)

    with writes_nothing(), pytest.raises(IllegalTransition) as refused:
        app.change_domain_status("go.example.com", command, actor="ops")

    assert refused.value.details == {"status": status.value, "command": command}
    assert f"it is {status.value}" in refused.value.message
    assert stored(app).status is status


@pytest.mark.parametrize("command", sorted(MOVES))
def test_repeating_a_move_to_where_the_domain_is_changes_nothing(
    app: CampaignPlatform, writes_nothing: Callable[[], Any], command: str
) -> None:
    domain_in(app, MOVES[command][1])

    with writes_nothing():
        again = app.change_domain_status("go.example.com", command, actor="ops")

    assert again.status is MOVES[command][1]


def test_a_configured_domain_is_usable_below_the_limit(app: CampaignPlatform) -> None:
    domain_in(app, DomainStatus.CONFIGURED)
    domain = stored(app)
    domain.record_usage(9, None)
    app.save(domain)

    assert stored(app).usage == 9
    assert stored(app).status_under(10) is DomainStatus.CONFIGURED
    assert stored(app).is_usable(10)


def test_a_configured_domain_at_the_limit_shows_reached_limit_and_is_not_usable(
    app: CampaignPlatform,
) -> None:
    domain_in(app, DomainStatus.CONFIGURED)
    app.set_domain_limit({"limit": 10}, actor="ops")
    domain = stored(app)
    domain.record_usage(4, "c1")
    domain.record_usage(6, "c2")
    app.save(domain)

    limit = app.domain_limit()
    assert stored(app).status_under(limit) is DomainStatus.REACHED_LIMIT
    assert stored(app).status_under(limit).value == "Reached Limit"
    assert not stored(app).is_usable(limit)


def test_raising_the_limit_frees_a_domain_that_reached_it(app: CampaignPlatform) -> None:
    domain_in(app, DomainStatus.CONFIGURED)
    app.set_domain_limit({"limit": 10}, actor="ops")
    domain = stored(app)
    domain.record_usage(10, None)
    app.save(domain)

    assert app.set_domain_limit({"limit": 11}, actor="ops") == 11

    assert stored(app).status_under(app.domain_limit()) is DomainStatus.CONFIGURED
    assert stored(app).is_usable(app.domain_limit())


@pytest.mark.parametrize("status", [DomainStatus.PENDING, DomainStatus.BLOCKED])
def test_a_domain_that_is_not_configured_never_shows_reached_limit(
    app: CampaignPlatform, status: DomainStatus
) -> None:
    domain_in(app, status)
    domain = stored(app)
    domain.record_usage(50, None)
    app.save(domain)

    assert stored(app).status_under(10) is status


def test_a_domain_at_the_limit_is_still_stored_as_configured_and_can_be_blocked(
    app: CampaignPlatform,
) -> None:
    domain_in(app, DomainStatus.CONFIGURED)
    domain = stored(app)
    domain.record_usage(DEFAULT_DOMAIN_LIMIT, None)
    app.save(domain)

    blocked = app.change_domain_status("go.example.com", "block", actor="ops")

    assert blocked.status is DomainStatus.BLOCKED


def test_usage_records_when_the_domain_was_last_used(app: CampaignPlatform) -> None:
    domain_in(app, DomainStatus.CONFIGURED)
    domain = stored(app)
    assert domain.last_used_at is None
    domain.record_usage(1, None)
    app.save(domain)

    assert stored(app).last_used_at is not None


def test_the_limit_defaults_to_ten_thousand(app: CampaignPlatform) -> None:
    assert app.domain_limit() == DEFAULT_DOMAIN_LIMIT == 10_000


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "100", None])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused(
    app: CampaignPlatform, limit: Any
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        app.set_domain_limit({"limit": limit}, actor="ops")

    assert refused.value.details[0]["field"] == "limit"
    assert app.domain_limit() == DEFAULT_DOMAIN_LIMIT


def test_setting_the_same_limit_again_writes_nothing(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    app.set_domain_limit({"limit": 20}, actor="ops")

    with writes_nothing():
        assert app.set_domain_limit({"limit": 20}, actor="ops") == 20


def test_moving_an_unknown_domain_is_not_found(app: CampaignPlatform) -> None:
    with pytest.raises(NotFound):
        app.change_domain_status("nowhere.example.com", "configure", actor="ops")


def test_moving_a_malformed_domain_name_is_not_found(app: CampaignPlatform) -> None:
    with pytest.raises(NotFound):
        app.change_domain_status("not a domain", "configure", actor="ops")
