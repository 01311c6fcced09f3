"""Journeys on the Realtime page (F12) in real Chromium: the wall updates live, shows names
as text, and marks itself disconnected when the server stops, healing when it returns."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Server
from tests.browser.platform_data import (
    OPTOUT,
    SHORT,
    TARGET,
    TEXT,
    campaign,
    configured_domains,
    contact_list,
    demo_stream,
    launched,
    ok,
)


def card(page: Page, campaign_id: str):  # type: ignore[no-untyped-def]
    return page.locator(f"#campaign-{campaign_id}")


def draft(api: httpx.Client, name: str, **fields: Any) -> str:
    return str(ok(api.post("/api/campaigns", json={"name": name, **fields}))["id"])


def sent_of(page: Page, campaign_id: str) -> int:
    text = card(page, campaign_id).locator(".progress-text").inner_text()
    return int(text.split(" of ")[0].replace(",", ""))


def test_the_wall_shows_a_launched_campaign_sending_live(server: Server, page: Page) -> None:
    with server.api() as api:
        configured_domains(api, SHORT, OPTOUT)
        demo_stream(api, rate=20)
        lists = [contact_list(api, 400)]
        page.goto(f"{server.url}/realtime")
        expect(page.locator("#connection")).to_have_text(re.compile("^Live"))
        expect(page.locator("#wall-empty")).to_be_visible()

        spring = campaign(api, lists, name="Spring sale", tags=["promo"])["id"]
        launched(api, spring, "Sending", "Started", "Finished")

        expect(card(page, spring).locator(".card-name")).to_have_text("Spring sale")
        expect(card(page, spring).locator(".status")).to_have_text(re.compile("Sending|Started"))
        first = sent_of(page, spring)
        # Later figures arrive without a reload: the count grows while the page stays.
        page.wait_for_function(
            f"""() => {{
                const text = document.querySelector('#campaign-{spring} .progress-text');
                const sent = text && text.textContent.split(' of ')[0].replace(/,/g, '');
                return Number(sent) > {first};
            }}"""
        )
        expect(page.locator("#total-campaigns")).to_have_text("1")
        expect(card(page, spring).locator(".domains")).to_contain_text(SHORT)

        ok(api.post(f"/api/campaigns/{spring}/pause", json={"reason": "lunch"}))
        expect(card(page, spring).locator(".status")).to_have_text("Paused")


def test_a_campaign_made_in_the_wizard_shows_up_on_an_open_wall_and_sends_live(
    server: Server, page: Page, browser: Browser
) -> None:
    with server.api() as api:
        configured_domains(api, SHORT, OPTOUT)
        demo_stream(api, rate=10)
        contact_list(api, 300, name="Wall watchers")
    wall_browser = browser.new_context(viewport={"width": 1400, "height": 900})
    server.sign_in(wall_browser)
    wall = wall_browser.new_page()
    try:
        wall.goto(f"{server.url}/realtime")
        expect(wall.locator("#connection")).to_have_text(re.compile("^Live"))
        wall.evaluate("window.sameDocument = true")  # gone if the wall were reloaded

        page.goto(f"{server.url}/campaigns/new")
        page.locator("#name").fill("Made in the wizard")
        page.locator("#sender").fill("Shop")
        page.locator("#wizard-next").click()
        page.get_by_label("Wall watchers").check()
        page.locator("#wizard-next").click()
        page.locator(".variant").nth(0).locator("textarea").fill(TEXT)
        page.locator("#short-target").fill(TARGET)
        page.locator("#short-link").get_by_label(SHORT).check()
        page.locator("#optout-link").get_by_label(OPTOUT).check()
        page.locator("#wizard-next").click()
        expect(page.locator("#step-4")).to_be_visible()
        page.locator("#wizard-next").click()
        expect(page.locator("#summary-missing")).to_have_text("none")
        campaign_id = page.url.split("/campaigns/")[1].split("/")[0]
        page.locator("#launch").click()

        the_card = card(wall, campaign_id)
        expect(the_card.locator(".card-name")).to_have_text("Made in the wizard")
        expect(the_card.locator(".status")).to_have_text("Sending", timeout=20_000)
        first = sent_of(wall, campaign_id)
        expect(the_card.locator(".progress-text")).not_to_have_text(
            re.compile(rf"^{first} of "), timeout=20_000
        )
        assert wall.evaluate("window.sameDocument") is True
    finally:
        wall_browser.close()


def test_filters_narrow_the_wall_and_names_stay_text(server: Server, page: Page) -> None:
    name = '<img src=x onerror="window.owned=1"><script>window.owned=2</script> & co'
    with server.api() as api:
        marked = draft(api, name, tags=["vip"])
        plain = draft(api, "Plain", tags=["other"])
    page.goto(f"{server.url}/realtime?status=Draft")
    expect(card(page, marked).locator(".card-name")).to_have_text(name)
    expect(card(page, plain)).to_be_visible()
    assert page.evaluate("window.owned") is None
    assert page.locator("#cards img, #cards script").count() == 0

    page.fill("input[name=tag]", "vip")
    page.click("#wall-filters button[type=submit]")
    expect(card(page, plain)).to_have_count(0)
    expect(card(page, marked)).to_be_visible()
    assert "tag=vip" in page.url


def test_the_wall_marks_itself_disconnected_and_heals_when_the_server_returns(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        first = draft(api, "Before the outage")
    page.goto(f"{server.url}/realtime?status=Draft")
    expect(card(page, first)).to_be_visible()
    expect(page.locator("#connection")).to_have_text(re.compile("^Live"))

    server.stop()
    expect(page.locator("#wall")).to_have_attribute("data-state", "disconnected")
    expect(page.locator("#connection")).to_contain_text("Disconnected")

    server.start()
    with server.api() as api:
        second = draft(api, "After the outage")
    expect(page.locator("#wall")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(card(page, second)).to_be_visible(timeout=20_000)
    expect(card(page, first)).to_be_visible()


def test_a_replay_of_a_time_range_plays_onto_the_wall_marked_as_a_replay(
    server: Server, page: Page
) -> None:
    with server.api() as api:
        before = datetime.now(UTC) - timedelta(seconds=2)
        first = draft(api, "Replayed draft")
        ok(api.patch(f"/api/campaigns/{first}", json={"name": "Renamed in the past"}))
    after = datetime.now(UTC) + timedelta(seconds=2)
    query = (
        f"replay_from={before:%Y-%m-%dT%H:%M:%S}&replay_to={after:%Y-%m-%dT%H:%M:%S}"
        "&speed=100000&status=Draft"
    )
    page.goto(f"{server.url}/realtime?{query}")
    expect(page.locator("#replay-banner")).to_be_visible()
    expect(page.locator("#wall")).to_have_attribute("data-mode", "replay")
    expect(card(page, first).locator(".card-name")).to_have_text("Renamed in the past")
    expect(page.locator("#connection")).to_contain_text("Replay finished")
    expect(page.locator("#wall")).to_have_attribute("data-state", "ended")
