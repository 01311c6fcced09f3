"""Signing in and out in the browser: the form, the nav that names who is signed in, and a
role that may only look."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Server


@pytest.fixture
def signed_out(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def token_for(server: Server, role: str, name: str) -> str:
    with server.api() as api:
        answer = api.post("/api/tokens", json={"name": name, "role": role})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])


def test_signing_in_with_the_form_comes_back_to_the_page_and_signing_out_leaves(
    server: Server, signed_out: Page
) -> None:
    page = signed_out
    secret = token_for(server, "manager", "Mia Manager")
    page.goto(f"{server.url}/domains")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fdomains$"))
    page.locator("#token").fill("cmp_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text("Unknown token.")

    page.locator("#token").fill(secret)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{server.url}/domains")
    expect(page.locator("#signed-in-as")).to_contain_text("Mia Manager")
    page.locator("#domain-names").fill("signed.example.com")
    page.locator("#add-domains").click()
    expect(page.locator("#domain-rows")).to_contain_text("signed.example.com")
    page.locator("#sign-out").click()
    expect(page).to_have_url(f"{server.url}/sign-in")
    page.goto(f"{server.url}/campaigns")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def test_a_viewer_sees_the_refusal_when_trying_to_change_something(
    server: Server, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    try:
        server.sign_in(context, token_for(server, "viewer", "Vic Viewer"))
        page = context.new_page()
        page.goto(f"{server.url}/domains")
        expect(page.locator("#add-domains-form")).to_have_count(0)  # not offered
        # A command reached anyway (a stale page, a hand-made call) is refused, and said so.
        page.evaluate(
            "Api.post('/api/domains', { names: ['nope.example.com'] })"
            ".catch((error) => Notice.problem(error))"
        )

        expect(page.locator("#notice-text")).to_contain_text("viewer role may not")
    finally:
        context.close()
