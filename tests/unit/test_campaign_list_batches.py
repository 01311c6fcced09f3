"""The campaign list applies a batch of events with a few statements, and the rows come out
exactly as if each event had been applied on its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.status import Status
from infra.feed import read_messages
from projections.campaign_list import CampaignListView
from projections.database import SQLiteDatabase
from projections.domain_usage import DomainUsageView
from projections.messages import EventMessage
from projections.projector import Projector


def in_memory_projector() -> Projector:
    projector = Projector(SQLiteDatabase(Path(":memory:")), [CampaignListView()], "list")
    projector.create_tables()
    return projector


def rows(projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    tables = {}
    with projector.database.transaction() as cursor:
        for table, order in [
            ("campaign_list", "id"),
            ("campaign_tags", "campaign_id, tag"),
            ("campaign_history", "position"),
            ("projection_tracking", "projection"),
        ]:
            cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            tables[table] = cursor.fetchall()
    return tables


def applied_in(chunks: Sequence[Sequence[EventMessage]]) -> Projector:
    projector = in_memory_projector()
    for chunk in chunks:
        projector.handle(chunk)
    return projector


@pytest.fixture
def messages(app: CampaignPlatform, campaign_in: Callable[..., Campaign]) -> list[EventMessage]:
    """Several campaigns, each with many events, their events interleaved in the store."""
    first = campaign_in(Status.PAUSED)
    second = campaign_in(Status.SUSPENDED, tags=["a", "b"])
    app.edit_campaign(first.id, {"name": "First, renamed", "tags": ["x"]}, actor="bob")
    app.change_campaign_status(second.id, "resume", actor="bob", reason="fixed")
    app.edit_campaign(second.id, {"tags": []}, actor="bob")
    app.duplicate_campaign(first.id, actor="carol")
    third = app.create_campaign({"name": "Third", "tags": ["t"]}, actor="dave")
    app.edit_campaign(third.id, {"tags": ["t", "u"], "description": "more"}, actor="dave")
    app.change_campaign_status(first.id, "resume", actor="bob")
    started = app.get_campaign(first.id)
    started.suspend("rule fired", {"kind": "rule", "metric": "ctr"})
    app.save(started)
    found = read_messages(app, 0, 10_000)
    assert len({m.aggregate_id for m in found if m.aggregate == "Campaign"}) == 4
    return found


def test_one_batch_gives_the_rows_of_one_event_at_a_time(messages: list[EventMessage]) -> None:
    one_by_one = rows(applied_in([[m] for m in messages]))

    assert rows(applied_in([messages])) == one_by_one
    assert rows(applied_in([messages[i : i + 3] for i in range(0, len(messages), 3)])) == one_by_one


def test_the_history_follows_each_status_within_one_batch(messages: list[EventMessage]) -> None:
    projector = applied_in([messages])
    list_view = CampaignListView()
    first = next(m.aggregate_id for m in messages if m.name == "Paused")

    history = list_view.history(projector.database, first)

    steps = [(h["type"].split(".")[-1], h["from_status"], h["to_status"]) for h in history]
    assert steps[0] == ("Created", None, "Draft")
    assert ("Paused", "Started", "Paused") in steps
    assert ("Edited", "Paused", "Paused") in steps
    assert steps[-2:] == [("Resumed", "Paused", "Started"), ("Suspended", "Started", "Suspended")]


def test_a_batch_from_a_later_point_skips_campaigns_it_has_no_row_for(
    messages: list[EventMessage],
) -> None:
    later = messages[len(messages) // 2 :]

    assert rows(applied_in([later])) == rows(applied_in([[m] for m in later]))


def test_messages_already_applied_are_skipped_in_a_batch(messages: list[EventMessage]) -> None:
    projector = applied_in([messages[:10]])

    assert projector.handle(messages[:15]) == 5
    assert projector.handle(messages[:15]) == 0
    assert rows(projector) == rows(applied_in([messages[:15]]))


def test_a_batch_with_no_campaign_event_moves_only_the_position(
    app: CampaignPlatform,
) -> None:
    app.add_domains(["go.example.com"], actor="alice")
    messages = read_messages(app, 0, 100)
    projector = applied_in([messages])

    tables = rows(projector)
    assert tables["campaign_list"] == [] and tables["campaign_history"] == []
    assert tables["projection_tracking"] == [("list", messages[-1].position)]


def test_a_created_event_for_a_row_already_there_leaves_the_row_but_writes_its_tags() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)

    def created(position: int, name: str, tags: list[str]) -> EventMessage:
        fields = {"name": name, "tags": tags}
        return EventMessage(position, "c1", 1, "Campaign.Created", at, {"fields": fields})

    batch = [created(1, "First", ["a"]), created(2, "Again", ["b"])]

    assert rows(applied_in([batch])) == rows(applied_in([[m] for m in batch]))


def rebuilt_from(messages: Sequence[EventMessage], views: Sequence[Any] = ()) -> Projector:
    """A rebuild reading three messages at a time, as if the store held `messages`."""
    projector = Projector(
        SQLiteDatabase(Path(":memory:")), list(views) or [CampaignListView()], "list"
    )
    projector.create_tables()
    projector.rebuild(lambda after, _limit: [m for m in messages if m.position > after][:3])
    return projector


def test_a_rebuild_gives_the_rows_of_one_event_at_a_time(messages: list[EventMessage]) -> None:
    assert rows(rebuilt_from(messages)) == rows(applied_in([[m] for m in messages]))


def test_a_rebuild_of_domain_usage_gives_the_rows_of_one_event_at_a_time() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("d1", "Added", {"name": "go.example.com"}),
        ("d2", "Added", {"name": "go2.example.com"}),
        ("d1", "StatusChanged", {"status": "Configured"}),
        ("d1", "UsageRecorded", {"count": 5, "campaign_id": "c1"}),
        ("d1", "UsageRecorded", {"count": 3, "campaign_id": "c1"}),
        ("d2", "UsageRecorded", {"count": 2, "campaign_id": "c2"}),
        ("d3", "UsageRecorded", {"count": 1, "campaign_id": "c1"}),  # a domain with no row
        ("d1", "Added", {"name": "again.example.com"}),  # the first row stays
        ("d1", "UsageRecorded", {"count": 0, "campaign_id": "c2"}),
        ("d2", "UsageRecorded", {"count": 4}),  # no campaign
        ("d3", "StatusChanged", {"status": "Archived"}),
    ]
    messages = [
        EventMessage(n + 1, domain, n + 1, f"LinkDomain.{name}", at + timedelta(minutes=n), data)
        for n, (domain, name, data) in enumerate(events)
    ]

    def tables(projector: Projector) -> list[list[tuple[Any, ...]]]:
        with projector.database.transaction() as cursor:
            found = []
            for table in ("domain_usage", "domain_campaign_usage"):
                cursor.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
                found.append(cursor.fetchall())
        return found

    one_by_one = Projector(SQLiteDatabase(Path(":memory:")), [DomainUsageView()], "domains")
    one_by_one.create_tables()
    for message in messages:
        one_by_one.handle([message])

    rebuilt = rebuilt_from(messages, [DomainUsageView()])

    assert tables(rebuilt) == tables(one_by_one)
    assert tables(rebuilt)[0][0][:4] == ("d1", "go.example.com", "Configured", 8)
