"""The Streams page in real Chromium: a stream added and changed through its forms, its
link watched as the table refreshes, its password never shown."""

from __future__ import annotations

import re
import socket

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Server

PASSWORD = "s3cret!"


def closed_port() -> int:
    """A port nothing listens on: the stream's link cannot bind, and says why."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stream_row(page: Page, name: str) -> Locator:
    return page.locator(f'[id="stream-{name}"]')


def test_a_stream_is_added_and_changed_and_its_link_watched_without_its_password(
    server: Server, page: Page
) -> None:
    page.goto(f"{server.url}/streams")
    expect(stream_row(page, "demo")).to_contain_text("simulated")

    page.locator("#add-name").fill("smsc")
    page.locator("#add-carrier").select_option("smpp")
    page.locator("#add-smpp-host").fill("127.0.0.1")
    page.locator("#add-smpp-port").fill(str(closed_port()))
    page.locator("#add-smpp-system_id").fill("shop")
    page.locator("#add-smpp-password").fill(PASSWORD)
    page.locator("#add-smpp-window").fill("0")
    page.locator("#add-stream").click()
    expect(page.locator("#add-stream-problems")).to_contain_text("window must be")

    page.locator("#add-smpp-window").fill("20")
    page.locator("#add-stream").click()
    row = stream_row(page, "smsc")
    expect(row).to_contain_text("SMPP")
    expect(row).to_contain_text("/ 20")
    expect(page.locator("#add-stream-problems")).to_be_hidden()
    expect(page.locator("#add-smpp-password")).to_have_value("")
    # The sending process cannot bind: the refreshed table says so, with the reason.
    expect(row.locator(".lstate")).to_have_text(
        re.compile("connecting|reconnecting"), timeout=15_000
    )
    expect(row.locator(".link-error")).not_to_be_empty(timeout=15_000)

    with server.api() as api:
        assert api.patch("/api/streams/smsc", json={"enabled": False}).status_code == 200
    expect(row.locator(".lstate")).to_have_text("disabled")  # by the 2 s refresh

    row.get_by_role("button", name="Edit").click()
    expect(page.locator("#edit-smpp-host")).to_have_value("127.0.0.1")
    expect(page.locator("#edit-smpp-window")).to_have_value("20")
    expect(page.locator("#edit-smpp-password")).to_have_value("")
    expect(page.locator("#edit-smpp-password")).to_have_attribute("placeholder", re.compile("set"))
    page.locator("#edit-rate").fill("25")
    page.locator("#edit-enabled").check()
    page.locator("#edit-smpp-source_ton").fill("9")
    page.locator("#save-stream").click()
    expect(page.locator("#edit-stream-problems")).to_contain_text("source_ton must be")

    page.locator("#edit-smpp-source_ton").fill("1")
    page.locator("#save-stream").click()
    expect(row.locator("td").nth(2)).to_have_text("25")
    expect(row).to_contain_text("Yes")
    with server.api() as api:
        smsc = next(s for s in api.get("/api/streams").json()["items"] if s["name"] == "smsc")
        events = api.get("/api/events").text
    assert smsc["settings"]["source_ton"] == 1 and smsc["secrets"] == ["password"]
    assert PASSWORD not in page.content() and PASSWORD not in events
