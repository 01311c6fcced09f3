"""Journeys through the create wizard in real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server


def test_a_campaign_created_step_by_step_launches_and_opens_in_the_list(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        pool_id = data.pool(api, "Main pool", [data.SHORT])
        data.contact_list(api, 5, name="Spring customers")
        data.demo_stream(api, rate=0)
    page.goto(f"{server.url}/campaigns")
    page.locator("#new-campaign").click()
    expect(page).to_have_url(f"{server.url}/campaigns/new")

    page.locator("#name").fill("Spring launch")
    page.locator("#tags").fill("spring, vip")
    page.locator("input[name=type][value=two_way]").check()
    page.locator("#sender").fill("+15550100")  # two-way needs a numeric sender
    page.locator("#wizard-next").click()
    expect(page.locator("#step-2")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/campaigns/[0-9a-f-]+/wizard\?step=2"))
    campaign_id = page.url.split("/campaigns/")[1].split("/")[0]

    page.get_by_label("Spring customers").check()
    expect(page.locator("#chosen-contacts")).to_contain_text("1 list chosen: 5 contacts")
    page.locator("#wizard-next").click()
    expect(page.locator("#step-3")).to_be_visible()
    first = page.locator(".variant").nth(0)
    first.locator("textarea").fill("Hi ")
    first.get_by_role("button", name="{first_name}").click()
    first.locator("textarea").press("End")
    first.locator("textarea").type(", 20% off: {short_url} Stop: {optout_url}")
    expect(first.locator(".counter")).to_contain_text("GSM-7 · 1 SMS part")
    page.locator("#add-variant").click()
    second = page.locator(".variant").nth(1)
    second.locator("textarea").fill("Привет! Скидка 20%: {short_url} Стоп: {optout_url}")
    second.locator(".weight-input").fill("3")
    expect(second.locator(".counter")).to_contain_text("UCS-2 · 2 SMS parts · 75% of recipients")
    page.locator("#add-variant").click()
    page.locator(".variant").nth(2).get_by_role("button", name="Remove").click()
    expect(page.locator(".variant")).to_have_count(2)
    expect(page.locator("#live-estimate")).to_contain_text("5 contacts")
    page.locator("#short-target").fill(data.TARGET)
    page.locator("#short-pool").select_option(pool_id)
    page.locator("#optout-link").get_by_label(data.OPTOUT).check()
    page.locator("#wizard-next").click()

    expect(page.locator("#step-4")).to_be_visible()
    page.locator("#wizard-schedule-on").check()
    for day in ("sat", "sun"):  # Monday to Friday ticked already: every day, as today is one
        page.locator(f"#wizard-day-{day}").check()
    page.locator("#wizard-schedule-from").fill("00:00")
    page.locator("#wizard-schedule-to").fill("23:59")
    page.locator("#wizard-next").click()

    expect(page.locator("#step-5")).to_be_visible()
    expect(page.locator("#summary-recipients")).to_contain_text("5 after removing")
    expect(page.locator("#summary-missing")).to_have_text("none")
    expect(page.locator("#summary-variants")).to_contain_text("Hi Person")
    page.locator("#launch").click()

    expect(page).to_have_url(f"{server.url}/campaigns?open={campaign_id}")
    expect(page.locator("#panel-title")).to_have_text("Spring launch")
    the_row = page.locator(f"#campaign-{campaign_id}")
    expect(the_row.locator(".status")).to_have_text("Finished", timeout=20_000)
    with server.api() as api:
        saved = data.ok(api.get(f"/api/campaigns/{campaign_id}"))
    assert saved["type"] == "two_way" and saved["tags"] == ["spring", "vip"]
    assert [v["weight"] for v in saved["variants"]] == [1, 3]
    assert saved["links"]["short"]["pool"] == pool_id
    assert saved["links"]["optout"]["domains"] == [data.OPTOUT]
    assert saved["sending_schedule"]["from"] == "00:00"


def test_leaving_early_leaves_a_draft_and_launch_lists_the_missing_steps(
    server: Server, page: Page
) -> None:
    page.goto(f"{server.url}/campaigns/new")
    page.locator("#name").fill("Half done")
    page.locator("#wizard-next").click()
    expect(page.locator("#step-2")).to_be_visible()
    expect(page.locator("#launch")).to_be_hidden()
    page.locator("#leave-wizard").click()
    the_row = page.locator("#campaign-rows tr").first
    expect(the_row.locator(".status")).to_have_text("Draft")
    the_row.get_by_role("link", name="Continue").click()
    expect(page.locator("#name")).to_have_value("Half done")
    page.locator("#step-button-5").click()
    expect(page.locator("#summary-missing")).to_contain_text("sender ID")
    page.locator("#launch").click()
    problems = page.locator("#launch-problems")
    expect(problems).to_contain_text("Not launched")
    expect(problems).to_contain_text("recipients: at least one contact list")
    expect(problems).to_contain_text("message: at least one variant")


def test_an_invalid_step_is_refused_with_the_field_named(server: Server, page: Page) -> None:
    page.goto(f"{server.url}/campaigns/new")
    page.locator("#name").fill("Bad sender")
    page.locator("#sender").fill("not a valid sender id!")
    page.locator("#wizard-next").click()
    expect(page.locator("#notice-text")).to_contain_text("sender")
    expect(page.locator("#step-1")).to_be_visible()


def test_the_pages_sms_counter_agrees_with_the_server_on_encoding_and_parts(
    server: Server, page: Page
) -> None:
    from domain.sms import segments

    texts = [
        "",
        "a" * 160,
        "a" * 161,
        "€" * 80,  # extension characters take two septets
        "€" * 81,
        "ü" * 160,  # in the GSM-7 basic table
        "ş" * 70,  # outside GSM-7: the whole text goes as UCS-2
        "ş" * 71,
        "😀" * 35,  # beyond the BMP: two UCS-2 units each
        "😀" * 36,
        "Line\nbreak [brackets] {braces} ~tilde~ |pipe| \\ ^",
    ]
    page.goto(f"{server.url}/campaigns/new")
    for text in texts:
        counted = page.evaluate("text => smsSegments(text)", text)
        expected = segments(text)
        assert (counted["encoding"], counted["units"], counted["parts"]) == (
            expected.encoding,
            expected.units,
            expected.parts,
        ), text
