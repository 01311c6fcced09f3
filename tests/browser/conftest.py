"""Fixtures for the browser journeys: the platform served by `campaigns serve` in its own
process, and Debian's Chromium driven by Playwright.

Chromium is found at `$CAMPAIGNS_TEST_CHROMIUM` or `/usr/bin/chromium` (`./infra/test`
installs it when missing). Without it the journeys fail; they are never skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CAMPAIGNS_TEST_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}; run the tests with ./infra/test, which installs "
            "Debian's chromium, or set CAMPAIGNS_TEST_CHROMIUM. Browser journeys are never "
            "skipped.",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`campaigns serve` (or `demo`) on the embedded default, in a child process that a test
    may stop and start again on the same port and data."""

    def __init__(self, data_dir: Path, *, demo: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = "demo" if demo else "serve"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "CAMPAIGNS_DATABASE_URL": "",
            "CAMPAIGNS_KAFKA": "",
            "CAMPAIGNS_BOOTSTRAP_TOKEN": ADMIN_TOKEN,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    self.command,
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, headers=ADMIN_HEADERS)

    def sign_in(self, context: BrowserContext, token: str = ADMIN_TOKEN) -> None:
        """Signs the browser in as a person does (the form), without typing: the session
        and CSRF cookies go into the browser, so its pages, their API calls and the wall's
        WebSocket all go the cookie's way."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            client.get("/sign-in")
            csrf = client.cookies["campaigns_csrf"]
            answer = client.post("/sign-in", data={"token": token, "csrf_token": csrf})
            assert answer.status_code == 303, answer.text
            context.add_cookies(
                [
                    {"name": name, "value": value, "url": self.url}
                    for name, value in client.cookies.items()
                ]
            )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data")
    running.start()
    try:
        yield running
    finally:
        running.stop()


# Package scope, not session: while Playwright's sync driver is open, its event loop counts
# as running in this thread, and the tests after the journeys could not start their own.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A page of a browser signed in to the server as its admin."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    server.sign_in(context)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()
