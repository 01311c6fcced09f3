"""The audit trail (F13) over the API, on its page and in `campaigns audit`: filters, CSV, and
automatic changes explained by their facts, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.status import Status
from gateway.app import create_app
from gateway.cli import main
from infra.bootstrap import Platform
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS
from tests.integration.scenarios import assert_error, create_complete, drive
from tests.integration.test_cli import point_at
from tests.integration.test_sending_engine import (
    OPTOUT,
    SHORT,
    add_configured,
    contact_list,
    new_campaign,
    sending,
)
from tests.integration.test_sending_engine import drive as drive_engine

__all__ = ["sending"]  # the engine's fixture, used here too

MARKUP = '<img src=x onerror="alert(1)">'


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def audited_campaign(client: TestClient, platform: Platform) -> str:
    """A campaign edited by `bob` with markup in its name and reason, launched and prepared."""
    campaign_id = str(create_complete(client, name="Audited")["id"])
    client.patch(
        f"/api/campaigns/{campaign_id}", json={"name": MARKUP, "reason": "=cmd|' /C calc'!A0"}
    )
    client.post(f"/api/campaigns/{campaign_id}/launch", json={"reason": f"go {MARKUP}"})
    drive(platform, campaign_id, "prepare")
    return campaign_id


def test_the_history_as_csv_has_a_header_and_a_line_per_filtered_entry(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = audited_campaign(client, platform)
    url = f"/api/campaigns/{campaign_id}/history"

    by_format = client.get(url, params={"format": "csv", "actor": "system"})
    by_header = client.get(url, headers={"Accept": "text/csv"})

    assert by_format.status_code == 200
    assert by_format.headers["content-type"].startswith("text/csv")
    assert "attachment" in by_format.headers["content-disposition"]
    assert [row["type"] for row in csv_rows(by_format.text)] == ["Campaign.Prepared"]
    rows = csv_rows(by_header.text)
    assert [row["type"].rpartition(".")[2] for row in rows] == [
        "Created",
        "Edited",
        "Launched",
        "Prepared",
    ]
    assert rows[1]["details"] == f"name: {MARKUP}"
    assert rows[1]["reason"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it, never runs it
    assert rows[2]["from_status"] == "Draft" and rows[2]["to_status"] == "Processing"
    assert rows[3]["details"] == "recipients: 12"
    assert_error(client.get(url, params={"format": "xml"}), 422, "validation_failed")


def test_the_audit_page_escapes_names_and_reasons_and_links_its_csv(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = audited_campaign(client, platform)

    page = client.get(f"/campaigns/{campaign_id}/audit", params={"type": "Launched"})

    assert page.status_code == 200
    assert MARKUP not in page.text
    assert "go &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text
    assert 'id="audit-1"' not in page.text and 'id="audit-3"' in page.text
    assert f"/api/campaigns/{campaign_id}/history?type=Launched&amp;format=csv" in page.text
    assert client.get(f"/campaigns/{uuid.uuid4()}/audit").status_code == 404
    assert (
        "must be an ISO 8601"
        in client.get(f"/campaigns/{campaign_id}/audit", params={"from": "soon"}).text
    )


def test_audit_filters_and_prints_csv_on_the_command_line(
    client: TestClient,
    platform: Platform,
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    campaign_id = audited_campaign(client, platform)
    client.close()  # the command line opens the store itself
    options = point_at(store, monkeypatch)

    assert main(["audit", campaign_id, "--actor", "system", *options]) == 0
    text = capsys.readouterr().out
    assert main(["audit", campaign_id, "--csv", "--type", "Edited", *options]) == 0
    edits = csv_rows(capsys.readouterr().out)
    assert main(["audit", campaign_id, "--json", "--from", "2000-01-01", *options]) == 0
    every = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["audit", campaign_id, "--from", "yesterday", *options]) == 2
    problem = capsys.readouterr().err

    assert "Processing -> Ready" in text and "recipients: 12" in text and "Launched" not in text
    assert [row["details"] for row in edits] == [f"name: {MARKUP}"]
    assert len(every) == 4
    assert "--from must be an ISO 8601 date or time" in problem


def history_of(platform: Platform, campaign_id: uuid.UUID) -> list[dict[str, Any]]:
    platform.feed.catch_up()
    return platform.campaign_list.history(platform.database, str(campaign_id))


def test_a_suspension_by_domains_names_each_domain_its_usage_and_the_limit(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.app.set_domain_limit({"limit": 60}, actor="alice")
    campaign = new_campaign(sending, [contact_list(sending, 100)])
    drive_engine(sending, campaign.id, Status.SUSPENDED)

    suspension = history_of(sending, campaign.id)[-1]

    assert suspension["actor"] == "system"
    assert suspension["cause"]["kind"] == "domains"
    assert suspension["details"] == (
        f"domains at the messaging limit of 60: Short URL: {SHORT} (Reached Limit, 60/60); "
        f"Opt-out URL: {OPTOUT} (Reached Limit, 60/60)"
    )


def test_a_suspension_by_a_rule_names_the_rule_and_the_values_measured(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 50
    rules = [{"metric": "ctr", "below": 50, "after": 40}]
    campaign = new_campaign(sending, [contact_list(sending, 300)], pause_rules=rules)
    drive_engine(sending, campaign.id, Status.SUSPENDED)
    with TestClient(create_app(sending), headers=ADMIN_HEADERS) as client:
        answer = client.get(f"/api/campaigns/{campaign.id}/history", params={"type": "Suspended"})

    (suspension,) = answer.json()
    cause = suspension["cause"]
    assert suspension["details"] == (
        f"auto-pause rule CTR below 50% after 40; measured {cause['value']}% over "
        f"{cause['measured_over']} delivered"
    )
