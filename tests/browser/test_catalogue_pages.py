"""Journeys through the domains, pools and contact-list pages in real Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser import platform_data as data
from tests.browser.conftest import Server


def domain_row(page: Page, name: str) -> Locator:
    return page.locator(f'[id="domain-{name}"]')


def test_domains_are_added_several_at_once_and_change_status(server: Server, page: Page) -> None:
    page.goto(f"{server.url}/domains")
    page.locator("#domain-names").fill("a.example.com\nb.example.com, c.example.com")
    page.locator("#configure-added").uncheck()
    page.locator("#add-domains").click()
    expect(page.locator("#total")).to_have_text("3")
    expect(domain_row(page, "a.example.com")).to_contain_text("Pending")
    domain_row(page, "a.example.com").get_by_role("button", name="Configure").click()
    expect(domain_row(page, "a.example.com")).to_contain_text("Configured")
    domain_row(page, "b.example.com").get_by_role("button", name="Decline").click()
    expect(domain_row(page, "b.example.com")).to_contain_text("Declined")
    domain_row(page, "c.example.com").get_by_role("button", name="Block").click()
    expect(domain_row(page, "c.example.com")).to_contain_text("Blocked")
    domain_row(page, "c.example.com").get_by_role("button", name="Archive").click()
    expect(domain_row(page, "c.example.com")).to_contain_text("Archived")

    page.locator("#domain-limit").fill("250")
    page.locator("#save-limit").click()
    expect(domain_row(page, "a.example.com")).to_contain_text("0 / 250")
    page.locator("#domain-names").fill("not a domain")
    page.locator("#add-domains").click()
    expect(page.locator("#notice-text")).to_contain_text("not a valid domain name")


def test_a_pool_is_created_and_its_domains_added_and_removed(server: Server, page: Page) -> None:
    with server.api() as api:
        data.configured_domains(api, data.SHORT, data.OPTOUT)
    page.goto(f"{server.url}/pools")
    page.locator("#pool-name").fill("Main pool")
    page.locator("#pool-description").fill("Links for the spring campaigns")
    page.get_by_label(data.SHORT).check()
    page.locator("#create-pool").click()
    pool = page.locator(".pool").first
    expect(pool.locator(".pool-name")).to_have_text("Main pool")
    expect(pool.locator(".chips")).to_contain_text(data.SHORT)
    pool.locator(".add-choice").select_option(data.OPTOUT)
    pool.locator(".add-domain").click()
    pool = page.locator(".pool").first
    expect(pool.locator(".chips")).to_contain_text(data.OPTOUT)
    pool.get_by_role("button", name=f"Remove {data.SHORT}").click()
    pool = page.locator(".pool").first
    expect(pool.locator(".chips")).not_to_contain_text(data.SHORT)
    page.reload()
    chips = page.locator(".pool").first.locator(".chip")
    expect(chips).to_have_count(1)
    expect(chips).to_contain_text(data.OPTOUT)


def test_an_upload_reports_accepted_contacts_and_every_rejected_line(
    server: Server, page: Page, tmp_path: Path
) -> None:
    csv = tmp_path / "spring.csv"
    csv.write_text(
        "phone,first_name\n+491511234567,Ann\nnot a phone,Bob\n+491511234568,Cem\n"
        "+491511234567,Ann again\n"
    )
    page.goto(f"{server.url}/contact-lists")
    page.locator("#csv-file").set_input_files(str(csv))
    page.locator("#upload").click()
    expect(page.locator("#result-title")).to_have_text("Imported “spring.csv”")
    expect(page.locator("#result-summary")).to_contain_text("2 contacts accepted, 2 lines rejected")
    rejected = page.locator("#rejected-lines tbody tr")
    expect(rejected).to_have_count(2)
    expect(rejected.nth(0)).to_contain_text("3")
    expect(rejected.nth(1)).to_contain_text("5")
    expect(page.locator("#list-rows tr").first).to_contain_text("spring.csv")
    expect(page.locator("#total")).to_have_text("1")

    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nAnn,a@example.com\n")
    page.locator("#csv-file").set_input_files(str(bad))
    page.locator("#upload").click()
    expect(page.locator("#result-title")).to_have_text("Not imported")
    expect(page.locator("#notice")).to_be_visible()
