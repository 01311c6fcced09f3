"""Journeys through the campaigns list in real Chromium."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Server


def test_a_name_full_of_markup_and_script_is_shown_as_text(server: Server, page: Page) -> None:
    name = '<script>window.owned = 1</script><b>bold</b> & "quotes" \'single\''
    with server.api() as api:
        assert api.post("/api/campaigns", json={"name": name}).status_code == 201
    page.goto(f"{server.url}/campaigns")
    expect(page.locator("table.campaigns tbody tr").first).to_contain_text(name)
    assert page.evaluate("window.owned") is None
    assert page.locator("table.campaigns b").count() == 0
