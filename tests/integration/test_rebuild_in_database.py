"""On PostgreSQL a rebuild draws the read models from the stored events inside the
database; its rows must equal those the live feed wrote, event by event, in Python."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.status import Status
from infra.bootstrap import Platform, build
from infra.settings import Settings, parse_database_url
from projections import stored_replay
from projections.database import Database
from tests.integration.conftest import drop_schema, postgres_url
from tests.integration.test_sending_engine import contact_list
from tests.integration.test_sending_engine import drive as drive_engine

SHORT, SHORT2, OPTOUT = "go1.example.com", "go2.example.com", "out1.example.com"
TEXT = 'Hi {first_name}, "20%" off \\ {short_url} Stop: {optout_url}'
VIEW_TABLES = (
    "campaign_list",
    "campaign_tags",
    "campaign_history",
    "domain_usage",
    "domain_campaign_usage",
    "domain_limit",
)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(data_dir=tmp_path, postgres=parse_database_url(url, schema), sending=False)
    platform = build(settings)
    platform.sending.carrier.delay_scale = 0
    try:
        yield platform
    finally:
        platform.close()
        drop_schema(url, schema)


def rows(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    with database.read() as cursor:
        found = {}
        for table in VIEW_TABLES:
            cursor.execute(f"SELECT * FROM {table}")
            found[table] = sorted(cursor.fetchall(), key=repr)
        return found


def catch_up(platform: Platform) -> None:
    platform.feed.catch_up()
    platform.domain_feed.catch_up()


def fields(lists: list[str], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Spring sale",
        "sender": "Shop",
        "contact_lists": lists,
        "variants": [{"text": TEXT, "weight": 3}, {"text": "Sale {short_url} {optout_url}"}],
        "links": {
            "short": {"target": "https://shop.example.com/spring", "domains": [SHORT, SHORT2]},
            "optout": {"domains": [OPTOUT]},
        },
        **overrides,
    }


def a_varied_history(platform: Platform) -> None:
    """Every kind of campaign and domain event, with texts that JSON and SQL quote."""
    app = platform.app
    app.add_domains([SHORT, SHORT2, OPTOUT, "spare.example.com"], actor="alice")
    for name in (SHORT, SHORT2, OPTOUT):
        app.change_domain_status(name, "configure", actor="alice")
    app.change_domain_status("spare.example.com", "archive", actor="bob", reason="not ours")
    app.set_domain_limit({"limit": 1_000_000}, actor="alice")
    people = contact_list(platform, 30)
    plain = app.create_campaign(
        fields(
            [people],
            name='Straße "quoted" \\ back\tslash ☀',
            description="Ünïcode, <b>markup</b> & a\nnewline",
            tags=["b", "a", 'q"uote', "É"],
        ),
        actor="alice",
    )
    app.edit_campaign(
        plain.id,
        {"name": "ÉTÉ Sale", "tags": ["z", "a"], "sender": "Other", "description": "x"},
        actor="bob",
    )
    app.edit_campaign(
        plain.id, {"variants": [{"text": "Only {short_url} {optout_url}"}]}, actor="bob"
    )
    app.duplicate_campaign(plain.id, actor="carol")
    sent = app.create_campaign(fields([people], name="Sent", tags=["x"]), actor="alice")
    app.change_campaign_status(sent.id, "launch", actor="alice")
    drive_engine(platform, sent.id, Status.SENDING)
    app.change_campaign_status(sent.id, "pause", actor="bob", reason="a question")
    app.change_campaign_status(sent.id, "resume", actor="bob")
    drive_engine(platform, sent.id, Status.FINISHED)
    limited = app.create_campaign(fields([people], name="Limited"), actor="alice")
    app.set_domain_limit({"limit": 40}, actor="alice")
    app.change_campaign_status(limited.id, "launch", actor="alice")
    drive_engine(platform, limited.id, Status.SUSPENDED)
    app.change_campaign_status(limited.id, "abort", actor="alice", reason="enough")
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    scheduled = app.create_campaign(fields([people], name="Later", start_at=later), actor="al")
    app.change_campaign_status(scheduled.id, "launch", actor="alice")
    drive_engine(platform, scheduled.id, Status.SCHEDULED)
    app.change_campaign_status(scheduled.id, "unschedule", actor="alice")
    links = {"short": {"target": "https://shop.example.com", "domains": ["spare.example.com"]}}
    unusable = app.create_campaign(
        fields([people], name="Nowhere", links=links, variants=[{"text": "Go {short_url}"}]),
        actor="alice",
    )
    app.change_campaign_status(unusable.id, "launch", actor="alice")
    drive_engine(platform, unusable.id, Status.REJECTED)
    catch_up(platform)


@pytest.mark.parametrize("grouped", [False, True], ids=["one group", "many groups"])
def test_a_rebuild_inside_the_database_writes_the_rows_the_live_feed_wrote(
    platform: Platform, grouped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if grouped:  # a few campaigns per group, filled from several connections at once
        monkeypatch.setattr(stored_replay, "ONE_GROUP_BELOW", 0)
        monkeypatch.setattr(stored_replay, "EVENTS_PER_GROUP", 10)
    a_varied_history(platform)
    live = rows(platform.database)
    assert all(live[table] for table in VIEW_TABLES)
    for view in ("campaigns", "domains"):
        platform.rebuild(view=view)
        assert platform.projectors[view].rebuilt_in_database
    assert rows(platform.database) == live
    assert platform.verify() == []
    catch_up(platform)  # the live feed goes on from the rebuilt position
    assert rows(platform.database) == live


def test_a_rebuild_marks_every_campaign_for_the_realtime_rows(platform: Platform) -> None:
    a_varied_history(platform)
    platform.redraw_realtime()
    assert platform.realtime_rows.pending() == 0
    with platform.database.transaction() as cursor:
        cursor.execute("UPDATE campaign_list SET name = 'damaged'")
    platform.rebuild()
    platform.redraw_realtime()
    assert platform.realtime_rows.pending() == 0
    assert platform.verify() == []


@pytest.mark.parametrize(
    "value", [datetime.now(UTC), float("nan")], ids=["a transcoded time", "NaN"]
)
def test_events_only_the_library_decodes_are_replayed_in_python(
    platform: Platform, value: object
) -> None:
    a_varied_history(platform)
    people = contact_list(platform, 5)
    odd = platform.app.create_campaign(fields([people], name="Odd"), actor="alice")
    platform.app.change_campaign_status(odd.id, "launch", actor="alice")
    drive_engine(platform, odd.id, Status.SENDING)
    campaign = platform.app.get_campaign(odd.id)
    campaign.suspend("checked by hand", {"kind": "manual", "value": value})
    platform.app.save(campaign)
    catch_up(platform)
    live = rows(platform.database)
    platform.rebuild()
    assert not platform.projectors["campaigns"].rebuilt_in_database
    assert rows(platform.database) == live
    assert platform.verify() == []
