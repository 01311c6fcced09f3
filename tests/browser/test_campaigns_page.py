"""Journeys through the campaigns list and its side panel in real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server

MARKUP = "<script>window.owned = 1</script><b>bold</b> & \"quotes\" 'single'"


def row(page: Page, campaign_id: str) -> Locator:
    return page.locator(f"#campaign-{campaign_id}")


def test_a_name_full_of_markup_and_script_is_shown_as_text(server: Server, page: Page) -> None:
    with server.api() as api:
        assert api.post("/api/campaigns", json={"name": MARKUP}).status_code == 201
    page.goto(f"{server.url}/campaigns")
    expect(page.locator("table.campaigns tbody tr").first).to_contain_text(MARKUP)
    assert page.evaluate("window.owned") is None
    assert page.locator("table.campaigns b").count() == 0


def test_markup_in_every_free_text_stays_text_on_every_page(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.pool(api, MARKUP, [data.SHORT], description=MARKUP)
        lists = [data.contact_list(api, 3, name=MARKUP)]
        draft = data.campaign(api, lists, name=MARKUP, description=MARKUP, tags=["<i>tag</i>"])
    page.goto(f"{server.url}/campaigns")
    expect(row(page, draft["id"])).to_contain_text("<i>tag</i>")
    row(page, draft["id"]).locator(".campaign-name").click()
    expect(page.locator("#panel-title")).to_have_text(MARKUP)
    expect(page.locator("#detail-description")).to_have_value(MARKUP)
    page.locator("#tab-button-history").click()
    expect(page.locator("#history")).to_contain_text("Created")
    page.goto(f"{server.url}/campaigns/{draft['id']}/wizard")
    expect(page.locator("#wizard-title")).to_contain_text(MARKUP)
    expect(page.locator("#list-choices")).to_contain_text(MARKUP)
    page.locator("#step-button-5").click()
    expect(page.locator("#summary-facts")).to_contain_text(MARKUP)
    page.goto(f"{server.url}/pools")
    expect(page.locator(".pool-name").first).to_have_text(MARKUP)
    expect(page.locator(".pool-description").first).to_have_text(MARKUP)
    page.goto(f"{server.url}/contact-lists")
    expect(page.locator(".list-name").first).to_have_text(MARKUP)
    assert page.evaluate("window.owned") is None
    audit, moments = f"/campaigns/{draft['id']}/audit", f"/campaigns/{draft['id']}/at"
    page.goto(server.url + audit)
    expect(page.locator("main")).to_contain_text(MARKUP)
    page.goto(server.url + moments)
    expect(page.locator("main")).to_contain_text(MARKUP)
    page.goto(f"{server.url}/realtime?status=Draft")
    expect(page.locator(f"#campaign-{draft['id']} .card-name")).to_have_text(MARKUP)
    for path in ("/campaigns", "/pools", "/contact-lists", audit, moments, "/realtime"):
        page.goto(server.url + path)
        assert page.locator("main b, main i").count() == 0
        assert page.evaluate("window.owned") is None


def test_pausing_and_resuming_from_the_list_updates_the_row_in_place(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=2)  # slow enough to stay sending through the journey
        sending = data.campaign(api, [data.contact_list(api, 200)])
        data.launched(api, sending["id"], "Started", "Sending")
    page.goto(f"{server.url}/campaigns")
    the_row = row(page, sending["id"])
    the_row.get_by_role("button", name="Pause").click()
    expect(the_row.locator(".status")).to_have_text("Paused")
    expect(the_row.get_by_role("button", name="Resume")).to_be_visible()
    assert page.url == f"{server.url}/campaigns"  # no reload: the row was replaced in place
    the_row.get_by_role("button", name="Resume").click()
    expect(the_row.locator(".status")).to_have_text(re.compile("Started|Sending"))
    expect(the_row.get_by_role("button", name="Pause")).to_be_visible()


def test_an_api_refusal_is_shown_in_a_visible_message(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=2)
        sending = data.campaign(api, [data.contact_list(api, 200)])
        data.launched(api, sending["id"], "Started", "Sending")
    page.goto(f"{server.url}/campaigns")
    with server.api() as api:  # someone else pauses it meanwhile
        data.ok(api.post(f"/api/campaigns/{sending['id']}/pause"))
    row(page, sending["id"]).get_by_role("button", name="Pause").click()
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice-text")).to_contain_text("cannot pause a campaign that is Paused")


def test_duplicate_adds_a_draft_on_top_and_abort_asks_first(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=2)
        sending = data.campaign(api, [data.contact_list(api, 200)], name="Autumn")
        data.launched(api, sending["id"], "Started", "Sending")
    page.goto(f"{server.url}/campaigns")
    the_row = row(page, sending["id"])
    the_row.locator(".row-menu summary").click()
    the_row.get_by_role("button", name="Duplicate").click()
    first = page.locator("#campaign-rows tr").first
    expect(first.locator(".status")).to_have_text("Draft")
    expect(first.locator(".campaign-name")).to_contain_text("Autumn")
    expect(page.locator("#total")).to_have_text("2")

    the_row.locator(".row-menu summary").click()
    the_row.get_by_role("button", name="Abort").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.locator("#confirm-cancel").click()
    expect(the_row.locator(".status")).to_have_text(re.compile("Started|Sending"))
    the_row.locator(".row-menu summary").click()
    the_row.get_by_role("button", name="Abort").click()
    page.locator("#confirm-ok").click()
    expect(the_row.locator(".status")).to_have_text("Aborted")
    expect(the_row.get_by_role("button", name="Abort")).to_have_count(0)


def test_filters_apply_on_search_and_clear_resets_them(server: Server, page: Page) -> None:
    with server.api() as api:
        for name, tags in (("Spring sale", ["spring"]), ("Summer sale", ["summer"]), ("News", [])):
            data.ok(api.post("/api/campaigns", json={"name": name, "tags": tags}))
    page.goto(f"{server.url}/campaigns")
    expect(page.locator("#total")).to_have_text("3")
    page.locator("input[name=name]").fill("sale")
    page.locator("input[name=tag]").fill("summer")
    page.locator("#search").click()
    expect(page.locator("#total")).to_have_text("1")
    expect(page.locator("#campaign-rows")).to_contain_text("Summer sale")
    page.locator(".status-filter summary").click()
    page.locator("input[name=status][value=Paused]").check()
    page.locator("#search").click()
    expect(page.locator("#total")).to_have_text("0")
    page.locator("#clear").click()
    expect(page.locator("#total")).to_have_text("3")


def test_the_pages_link_bottom_right_moves_through_the_list(server: Server, page: Page) -> None:
    with server.api() as api:
        for number in range(23):
            data.ok(api.post("/api/campaigns", json={"name": f"Campaign {number:02d}"}))
    page.goto(f"{server.url}/campaigns")
    expect(page.locator("#campaign-rows tr")).to_have_count(20)
    expect(page.locator("#campaign-rows tr").first).to_contain_text("Campaign 22")
    page.get_by_role("link", name="Next").click()
    expect(page.locator(".pagination")).to_contain_text("Page 2 of 2")
    expect(page.locator("#campaign-rows tr")).to_have_count(3)
    expect(page.locator("#campaign-rows tr").last).to_contain_text("Campaign 00")


def test_a_scheduled_campaign_is_unscheduled_from_its_menu_and_the_history_shows_it(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        later = data.campaign(
            api, [data.contact_list(api, 3)], name="Later", start_at="2099-01-01T09:00:00Z"
        )
        data.launched(api, later["id"], "Scheduled")
    page.goto(f"{server.url}/campaigns")
    the_row = row(page, later["id"])
    the_row.locator(".row-menu summary").click()
    the_row.get_by_role("button", name="Unschedule").click()
    expect(the_row.locator(".status")).to_have_text("Draft")
    expect(the_row.get_by_role("link", name="Continue")).to_be_visible()

    the_row.locator(".campaign-name").click()
    page.locator("#tab-button-history").click()
    expect(page.locator("#history tbody tr")).to_have_count(
        4
    )  # created, launched, scheduled, unscheduled
    page.locator("#history-type").fill("Unscheduled")
    page.locator("#history-type").press("Enter")
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page.locator("#history tbody tr")).to_contain_text("Scheduled → Draft")


def test_no_page_breaks_the_content_security_policy(server: Server, page: Page) -> None:
    """Finding 11: the pages run under a policy without inline scripts; nothing they do
    (charts, the wall's socket, the wizard) is refused by it."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.demo_stream(api, rate=10)  # still sending while every page is visited
        sending = data.campaign(api, [data.contact_list(api, 2000)])
        data.launched(api, sending["id"], "Started", "Sending")
    page.goto(f"{server.url}/campaigns")
    row(page, sending["id"]).locator(".campaign-name").click()
    page.locator("#tab-button-stats").click()
    expect(page.locator("#stats-figures")).to_be_visible()
    page.goto(f"{server.url}/realtime")
    expect(page.locator(f"#campaign-{sending['id']}")).to_be_visible()
    for path in ("/campaigns/new", "/streams", "/domains", f"/campaigns/{sending['id']}/at"):
        page.goto(server.url + path)
        expect(page.locator("main")).to_be_visible()
    assert [text for text in refused if "Content Security Policy" in text] == []
