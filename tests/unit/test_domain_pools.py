"""Domain pools (F11): named sets of known domains, edited by adding and removing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.errors import NotFound, ValidationFailed, VersionConflict
from domain.pool import DomainPool


@pytest.fixture
def known(app: CampaignPlatform) -> list[str]:
    names = ["a.example.com", "b.example.com", "c.example.com"]
    app.add_domains(names, actor="ops")
    return names


def pool_of(app: CampaignPlatform, pool_id: uuid.UUID) -> DomainPool:
    pool = app.find(DomainPool, pool_id)
    assert pool is not None
    return pool


def test_a_pool_is_created_with_known_domains_and_listed(
    app: CampaignPlatform, known: list[str]
) -> None:
    pool = app.create_pool(
        {"name": "Main", "description": "Everyday links", "domains": known[:2]}, actor="ops"
    )

    stored = pool_of(app, pool.id)
    assert (stored.name, stored.description, stored.domains) == (
        "Main",
        "Everyday links",
        ["a.example.com", "b.example.com"],
    )
    assert [p.id for p in app.list_pools()] == [pool.id]


def test_a_pool_may_start_empty(app: CampaignPlatform) -> None:
    pool = app.create_pool({"name": "Later"}, actor="ops")

    assert pool_of(app, pool.id).domains == []
    assert pool_of(app, pool.id).description == ""


def test_pools_are_listed_by_name_regardless_of_case(app: CampaignPlatform) -> None:
    for name in ("beta", "Alpha", "gamma"):
        app.create_pool({"name": name}, actor="ops")

    assert [p.name for p in app.list_pools()] == ["Alpha", "beta", "gamma"]


def test_a_pool_with_an_unknown_domain_is_refused_and_nothing_is_saved(
    app: CampaignPlatform, known: list[str], writes_nothing: Callable[[], Any]
) -> None:
    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.create_pool({"name": "Main", "domains": [known[0], "x.example.com"]}, actor="ops")

    assert refused.value.details == [
        {"field": "domains", "message": "unknown domain x.example.com; add it first"}
    ]
    assert app.list_pools() == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Main", "domains": "a.example.com"}, "domains"),
        ({"name": "Main", "domains": ["not a domain"]}, "domains"),
        ({"name": "Main", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_pool_is_refused_naming_the_field(
    app: CampaignPlatform, writes_nothing: Callable[[], Any], raw: dict[str, Any], field: str
) -> None:
    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.create_pool(raw, actor="ops")

    assert refused.value.details[0]["field"] == field


def test_domains_are_added_to_and_removed_from_a_pool(
    app: CampaignPlatform, known: list[str]
) -> None:
    pool = app.create_pool({"name": "Main", "domains": known[:2]}, actor="ops")

    app.edit_pool(
        pool.id,
        {"add_domains": ["c.example.com"], "remove_domains": ["a.example.com"]},
        actor="ops",
    )

    assert pool_of(app, pool.id).domains == ["b.example.com", "c.example.com"]


def test_adding_a_domain_a_pool_has_or_removing_one_it_lacks_writes_nothing(
    app: CampaignPlatform, known: list[str], writes_nothing: Callable[[], Any]
) -> None:
    pool = app.create_pool({"name": "Main", "domains": known[:2]}, actor="ops")

    with writes_nothing():
        app.edit_pool(
            pool.id,
            {"add_domains": ["a.example.com"], "remove_domains": ["c.example.com"]},
            actor="ops",
        )

    assert pool_of(app, pool.id).domains == ["a.example.com", "b.example.com"]


def test_adding_an_unknown_domain_to_a_pool_is_refused(
    app: CampaignPlatform, known: list[str], writes_nothing: Callable[[], Any]
) -> None:
    pool = app.create_pool({"name": "Main", "domains": known[:1]}, actor="ops")

    with writes_nothing(), pytest.raises(ValidationFailed):
        app.edit_pool(pool.id, {"add_domains": ["x.example.com"]}, actor="ops")


def test_a_pool_is_renamed_and_its_domains_replaced(
    app: CampaignPlatform, known: list[str]
) -> None:
    pool = app.create_pool({"name": "Main", "domains": known[:2]}, actor="ops")

    app.edit_pool(
        pool.id,
        {"name": "Primary", "description": "Renamed", "domains": ["c.example.com"]},
        actor="ops",
    )

    stored = pool_of(app, pool.id)
    assert (stored.name, stored.description, stored.domains) == (
        "Primary",
        "Renamed",
        ["c.example.com"],
    )


def test_repeating_a_pool_create_with_its_command_id_returns_the_same_pool(
    app: CampaignPlatform, known: list[str], writes_nothing: Callable[[], Any]
) -> None:
    first = app.create_pool({"name": "Main"}, actor="ops", command_id="pool-1")

    with writes_nothing():
        again = app.create_pool({"name": "Main"}, actor="ops", command_id="pool-1")

    assert again.id == first.id
    assert len(app.list_pools()) == 1


def test_a_stale_expected_version_of_a_pool_is_refused(
    app: CampaignPlatform, known: list[str], writes_nothing: Callable[[], Any]
) -> None:
    pool = app.create_pool({"name": "Main"}, actor="ops")
    app.edit_pool(pool.id, {"name": "Second"}, actor="ops")

    with writes_nothing(), pytest.raises(VersionConflict):
        app.edit_pool(pool.id, {"name": "Third"}, actor="ops", expected_version=1)


def test_editing_an_unknown_pool_is_not_found(app: CampaignPlatform) -> None:
    with pytest.raises(NotFound):
        app.edit_pool(uuid.uuid4(), {"name": "Ghost"}, actor="ops")
