"""Journeys through a campaign's audit page (F13) and time travel page (F14) in real
Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server

MARKUP = "<b>Bold</b> sale"


def test_the_audit_page_from_the_history_tab_filters_and_exports_what_it_shows(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.ok(api.put("/api/settings/domain-limit", json={"limit": 3}))
        data.demo_stream(api, rate=0)
        campaign = data.campaign(api, [data.contact_list(api, 5)], name=MARKUP)
        data.launched(api, campaign["id"], "Suspended")
    page.goto(f"{server.url}/campaigns?open={campaign['id']}")
    page.locator("#tab-button-history").click()
    page.locator("#history-audit").click()

    expect(page).to_have_url(re.compile(f"/campaigns/{campaign['id']}/audit"))
    expect(page.locator("#audit-title")).to_have_text(f"Audit: {MARKUP}")  # shown, not run
    expect(page.locator("#audit-rows .audit-row").first).to_contain_text("Created")
    page.locator("#audit-type").select_option("Suspended")
    page.locator("#audit-actor").fill("system")
    page.locator("#audit-filter").click()

    rows = page.locator("#audit-rows .audit-row")
    expect(rows).to_have_count(1)
    expect(rows.locator(".audit-status")).to_contain_text("Sending → Suspended")
    expect(rows.locator(".audit-details")).to_contain_text(
        f"domains at the messaging limit of 3: Short URL: {data.SHORT} (Reached Limit, 3/3)"
    )
    link = page.locator("#audit-csv")
    href = link.get_attribute("href") or ""
    assert "type=Suspended" in href and "actor=system" in href and "format=csv" in href
    exported = page.request.get(server.url + href)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text().strip().splitlines()
    assert lines[0].startswith("position,at,version,type,actor") and len(lines) == 2
    assert "Campaign.Suspended" in lines[1] and "Reached Limit" in lines[1]

    page.locator("#audit-clear").click()
    expect(rows.first).to_contain_text("Created")
    assert rows.count() > 1


def test_moving_a_time_travel_slider_shows_that_version_and_highlights_what_changed(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        draft = data.ok(api.post("/api/campaigns", json={"name": "First name", "sender": "Shop"}))
        url = f"/api/campaigns/{draft['id']}"
        data.ok(api.patch(url, json={"description": "a description"}))
        data.ok(api.patch(url, json={"name": "Second name"}))
    page.goto(f"{server.url}/campaigns/{draft['id']}/at")

    name_row, sender_row = page.locator("#settings-name"), page.locator("#settings-sender")
    expect(page.locator("#slider-b")).to_have_value("3")
    expect(name_row).to_have_class(re.compile("changed"))  # version 1 against version 3
    expect(name_row.locator(".value-b")).to_have_text("Second name")
    expect(sender_row).not_to_have_class(re.compile("changed"))

    slider = page.locator("#slider-b")
    slider.focus()
    page.keyboard.press("ArrowLeft")  # to version 2: the name is still the first one
    expect(page).to_have_url(re.compile(r"b=2"))
    expect(page.locator("#label-b")).to_contain_text("version 2")
    expect(page.locator("#settings-name .value-b")).to_have_text("First name")
    expect(page.locator("#settings-name")).not_to_have_class(re.compile("changed"))
    expect(page.locator("#settings-description")).to_have_class(re.compile("changed"))

    page.locator("#slider-b").focus()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(r"b=3"))
    expect(page.locator("#settings-name")).to_have_class(re.compile("changed"))
