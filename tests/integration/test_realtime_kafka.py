"""The realtime rows' change log through the real broker: the projector's publisher, and
the gateways' feeds (each its own consumer), in the order of the log, each change once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from infra.bootstrap import build
from infra.realtime import Change, KafkaRealtimeFeed
from infra.settings import Settings
from tests.integration.test_kafka_pipeline import scale_out  # noqa: F401  (a fixture)

WAIT_SECONDS = 60.0


class Seen:
    """What one gateway's feed handed its hub."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshots: list[tuple[int, list[dict[str, Any]]]] = []
        self.changes: list[Change] = []

    def reset(self, position: int, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            self.snapshots.append((position, rows))

    def deliver(self, changes: list[Change]) -> None:
        with self.lock:
            self.changes += changes

    def position(self) -> int:
        with self.lock:
            if self.changes:
                return self.changes[-1][0]
            return self.snapshots[-1][0] if self.snapshots else -1


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_gateways_see_the_same_changes_once_each_in_order(scale_out: Settings) -> None:  # noqa: F811
    with build(scale_out) as platform:
        rows = platform.realtime_rows
        feeds = [
            KafkaRealtimeFeed(
                rows,
                platform.settings.kafka or "",
                platform.settings.realtime_topic,
                platform.store_id,
                security=platform.settings.kafka_security,
            )
            for _ in range(2)
        ]
        seen = [Seen(), Seen()]
        publisher = platform.realtime_publisher()
        publisher.start()
        try:
            for feed, gateway in zip(feeds, seen, strict=True):
                feed.start(gateway.deliver, gateway.reset)
            wait_until(lambda: all(g.snapshots for g in seen), "both gateways' snapshots")

            campaigns = [
                platform.app.create_campaign({"name": f"C{n}"}, actor="t") for n in range(5)
            ]
            platform.feed.catch_up()
            for campaign in campaigns[:3]:
                platform.app.edit_campaign(campaign.id, {"name": "renamed"}, actor="t")
            platform.feed.catch_up()
            while rows.pending():
                rows.refresh()
            last = rows.position()
            publisher.nudge()
            wait_until(lambda: all(g.position() >= last for g in seen), "every change")

            # A publisher that starts over from an older position sends some changes again.
            publisher.stop()
            platform.realtime_worker.listeners.clear()
            again = platform.realtime_publisher()
            again.write_published(last - 3)
            again.start()
            try:
                platform.app.edit_campaign(campaigns[4].id, {"name": "later"}, actor="t")
                platform.feed.catch_up()
                while rows.pending():
                    rows.refresh()
                final = rows.position()
                again.nudge()
                wait_until(lambda: all(g.position() >= final for g in seen), "the later change")
            finally:
                again.stop()
        finally:
            for feed in feeds:
                feed.stop()
            publisher.stop()

    for gateway in seen:
        start = gateway.snapshots[0][0]
        numbers = [seq for seq, _row in gateway.changes]
        assert numbers == list(range(start + 1, final + 1))  # no gap, no repeat, in order
        assert len(gateway.snapshots) == 1
    assert seen[0].changes == seen[1].changes
    names = {row["id"]: row["name"] for _seq, row in seen[0].changes}
    assert sorted(names.values()) == ["C3", "later", "renamed", "renamed", "renamed"]
