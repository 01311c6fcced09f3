"""Export (F15): the stored events written out with `campaigns export`, and imported with
`campaigns import` into an empty store, rebuild the same read models, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.status import Status
from gateway import api
from gateway.cli import main
from infra.bootstrap import Platform, build
from infra.settings import Settings
from projections.messages import EventMessage
from tests.integration.conftest import drop_schema
from tests.integration.test_cli import point_at
from tests.integration.test_sending_engine import (
    OPTOUT,
    SHORT,
    add_configured,
    contact_list,
    new_campaign,
)
from tests.integration.test_sending_engine import drive as drive_engine

# The rows to compare, without the positions (the new store numbers its events afresh). The
# list's sent count, cost and CTR are left out: they are counted from the activity rows
# (messages, receipts, clicks), which are not events and are not exported.
COMPARED = {
    "campaign_list": "id, version, name, name_folded, description, status, status_reason, "
    "tags, type, stream, sender, created_at, updated_at, recipients_total",
    "campaign_tags": "campaign_id, tag",
    "campaign_history": "campaign_id, version, at, type, actor, from_status, to_status, "
    "reason, command_id, details",
    "domain_usage": "domain_id, name, status, usage, last_used_at, added_at",
    "domain_campaign_usage": "domain_id, campaign_id, usage",
}


@pytest.fixture
def empty_store(store: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A second store of the same kind as `store`, empty."""
    if store.postgres is None:
        yield replace(store, data_dir=tmp_path / "imported")
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield replace(store, postgres=replace(store.postgres, schema=schema))
    finally:
        drop_schema(store.postgres.url, schema)


def some_history(platform: Platform) -> None:
    """Domains, a pool, campaigns edited, launched, sent until the domains' limit, paused."""
    add_configured(platform, SHORT, OPTOUT)
    platform.app.create_pool({"name": "Main", "domains": [SHORT]}, actor="alice")
    platform.app.set_domain_limit({"limit": 30}, actor="alice")
    platform.sending.carrier.delay_scale = 0
    suspended = new_campaign(platform, [contact_list(platform, 40)], tags=["spring", "vip"])
    drive_engine(platform, suspended.id, Status.SUSPENDED)
    draft = platform.app.create_campaign({"name": "<b>Draft</b>", "tags": ["x"]}, actor="bob")
    platform.app.edit_campaign(draft.id, {"description": "later"}, actor="bob", reason="notes")
    platform.feed.catch_up()
    platform.domain_feed.catch_up()


def read_model_rows(settings: Settings) -> dict[str, Counter[tuple[Any, ...]]]:
    with build(replace(settings, sending=False)) as platform:
        platform.feed.catch_up()
        platform.domain_feed.catch_up()
        found = {}
        with platform.database.read() as cursor:
            for table, columns in COMPARED.items():
                cursor.execute(f"SELECT {columns} FROM {table}")
                found[table] = Counter(tuple(row) for row in cursor.fetchall())
    return found


def without_positions(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "position"} for line in lines]


def test_an_exported_history_imported_into_an_empty_store_rebuilds_the_same_read_models(
    store: Settings,
    empty_store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with build(store) as platform:
        some_history(platform)
    exported, again = tmp_path / "events.ndjson", tmp_path / "again.ndjson"

    assert main(["export", "--output", str(exported), *point_at(store, monkeypatch)]) == 0
    export_progress = capsys.readouterr().err
    to_empty = point_at(empty_store, monkeypatch)
    assert main(["import", str(exported), *to_empty]) == 0
    import_output = capsys.readouterr()
    assert main(["export", "--output", str(again), *to_empty]) == 0

    assert "exported" in export_progress and "events/s" in export_progress
    assert "imported" in import_output.err and "read models are rebuilt" in import_output.out
    assert without_positions(again) == without_positions(exported)  # ids, versions, times, order
    original, imported = read_model_rows(store), read_model_rows(empty_store)
    assert all(original[table] for table in COMPARED), original  # something to compare
    for table in COMPARED:
        assert imported[table] == original[table], table


def test_importing_into_a_store_that_holds_events_is_refused_and_writes_nothing(
    store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with build(store) as platform:
        platform.app.create_campaign({"name": "Already here"}, actor="ann")
        held = platform.app.recorder.max_notification_id()
    options = point_at(store, monkeypatch)
    exported = tmp_path / "events.ndjson"
    assert main(["export", "--output", str(exported), *options]) == 0
    capsys.readouterr()

    refused = main(["import", str(exported), *options])

    assert refused == 1
    assert "already holds" in capsys.readouterr().err
    with build(store) as platform:
        assert platform.app.recorder.max_notification_id() == held


def test_export_starts_after_a_position_and_writes_csv(
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with build(store) as platform:
        campaign = platform.app.create_campaign({"name": 'Quote " and, comma'}, actor="ann")
        platform.app.edit_campaign(campaign.id, {"tags": ["a"]}, actor="ann")
        last = platform.app.recorder.max_notification_id() or 0
    options = point_at(store, monkeypatch)

    assert main(["export", "--format", "csv", "--after", str(last - 2), *options]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))

    assert [int(row["position"]) for row in rows] == [last - 1, last]
    assert [row["type"] for row in rows] == ["Campaign.Created", "Campaign.Edited"]
    assert json.loads(rows[0]["data"])["fields"]["name"] == 'Quote " and, comma'


def test_an_unreadable_line_is_refused_with_its_number(
    store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"position": 1}\n')

    assert main(["import", str(broken), *point_at(store, monkeypatch)]) == 1
    assert "line 1: not an exported event" in capsys.readouterr().err


def test_the_events_endpoint_streams_from_any_position_a_page_of_the_store_at_a_time(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(30):
        platform.app.create_campaign({"name": f"Campaign {number}"}, actor="ann")
    stored = platform.app.recorder.max_notification_id() or 0
    monkeypatch.setattr(api, "EVENTS_PAGE", 7)
    asked: list[int] = []
    read = platform.read_events

    def reading(after: int, limit: int) -> list[EventMessage]:
        asked.append(limit)
        return read(after, limit)

    monkeypatch.setattr(platform, "read_events", reading)

    answer = client.get("/api/events", params={"after": 5, "limit": 100_000})
    campaigns = client.get("/api/events", params={"after": 5, "type": "Created", "limit": 3})

    positions = [json.loads(line)["position"] for line in answer.text.splitlines()]
    assert positions == list(range(6, stored + 1))
    assert set(asked) == {7}  # never the whole history at once
    created = [json.loads(line) for line in campaigns.text.splitlines()]
    assert [line["type"] for line in created] == ["Campaign.Created"] * 3
    assert all(line["position"] > 5 for line in created)
