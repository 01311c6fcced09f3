"""The `campaigns` command line against the same stores as the server."""

from __future__ import annotations

import json

import pytest

from infra.bootstrap import build
from infra.cli import main
from infra.settings import Settings


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
