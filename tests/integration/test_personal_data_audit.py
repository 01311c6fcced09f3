"""Review finding 6 of issue 15: below support, nothing personal leaves the message log or the
Summary (numbers masked, no links, no contact columns) and nothing is written down; support,
manager and admin read it whole, and each such read is written down first (who, with which
role, when, from where, which campaign and page) and shown in the campaign's audit trail:
`GET /api/campaigns/{id}/disclosures`, the audit page and `campaigns audit`. On SQLite and
on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from domain.status import Status
from gateway.app import create_app
from gateway.cli import main
from gateway.schemas.activity_answers import DisclosurePage, Estimate, MessagePage
from infra.bootstrap import Platform
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS
from tests.integration.scenarios import assert_error
from tests.integration.test_cli import point_at
from tests.integration.test_sending_engine import (
    OPTOUT,
    SHORT,
    TEXT,
    add_configured,
    contact_list,
    drive,
    new_campaign,
)

FIRST_NUMBER = "+447700900000"  # the first contact of `contact_list`, named Person0


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token_of(client: TestClient, name: str, role: str) -> dict[str, Any]:
    answer = client.post("/api/tokens", json={"name": name, "role": role}, headers=ADMIN_HEADERS)
    assert answer.status_code == 201, answer.text
    token: dict[str, Any] = answer.json()
    return token


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    """A client with no token of its own: each request says who it is."""
    with TestClient(create_app(platform, own_platform=True)) as client:
        yield client


@pytest.fixture
def finished(platform: Platform, browser: TestClient) -> str:
    """A campaign sent to five contacts (`Hi {first_name}, ...` with both links)."""
    add_configured(platform, SHORT, OPTOUT)
    platform.sending.carrier.delay_scale = 0
    campaign = new_campaign(platform, [contact_list(platform, 5)])
    drive(platform, campaign.id, Status.FINISHED)
    return str(campaign.id)


def disclosures(browser: TestClient, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
    answer = browser.get(
        f"/api/campaigns/{campaign_id}/disclosures", params=params, headers=ADMIN_HEADERS
    )
    assert answer.status_code == 200, answer.text
    msgspec.convert(answer.json(), DisclosurePage)  # the answer is what its declaration says
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_viewer_and_an_analyst_read_nothing_personal_and_nothing_is_written_down(
    platform: Platform, browser: TestClient, finished: str
) -> None:
    rows, _total = platform.activity.messages.page(finished, 1, 100)
    codes = {str(code) for row in rows for code in row[:2]}  # the short and opt-out codes
    for role in ("viewer", "analyst"):
        who = bearer(token_of(browser, f"a {role}", role)["token"])

        page = browser.get(f"/api/campaigns/{finished}/messages", headers=who).json()
        msgspec.convert(page, MessagePage)  # masked, as its declaration allows
        log = page["items"]
        summary = browser.get(f"/api/campaigns/{finished}/estimate", headers=who).json()
        msgspec.convert(summary, Estimate)  # placeholders kept, as its declaration allows

        assert len(log) == 5
        assert all(m["short_url"] is None and m["optout_url"] is None for m in log)
        assert all(m["recipient"].startswith("+44") and "•" in m["recipient"] for m in log)
        assert {m["text"] for m in log} == {TEXT, "Sale {short_url} {optout_url}"}  # as written
        shown = json.dumps([log, summary], ensure_ascii=False)
        assert FIRST_NUMBER not in shown and "Person" not in shown
        assert len(codes) == 10 and not any(code in shown for code in codes)
        assert all(m["id"] is None for m in log)
        assert summary["variants"][0]["sample"].startswith("Hi {first_name}, 20% off: https://")
    assert disclosures(browser, finished) == []


def test_a_support_read_is_written_down_with_its_actor_and_shown_in_the_audit_trail(
    browser: TestClient, finished: str
) -> None:
    sam = bearer(token_of(browser, "Sam", "support")["token"])
    url = f"/api/campaigns/{finished}/messages"

    first = browser.get(url, headers=sam).json()["items"]
    again = browser.get(url, headers=sam).json()["items"]  # within the minute: written once
    second_page = browser.get(url, params={"page": 2, "per_page": 2}, headers=sam)

    assert FIRST_NUMBER in {m["recipient"] for m in first} and first == again
    assert all(m["short_url"] and m["optout_url"] for m in first)
    assert any(m["text"].startswith("Hi Person") for m in first)  # as sent
    assert all(f"/s/{m['id']}" in m["text"] for m in first)
    assert second_page.status_code == 200
    newest, oldest = disclosures(browser, finished)
    assert oldest == {
        "id": oldest["id"],
        "at": oldest["at"],
        "actor": "Sam",
        "role": "support",
        "address": "testclient",
        "campaign_id": finished,
        "resource": "messages",
        "page": 1,
        "per_page": 20,
        "row_count": 5,
        "what": "message log page 1 (20 a page): 5 numbers with their links",
    }
    assert (newest["page"], newest["per_page"], newest["row_count"]) == (2, 2, 2)
    assert newest["at"] >= oldest["at"]

    page = browser.get(f"/campaigns/{finished}/audit", headers=ADMIN_HEADERS).text
    assert "Personal data read" in page and "message log page 2 (2 a page)" in page
    assert '<td class="disclosure-actor">Sam</td>' in page
    as_csv = browser.get(
        f"/api/campaigns/{finished}/disclosures", params={"format": "csv"}, headers=ADMIN_HEADERS
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("id,at,actor,role,address,campaign_id")
    assert len(as_csv.text.splitlines()) == 3


def test_a_manager_under_a_reused_name_is_written_down_by_name_and_id(
    browser: TestClient, finished: str
) -> None:
    earlier = token_of(browser, "Ann", "manager")
    browser.delete(f"/api/tokens/{earlier['id']}", headers=ADMIN_HEADERS)
    ann = token_of(browser, "Ann", "manager")

    browser.get(f"/api/campaigns/{finished}/messages", headers=bearer(ann["token"]))
    browser.get(f"/api/campaigns/{finished}/estimate", headers=bearer(ann["token"]))

    reads = disclosures(browser, finished, actor=f"Ann#{ann['id'][:8]}")
    assert sorted(r["resource"] for r in reads) == ["estimate", "messages"]
    assert {r["role"] for r in reads} == {"manager"}
    assert disclosures(browser, finished, actor="Ann") == []  # the revoked one read nothing
    assert disclosures(browser, finished, to="2000-01-01") == []


def test_bad_input_an_unknown_campaign_and_an_empty_page_write_nothing(
    browser: TestClient, finished: str
) -> None:
    sam = bearer(token_of(browser, "Sam", "support")["token"])
    url = f"/api/campaigns/{finished}/messages"

    assert_error(browser.get(url, params={"page": 0}, headers=sam), 422, "validation_failed")
    assert_error(browser.get(url, params={"per_page": "x"}, headers=sam), 422, "validation_failed")
    unknown = "/api/campaigns/00000000-0000-4000-8000-000000000000/messages"
    assert_error(browser.get(unknown, headers=sam), 404, "not_found")
    assert browser.get(url, params={"page": 99}, headers=sam).json()["items"] == []

    assert disclosures(browser, finished) == []
    assert_error(
        browser.get(
            f"/api/campaigns/{finished}/disclosures",
            params={"from": "soon"},
            headers=ADMIN_HEADERS,
        ),
        422,
        "validation_failed",
    )


def test_a_read_that_cannot_be_written_down_is_not_answered(
    platform: Platform, finished: str
) -> None:
    app = create_app(platform)  # the platform is started already, by `finished`'s client
    with TestClient(app, raise_server_exceptions=False) as client:
        sam = bearer(token_of(client, "Sam", "support")["token"])

        def refuse(_disclosure: Any) -> None:
            raise RuntimeError("the read models' database is gone")

        app.state.disclosures.write = refuse
        answer = client.get(f"/api/campaigns/{finished}/messages", headers=sam)

    assert answer.status_code == 500
    assert FIRST_NUMBER not in answer.text


def test_campaigns_audit_lists_who_read_personal_data(
    browser: TestClient,
    finished: str,
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sam = bearer(token_of(browser, "Sam", "support")["token"])
    browser.get(f"/api/campaigns/{finished}/messages", headers=sam)
    browser.close()  # the command line opens the store itself
    options = point_at(store, monkeypatch)

    assert main(["audit", finished, *options]) == 0
    text = capsys.readouterr().out
    assert main(["audit", finished, "--disclosures", "--json", *options]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert main(["audit", finished, "--disclosures", "--actor", "nobody", *options]) == 0
    nobody = capsys.readouterr().out

    assert "personal data read (1, newest first):" in text
    assert "Sam (support) from testclient: message log page 1 (20 a page)" in text
    assert json.loads(line)["actor"] == "Sam" and json.loads(line)["campaign_id"] == finished
    assert nobody == ""
