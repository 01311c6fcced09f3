"""Journeys through a campaign's side panel in real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server


def test_a_suspension_is_explained_on_hover_and_a_domain_added_in_the_panel_lets_it_resume(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.ok(api.put("/api/settings/domain-limit", json={"limit": 3}))
        data.demo_stream(api, rate=0)
        campaign = data.campaign(api, [data.contact_list(api, 5)], name="Limited")
        data.launched(api, campaign["id"], "Suspended")
    page.goto(f"{server.url}/campaigns")
    the_row = page.locator(f"#campaign-{campaign['id']}")
    status = the_row.locator(".status")
    expect(status).to_have_attribute("title", re.compile("messaging limit of 3"))
    tooltip = status.locator(".tooltip")
    expect(tooltip).to_be_hidden()
    status.hover()
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(data.SHORT)

    the_row.locator(".campaign-name").click()
    expect(page).to_have_url(re.compile(r"open=" + campaign["id"]))
    page.locator("#tab-button-domains").click()
    expect(page.locator("#suspension")).to_contain_text("messaging limit of 3")
    expect(page.locator(f'[id="panel-domain-{data.SHORT}"]')).to_contain_text("Reached Limit")
    page.locator("#panel-resume").click()  # refused while no domain is usable
    expect(page.locator("#notice-text")).to_contain_text("cannot resume yet")

    page.locator("#quick-domain").fill("more.example.net")
    page.locator("#quick-add").click()
    expect(page.locator("#notice-text")).to_contain_text("Resume is now possible")
    expect(page.locator("#tab-domains")).to_contain_text("more.example.net")
    page.locator("#panel-resume").click()
    expect(the_row.locator(".status")).to_have_text(re.compile("Started|Sending|Finished"))
    expect(the_row.locator(".status")).to_have_text("Finished", timeout=20_000)


def test_a_version_clash_in_the_details_form_is_explained_and_keeps_the_input(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        draft = data.ok(api.post("/api/campaigns", json={"name": "Winter", "tags": ["cold"]}))
    page.goto(f"{server.url}/campaigns?open={draft['id']}")
    expect(page.locator("#panel-title")).to_have_text("Winter")
    page.locator("#detail-name").fill("Winter, by me")
    page.locator("#detail-tags").fill("cold, snow")
    with server.api() as api:  # someone else saves first
        data.ok(api.patch(f"/api/campaigns/{draft['id']}", json={"description": "theirs"}))
    page.locator("#details-save").click()
    conflict = page.locator("#details-conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("changed while you were editing")
    expect(conflict).to_contain_text("version 1")
    expect(page.locator("#detail-name")).to_have_value("Winter, by me")
    expect(page.locator("#detail-tags")).to_have_value("cold, snow")

    page.locator("#conflict-overwrite").click()
    expect(page.locator("#details-saved")).to_contain_text("Saved")
    expect(page.locator(f"#campaign-{draft['id']} .campaign-name")).to_have_text("Winter, by me")
    with server.api() as api:
        saved = data.ok(api.get(f"/api/campaigns/{draft['id']}"))
    assert saved["name"] == "Winter, by me" and saved["tags"] == ["cold", "snow"]
    assert saved["description"] == "theirs"


def test_the_ratio_and_settings_stay_editable_while_sending(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=2)
        variants = [{"text": data.TEXT, "weight": 1}, {"text": "B {short_url} {optout_url}"}]
        campaign = data.campaign(api, [data.contact_list(api, 200)], variants=variants)
        data.launched(api, campaign["id"], "Started", "Sending")
    page.goto(f"{server.url}/campaigns/{campaign['id']}")
    expect(page).to_have_url(re.compile(r"/campaigns\?open="))
    expect(page.locator("#detail-weight-0")).to_have_value("1")
    page.locator("#detail-weight-0").fill("3")
    page.locator("#detail-add-rule").click()
    page.locator("#detail-red-below").fill("1.5")
    page.locator("#detail-green-from").fill("4")
    page.locator("#details-save").click()
    expect(page.locator("#details-saved")).to_contain_text("Saved")
    with server.api() as api:
        saved = data.ok(api.get(f"/api/campaigns/{campaign['id']}"))
    assert [v["weight"] for v in saved["variants"]] == [3, 1]
    assert saved["ctr_indicators"] == {"red_below": 1.5, "green_from": 4.0}
    assert saved["pause_rules"] == [{"metric": "ctr", "below": 1, "after": 500}]


def test_the_stats_tab_draws_its_charts(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=0)
        campaign = data.campaign(api, [data.contact_list(api, 20)])
        data.launched(api, campaign["id"], "Finished")
    page.goto(f"{server.url}/campaigns?open={campaign['id']}")
    page.locator("#tab-button-stats").click()
    expect(page.locator("[data-figure=sent] .figure-value")).to_have_text("20")
    expect(page.locator("[data-figure=cancelled] .figure-value")).to_have_text("0")
    expect(page.locator("svg.line-chart")).to_be_visible()
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    page.locator("#stats-as-of").fill("2000-01-01T00:00")  # time travel to before it existed
    page.locator("#stats-as-of").press("Enter")
    expect(page.locator("#tab-stats .error")).to_contain_text("did not exist at that time")
