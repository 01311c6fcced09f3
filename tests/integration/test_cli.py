"""The `campaigns` command line against the same stores as the server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway.cli import main
from infra.bootstrap import build
from infra.settings import Settings
from projections.campaign_list import ListFilter


def point_at(store: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The options and environment that make the CLI open `store`."""
    for key in ("CAMPAIGNS_DATABASE_URL", "CAMPAIGNS_DATABASE_SCHEMA"):
        monkeypatch.delenv(key, raising=False)
    if store.postgres is not None:
        monkeypatch.setenv("CAMPAIGNS_DATABASE_URL", store.postgres.url)
        monkeypatch.setenv("CAMPAIGNS_DATABASE_SCHEMA", store.postgres.schema)
    return ["--data-dir", str(store.data_dir)]


def test_audit_prints_who_changed_a_campaign_when_and_why(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with build(store) as platform:
        campaign = platform.app.create_campaign({"name": "Audited", "sender": "Shop"}, actor="ann")
        platform.app.edit_campaign(campaign.id, {"tags": ["x"]}, actor="bob", reason="tagging")
    options = point_at(store, monkeypatch)

    assert main(["audit", str(campaign.id), *options]) == 0
    text = capsys.readouterr().out
    assert main(["audit", str(campaign.id), "--json", *options]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert "Audited" in text and "new -> Draft" in text and "by bob: tagging" in text
    assert [(r["type"], r["actor"], r["reason"]) for r in rows] == [
        ("Campaign.Created", "ann", "created"),
        ("Campaign.Edited", "bob", "tagging"),
    ]


def test_audit_of_an_unknown_or_malformed_id_fails_saying_so(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = point_at(store, monkeypatch)

    unknown = main(["audit", "00000000-0000-0000-0000-000000000000", *options])
    unknown_error = capsys.readouterr().err
    malformed = main(["audit", "not-an-id", *options])
    malformed_error = capsys.readouterr().err

    assert unknown == 1 and "campaign not found" in unknown_error
    assert malformed == 2 and "is not a campaign id" in malformed_error


def test_token_create_prints_the_new_token_alone_on_its_last_line(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = point_at(store, monkeypatch)

    assert main(["token", "create", "--role", "manager", "--name", "Ann", *options]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]

    with build(store) as platform:
        found = platform.tokens.find(secret)
    assert found is not None and (found.name, found.role) == ("Ann", "manager")


def test_token_list_shows_names_and_roles_never_secrets_and_revoke_ends_a_token(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = point_at(store, monkeypatch)
    main(["token", "create", "--role", "viewer", "--name", "Wall", *options])
    secret = capsys.readouterr().out.splitlines()[-1]

    assert main(["token", "list", *options]) == 0
    listed = capsys.readouterr().out
    assert main(["token", "revoke", "Wall", *options]) == 0
    revoked = capsys.readouterr().out
    assert main(["token", "revoke", "Wall", *options]) == 1

    assert "Wall" in listed and "viewer" in listed and secret not in listed
    assert "revoked viewer token 'Wall'" in revoked
    with build(store) as platform:
        assert platform.tokens.find(secret) is None


def test_token_create_refuses_an_unknown_role_and_a_taken_name(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = point_at(store, monkeypatch)
    with pytest.raises(SystemExit):
        main(["token", "create", "--role", "root", "--name", "X", *options])
    main(["token", "create", "--role", "viewer", "--name", "Twice", *options])
    capsys.readouterr()

    assert main(["token", "create", "--role", "viewer", "--name", "Twice", *options]) == 2
    assert "exists" in capsys.readouterr().err


def test_replay_plays_a_time_range_as_the_wall_would(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    with build(store) as platform:
        campaign = platform.app.create_campaign({"name": "Replayed"}, actor="ann")
        platform.app.edit_campaign(campaign.id, {"name": "Renamed"}, actor="ann")
    after = datetime.now(UTC) + timedelta(seconds=1)
    window = ["--from", before.isoformat(), "--to", after.isoformat(), "--speed", "0"]
    where = point_at(store, monkeypatch)

    assert main(["replay", *window, "--json", *where]) == 0
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert messages[0]["type"] == "snapshot" and messages[0]["rows"] == []
    assert messages[-1]["type"] == "end"
    assert [row["name"] for m in messages for row in m.get("rows", [])][-1] == "Renamed"

    assert main(["replay", *window, "--status", "Draft", *where]) == 0
    assert "Renamed" in capsys.readouterr().out
    assert main(["replay", "--from", after.isoformat(), "--to", before.isoformat(), *where]) == 2


def test_rebuild_says_how_many_events_it_replayed_and_where(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with build(store) as platform:
        for n in range(3):
            platform.app.create_campaign({"name": f"Rebuilt {n}"}, actor="ann")
        stored = platform.app.recorder.max_notification_id()
    options = point_at(store, monkeypatch)

    assert main(["rebuild", "campaigns", *options]) == 0
    out = capsys.readouterr().out

    where = " inside the database" if store.postgres is not None else ""
    assert f"rebuilt campaigns{where}: {stored:,} events" in out
    with build(store) as platform:
        assert {
            row["name"]
            for row in platform.campaign_list.query(platform.database, ListFilter(), 1, 10).items
        } == {"Rebuilt 0", "Rebuilt 1", "Rebuilt 2"}
