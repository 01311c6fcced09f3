"""Saves the dashboard's screenshots in docs/screenshots/: the list, the side panel, the
wizard and the Realtime wall, over sample data set up through the API.

    .venv/bin/python -m tests.browser.screenshots
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser import platform_data as data
from tests.browser.conftest import CHROMIUM_FLAGS, Server, chromium_path

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VARIANTS = [
    {"text": data.TEXT, "weight": 3},
    {"text": "Spring sale now on: {short_url} Stop: {optout_url}", "weight": 1},
]


def sample_data(api: httpx.Client) -> dict[str, str]:
    """A suspended, a finished, a paused, a sending campaign and a draft."""
    data.configured_domains(api, data.SHORT, data.OPTOUT, "s1.example.net", "s2.example.net")
    pool_id = data.pool(api, "Spring links", [data.SHORT], "Short links for the spring season")
    customers = data.contact_list(api, 120, name="Spring customers")
    small = data.contact_list(api, 12, name="VIP")
    data.demo_stream(api, rate=0)

    data.ok(api.put("/api/settings/domain-limit", json={"limit": 4}))
    links = {
        "short": {"target": data.TARGET, "domains": ["s1.example.net"]},
        "optout": {"domains": ["s2.example.net"]},
    }
    limited = data.campaign(api, [small], name="VIP preview", tags=["vip"], links=links)
    data.launched(api, limited["id"], "Suspended")
    data.ok(api.put("/api/settings/domain-limit", json={"limit": 10_000}))

    data.demo_stream(api, rate=0, click_rate=0.3, outcomes={"delivered": 0.9, "failed": 0.1})
    indicators = {"red_below": 1.5, "green_from": 4.0}
    finished = data.campaign(
        api,
        [customers],
        name="Spring sale",
        tags=["spring", "sale"],
        variants=VARIANTS,
        ctr_indicators=indicators,
        links={**links, "short": {"target": data.TARGET, "pool": pool_id}},
    )
    data.launched(api, finished["id"], "Finished")

    data.demo_stream(api, rate=1)
    paused = data.campaign(
        api,
        [customers],
        name="Easter weekend",
        tags=["easter"],
        type="two_way",
        sender="+15550100",
        ctr_indicators=indicators,
    )
    data.launched(api, paused["id"], "Started", "Sending")
    data.ok(api.post(f"/api/campaigns/{paused['id']}/pause"))
    sending = data.campaign(
        api, [customers], name="Order updates", type="transactional", sender="Orders"
    )
    data.launched(api, sending["id"], "Started", "Sending")
    draft = data.ok(
        api.post(
            "/api/campaigns",
            json={
                "name": "Summer teaser",
                "tags": ["summer"],
                "sender": "Shop",
                "contact_lists": [customers],
                "variants": VARIANTS,
                "links": {
                    "short": {"target": data.TARGET, "pool": pool_id},
                    "optout": {"domains": [data.OPTOUT]},
                },
            },
        )
    )
    return {"finished": finished["id"], "draft": draft["id"], "sending": sending["id"]}


def shoot(page: Page, server: Server, ids: dict[str, str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.goto(f"{server.url}/campaigns")
    page.locator(".status-suspended").hover()
    page.screenshot(path=OUT / "campaigns-list.png")

    page.goto(f"{server.url}/campaigns?open={ids['finished']}")
    page.locator("#tab-button-stats").click()
    expect(page.locator("svg.line-chart")).to_be_visible()
    page.screenshot(path=OUT / "side-panel-stats.png")
    page.goto(f"{server.url}/campaigns?open={ids['sending']}")
    expect(page.locator("#details-form")).to_be_visible()
    page.screenshot(path=OUT / "side-panel-details.png")

    page.goto(f"{server.url}/campaigns/{ids['draft']}/wizard?step=3")
    expect(page.locator(".variant")).to_have_count(2)
    page.screenshot(path=OUT / "wizard-message.png", full_page=True)
    page.goto(f"{server.url}/campaigns/{ids['draft']}/wizard?step=5")
    expect(page.locator("#summary-facts")).to_be_visible()
    page.screenshot(path=OUT / "wizard-summary.png", full_page=True)

    page.goto(f"{server.url}/realtime")
    expect(page.locator(f"#campaign-{ids['sending']}")).to_be_visible()
    page.wait_for_timeout(6000)  # a few updates: the sparklines draw the recent sends
    page.screenshot(path=OUT / "realtime-wall.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "data")
        server.start()
        try:
            with server.api() as api:
                ids = sample_data(api)
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_FLAGS
                )
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                server.sign_in(context)
                shoot(context.new_page(), server, ids)
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
