"""What each role sees in real Chromium: the controls it may use and no others; a viewer
that follows a link to the wizard is told it is not for its role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server
from tests.browser.test_sign_in import token_for

RULE = {"metric": "ctr", "below": 1.5, "after": 300}
SCHEDULE = {"days": ["mon", "tue"], "from": "09:00", "to": "17:00", "time_zone": "UTC"}


@contextmanager
def signed_in(server: Server, browser: Browser, role: str, name: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    try:
        server.sign_in(context, token_for(server, role, name))
        yield context.new_page()
    finally:
        context.close()


def catalogue(server: Server) -> dict[str, Any]:
    """Domains, a pool, a list, a Draft with settings and a campaign sending slowly."""
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
        data.pool(api, "Main pool", [data.SHORT])
        lists = [data.contact_list(api, 200)]
        draft = data.campaign(
            api, lists, name="Draft sale", pause_rules=[RULE], sending_schedule=SCHEDULE
        )
        data.demo_stream(api, rate=2)  # slow enough to stay sending through the journey
        sending = data.campaign(api, lists, name="Sending sale")
        data.launched(api, sending["id"], "Started", "Sending")
    return {"draft": draft, "sending": sending}


def expect_no_commands_in_the_list(page: Page) -> None:
    expect(page.locator("#campaign-rows tr").first).to_be_visible()
    expect(page.locator("#new-campaign")).to_have_count(0)
    expect(page.locator("nav.menu").get_by_role("link", name="New campaign")).to_have_count(0)
    expect(page.locator("#campaigns th", has_text="Action")).to_have_count(0)
    expect(page.locator("#campaign-rows .col-action")).to_have_count(0)
    expect(page.locator("#campaign-rows [data-command], #campaign-rows .row-menu")).to_have_count(0)


def expect_read_only_details(page: Page) -> None:
    expect(page.locator("#details-read-only")).to_be_visible()
    expect(page.locator("#details-facts")).to_contain_text("Draft sale")
    expect(page.locator("#details-facts")).to_contain_text(
        "Mon, Tue, 09:00\u201317:00 UTC"
    )  # an en dash
    expect(page.locator("#details-facts")).to_contain_text("Suspend when CTR (%) is below 1.5")
    expect(page.locator("#details-save")).to_have_count(0)
    expect(page.locator("#details-form")).to_have_count(0)
    expect(page.locator("#tab-details input, #tab-details textarea")).to_have_count(0)
    expect(page.locator("#continue-wizard")).to_have_count(0)


def test_a_viewer_sees_everything_and_is_offered_no_command(
    server: Server, browser: Browser
) -> None:
    campaigns = catalogue(server)
    draft, sending = campaigns["draft"]["id"], campaigns["sending"]["id"]
    with signed_in(server, browser, "viewer", "Vic Viewer") as page:
        page.goto(f"{server.url}/campaigns")
        expect(page.locator("body")).to_have_attribute("data-may-manage", "false")
        expect_no_commands_in_the_list(page)
        # The sending row is redrawn by the script every few seconds: still no actions.
        sending_row = page.locator(f"#campaign-{sending}")
        sending_row.evaluate("row => { row.dataset.drawnBy = 'server'; }")
        expect(page.locator(f"#campaign-{sending}[data-drawn-by]")).to_have_count(0)
        expect(sending_row).to_be_visible()
        expect_no_commands_in_the_list(page)

        page.locator(f"#campaign-{draft} .campaign-name").click()
        expect(page.locator("#panel-title")).to_have_text("Draft sale")
        expect_read_only_details(page)
        expect(page.locator("#tab-button-history")).to_have_count(0)
        expect(page.locator("#tab-history")).to_have_count(0)
        page.locator("#tab-button-domains").click()
        expect(page.locator(f'[id="panel-domain-{data.SHORT}"]')).to_contain_text("Configured")
        expect(page.locator("#quick-add-form, #quick-add")).to_have_count(0)
        page.locator("#tab-button-stats").click()
        expect(page.locator("#stats-figures")).to_be_visible()

        page.goto(f"{server.url}/domains")
        expect(page.locator(f'[id="domain-{data.SHORT}"]')).to_contain_text("Configured")
        expect(page.locator("#limit-note")).to_contain_text("messages per domain")
        expect(page.locator("#add-domains-form, #limit-form")).to_have_count(0)
        expect(page.locator("#domain-rows button")).to_have_count(0)

        page.goto(f"{server.url}/pools")
        expect(page.locator(".pool .chips")).to_contain_text(data.SHORT)
        expect(page.locator("#create-pool-form")).to_have_count(0)
        expect(page.locator(".pool button, .pool select")).to_have_count(0)

        page.goto(f"{server.url}/contact-lists")
        expect(page.locator("#list-rows .list-name")).to_have_text("Customers")
        expect(page.locator("#upload-form, #csv-file")).to_have_count(0)


def test_a_viewer_following_a_link_to_the_wizard_is_told_it_is_not_for_its_role(
    server: Server, browser: Browser
) -> None:
    with server.api() as api:
        draft = data.ok(api.post("/api/campaigns", json={"name": "Draft sale"}))
    with signed_in(server, browser, "viewer", "Vic Viewer") as page:
        for path in ("/campaigns/new", f"/campaigns/{draft['id']}/wizard"):
            answer = page.goto(server.url + path)
            assert answer is not None and answer.status == 403
            expect(page.locator("h1")).to_have_text("Not for your role")
            expect(page.locator("#forbidden-message")).to_contain_text("the viewer role")
            expect(page.locator("#signed-in-as")).to_contain_text("Vic Viewer")
            expect(page.locator("#wizard-title")).to_have_count(0)
        page.get_by_role("link", name="Back to the campaigns").click()
        expect(page).to_have_url(f"{server.url}/campaigns")


def test_support_reads_the_history_but_is_offered_no_command(
    server: Server, browser: Browser
) -> None:
    campaigns = catalogue(server)
    draft = campaigns["draft"]["id"]
    with signed_in(server, browser, "support", "Sam Support") as page:
        page.goto(f"{server.url}/campaigns?open={draft}")
        expect(page.locator("#panel-title")).to_have_text("Draft sale")
        expect_no_commands_in_the_list(page)
        expect_read_only_details(page)
        page.locator("#tab-button-history").click()
        expect(page.locator("#history")).to_contain_text("Created")
        expect(page.locator("#history-audit")).to_be_visible()
        page.locator("#tab-button-domains").click()
        expect(page.locator(f'[id="panel-domain-{data.SHORT}"]')).to_be_visible()
        expect(page.locator("#quick-add-form")).to_have_count(0)

        page.goto(f"{server.url}/domains")
        expect(page.locator("#add-domains-form, #limit-form, #domain-rows button")).to_have_count(0)
        answer = page.goto(f"{server.url}/campaigns/new")
        assert answer is not None and answer.status == 403


def test_a_manager_is_offered_the_commands_and_uses_them(server: Server, browser: Browser) -> None:
    campaigns = catalogue(server)
    draft, sending = campaigns["draft"]["id"], campaigns["sending"]["id"]
    with signed_in(server, browser, "manager", "Mia Manager") as page:
        page.goto(f"{server.url}/campaigns")
        expect(page.locator("#new-campaign")).to_be_visible()
        the_row = page.locator(f"#campaign-{sending}")
        the_row.get_by_role("button", name="Pause").click()
        expect(the_row.locator(".status")).to_have_text("Paused")
        expect(the_row.get_by_role("button", name="Resume")).to_be_visible()

        page.locator(f"#campaign-{draft} .campaign-name").click()
        expect(page.locator("#details-save")).to_be_visible()
        expect(page.locator("#details-read-only")).to_have_count(0)
        page.locator("#detail-name").fill("Draft sale, renamed")
        page.locator("#details-save").click()
        expect(page.locator("#details-saved")).to_contain_text("Saved")
        page.locator("#tab-button-history").click()
        expect(page.locator("#history")).to_contain_text("Edited")
        page.locator("#tab-button-domains").click()
        expect(page.locator("#quick-add-form")).to_be_visible()

        page.goto(f"{server.url}/campaigns/new")
        expect(page).to_have_url(re.compile(r"/campaigns/new$"))
        expect(page.locator("#wizard-title")).to_be_visible()
        for path, control in (
            ("/domains", "#add-domains-form"),
            ("/pools", "#create-pool-form"),
            ("/contact-lists", "#upload-form"),
        ):
            page.goto(server.url + path)
            expect(page.locator(control)).to_be_visible()
