"""Campaigns sent over SMPP to an SMSC the project did not write (jsmpp's simulator), on
SQLite and PostgreSQL: Draft to Finished with one-part, long and Unicode texts, every
receipt matched, and the SMSC stopped and started again mid-campaign."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from domain.status import Status
from infra import local_smsc
from infra.bootstrap import Platform, build
from infra.settings import Settings

from .test_sending_engine import OPTOUT, SHORT, add_configured, contact_list, new_campaign

PORT = 28061
VARIANTS = [
    {"text": "Spring sale today {short_url} Stop: {optout_url}", "weight": 2},
    {
        "text": "Our spring sale starts today with up to 50% off on every jacket, shoe and "
        "bag in the shop, and free delivery on orders over 30 euros until Sunday evening. "
        "See {short_url} Stop: {optout_url}",
        "weight": 1,
    },
    {"text": "Весенняя распродажа 😀 {short_url} Отписка: {optout_url}", "weight": 1},
]


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "smsc"
    local_smsc.start(folder, PORT)
    try:
        yield folder
    finally:
        local_smsc.stop(folder)


@pytest.fixture
def platform(store: Settings) -> Iterator[Platform]:
    built = build(store)
    built.sending.carrier.delay_scale = 0
    try:
        yield built
    finally:
        built.close()


def smpp_stream(platform: Platform) -> None:
    platform.app.create_stream(
        {
            "name": "smsc",
            "carrier": "smpp",
            "rate": 200,  # the simulator sends about 100 receipts a second
            "settings": {
                "host": "127.0.0.1",
                "port": PORT,
                "system_id": "j",
                "password": "jpwd",
                "window": 10,
            },
        },
        actor="alice",
    )


def run_until(platform: Platform, done: Callable[[], bool], seconds: float = 120) -> None:
    """Steps the engine (its links bind and read in their own threads) until `done`."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not done in time"
        platform.feed.catch_up()
        if not platform.sending.engine.step():
            time.sleep(0.05)


def wait_until(platform: Platform, done: Callable[[], bool], seconds: float = 120) -> None:
    """Waits while the platform sends in the background, until `done`."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"not done in time: {platform.stream_links()}"
        time.sleep(0.2)


def acknowledged(smsc: Path, expected: int) -> int:
    """The receipts the SMSC sent and saw answered, once its log has caught up."""
    deadline = time.monotonic() + 5
    while local_smsc.receipts_sent(smsc) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return local_smsc.receipts_sent(smsc)


def statuses(platform: Platform, campaign_id: uuid.UUID) -> Counter[str]:
    rows, _total = platform.activity.messages.page(str(campaign_id), 1, 1_000_000)
    return Counter(row[9] for row in rows)


def launched(platform: Platform, recipients: int) -> uuid.UUID:
    add_configured(platform, SHORT, OPTOUT)
    smpp_stream(platform)
    campaign = new_campaign(
        platform, [contact_list(platform, recipients)], variants=VARIANTS, stream="smsc"
    )
    return campaign.id


def test_a_campaign_goes_from_draft_to_finished_over_smpp_with_every_receipt_matched(
    platform: Platform, smsc: Path
) -> None:
    campaign_id = launched(platform, 300)

    def finished_with_outcomes() -> bool:
        counted = statuses(platform, campaign_id)
        status = platform.app.get_campaign(campaign_id).status
        return status is Status.FINISHED and counted["delivered"] == 300

    run_until(platform, finished_with_outcomes)

    counters = platform.activity.stats.campaign_counters(str(campaign_id))
    assert counters["sent"] == counters["delivered"] == 300
    assert acknowledged(smsc, 300) == 300
    rows, _total = platform.activity.messages.page(str(campaign_id), 1, 1000)
    assert sum(row[5] for row in rows) > 300  # long and Unicode texts took more parts
    per_recipient = platform.activity.messages.count_per_recipient(str(campaign_id))
    assert {count for _phone, count in per_recipient} == {1}


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_the_smsc_restarted_mid_campaign_loses_nothing_and_sends_nothing_twice(
    platform: Platform, smsc: Path
) -> None:
    campaign_id = launched(platform, 2000)
    platform.start()  # read models fed, and the engine and its handover, in the background
    platform.sending.start()
    wait_until(platform, lambda: statuses(platform, campaign_id)["delivered"] >= 300)

    local_smsc.freeze(smsc)  # hung: a window of submits goes out unanswered
    link = platform.sending.carriers.links["smsc"][1]
    flying: list[int] = []

    def window_stuck() -> bool:  # submits wait for answers that do not come
        flying.append(link.messages_in_flight())  # type: ignore[attr-defined]
        return len(flying) > 5 and flying[-1] > 0 and len(set(flying[-5:])) == 1

    wait_until(platform, window_stuck)
    local_smsc.kill(smsc)  # the link drops with them in flight
    time.sleep(1.5)
    local_smsc.start(smsc, PORT)

    seen: list[Counter[str]] = []

    def settled() -> bool:
        seen.append(statuses(platform, campaign_id))
        status = platform.app.get_campaign(campaign_id).status
        quiet = len(seen) > 10 and seen[-10] == seen[-1]  # no receipt for a while
        return status is Status.FINISHED and seen[-1]["queued"] == 0 and quiet

    wait_until(platform, settled, 240)
    counted = statuses(platform, campaign_id)
    # Every receipt the SMSC saw answered counts; those it sent just before it froze were
    # answered too, but it never read the answers (at most its pool of 100 a second).
    seen = acknowledged(smsc, counted["delivered"])
    assert seen <= counted["delivered"] <= seen + 100, (seen, counted)
    assert counted["unknown"] == flying[-1]  # the submits in flight when it died
    assert sum(counted.values()) == 2000
    assert set(counted) <= {"delivered", "unknown", "sent"}  # sent: its receipt was lost
    counters = platform.activity.stats.campaign_counters(str(campaign_id))
    assert counters["unknown"] == counted["unknown"]
    per_recipient = platform.activity.messages.count_per_recipient(str(campaign_id))
    assert {count for _phone, count in per_recipient} == {1}
    with platform.database.read() as cursor:
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM carrier_submits")
        row = cursor.fetchone()
    assert row is not None and row[0] == row[1] == 2000  # each submitted once at most


def submitted(platform: Platform) -> int:
    with platform.database.read() as cursor:
        cursor.execute("SELECT COUNT(*) FROM carrier_submits")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_pause_stops_the_submits_at_once_and_a_resume_finishes_the_campaign(
    platform: Platform, smsc: Path
) -> None:
    campaign_id = launched(platform, 1500)
    platform.start()
    platform.sending.start()
    wait_until(platform, lambda: statuses(platform, campaign_id)["delivered"] >= 100)

    platform.app.change_campaign_status(campaign_id, "pause", actor="alice")
    at_pause = submitted(platform)
    time.sleep(3)
    assert submitted(platform) == at_pause  # no submit after the pause committed
    assert platform.app.get_campaign(campaign_id).status is Status.PAUSED
    assert at_pause < 1500

    platform.app.change_campaign_status(campaign_id, "resume", actor="alice")
    wait_until(platform, lambda: platform.app.get_campaign(campaign_id).status is Status.FINISHED)
    assert submitted(platform) == 1500
    per_recipient = platform.activity.messages.count_per_recipient(str(campaign_id))
    assert {count for _phone, count in per_recipient} == {1}
