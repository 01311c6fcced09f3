"""Killing the platform's process with SIGKILL mid-campaign loses and repeats nothing.

A real `campaigns serve` process sends a rate-limited campaign on the demo stream; it is
killed with SIGKILL while sending, started again on the same store, and the campaign then
finishes with every recipient messaged exactly once, as the messages table and the demo
carrier's own record of what it took both show.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.bootstrap import build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS

RECIPIENTS = 1500
RATE = 300  # messages per second: the campaign takes about five seconds to send


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(store: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNS_")}
    env["CAMPAIGNS_DATA_DIR"] = str(store.data_dir)
    if store.postgres is not None:
        env["CAMPAIGNS_DATABASE_URL"] = store.postgres.url
        env["CAMPAIGNS_DATABASE_SCHEMA"] = store.postgres.schema
    if store.bootstrap_token:
        env["CAMPAIGNS_BOOTSTRAP_TOKEN"] = store.bootstrap_token
    return env


class Server:
    def __init__(self, store: Settings, port: int, log: Path) -> None:
        self.store, self.port, self.log = store, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port)],
                env=environment(self.store),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def server(store: Settings, tmp_path: Path) -> Iterator[Server]:
    running = Server(store, free_port(), tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


def call(method: str, url: str, **kwargs: Any) -> Any:
    headers = {**ADMIN_HEADERS, **kwargs.pop("headers", {})}
    response = httpx.request(method, url, timeout=30, headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def sent_so_far(store: Settings, campaign_id: str) -> int:
    with build(store) as platform:
        return len(platform.sending.activity.messages.page(campaign_id, 1, 1_000_000)[0])


def test_a_campaign_killed_mid_send_finishes_with_every_recipient_messaged_once(
    store: Settings, server: Server
) -> None:
    server.start()
    api = f"{server.url}/api"
    csv = "phone,first_name\n" + "".join(f"+4477009{n:05d},P{n}\n" for n in range(RECIPIENTS))
    people = call(
        "POST",
        f"{api}/contact-lists?name=people",
        content=csv,
        headers={"content-type": "text/csv"},
    )
    call("POST", f"{api}/domains", json={"names": ["go.example.com", "out.example.com"]})
    for name in ("go.example.com", "out.example.com"):
        call("POST", f"{api}/domains/{name}/configure")
    call("PATCH", f"{api}/streams/demo", json={"rate": RATE})
    campaign = call(
        "POST",
        f"{api}/campaigns",
        json={
            "name": "Crash test",
            "sender": "Shop",
            "contact_lists": [people["id"]],
            "variants": [{"text": "Hi {first_name} {short_url} stop {optout_url}"}],
            "links": {
                "short": {"target": "https://shop.example.com", "domains": ["go.example.com"]},
                "optout": {"domains": ["out.example.com"]},
            },
        },
    )
    call("POST", f"{api}/campaigns/{campaign['id']}/launch")

    deadline = time.monotonic() + 30
    while call("GET", f"{api}/campaigns/{campaign['id']}")["status"] != "Sending":
        assert time.monotonic() < deadline, "the campaign never started sending"
        time.sleep(0.05)
    time.sleep(1.5)
    server.kill()
    sent_at_kill = sent_so_far(server.store, campaign["id"])
    assert 0 < sent_at_kill < RECIPIENTS, "the kill should land mid-campaign"

    server.start()
    deadline = time.monotonic() + 60
    while call("GET", f"{api}/campaigns/{campaign['id']}")["status"] != "Finished":
        assert time.monotonic() < deadline, "the campaign did not finish after the restart"
        time.sleep(0.2)
    server.stop()

    with build(server.store) as platform:
        activity, carrier = platform.sending.activity, platform.sending.carrier
        per_recipient = dict(activity.messages.count_per_recipient(campaign["id"]))
        counters = activity.stats.campaign_counters(campaign["id"])
        taken = carrier.accepted_count()
        taken_twice = carrier.recipients_taken_more_than_once()
    assert len(per_recipient) == RECIPIENTS
    assert set(per_recipient.values()) == {1}
    assert counters["sent"] == RECIPIENTS and counters["queued"] == 0
    assert taken == RECIPIENTS and taken_twice == []
