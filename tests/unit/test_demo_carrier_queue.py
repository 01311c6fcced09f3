"""The demo carrier's own thread: what it takes, it reports, and it takes no more while its
queue of reports is full."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from infra import demo_carrier
from infra.demo_carrier import DemoCarrier
from projections.activity import Receipt
from projections.database import SQLiteDatabase
from tests.unit.test_demo_carrier_plans import MESSAGES


class HeldReports:
    """Takes reports only once released."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.receipts: list[Receipt] = []

    def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.released.wait(10)
        self.receipts += receipts

    def on_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> None: ...

    def on_opt_outs(self, codes: Sequence[tuple[str, datetime]]) -> None: ...

    def on_replies(self, replies: Sequence[tuple[str, str, datetime]]) -> None: ...


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[tuple[DemoCarrier, HeldReports]]:
    books = SQLiteDatabase(tmp_path / "books.sqlite3")
    reports = HeldReports()
    carrier = DemoCarrier(books, reports, lambda _stream: {"seed": 1}, delay_scale=0)
    carrier.create_tables()
    carrier.start()
    try:
        yield carrier, reports
    finally:
        reports.released.set()
        carrier.stop()
        books.close()


def test_a_full_queue_holds_the_next_submit_back_until_reports_are_made(
    carrier: tuple[DemoCarrier, HeldReports], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo, reports = carrier
    monkeypatch.setattr(demo_carrier, "MAX_PENDING", 50)
    first, second = MESSAGES[:40], MESSAGES[40:60]
    assert demo.submit(first, two_way=False) == 40  # 80 or more reports: the queue is full
    taken = threading.Event()

    def submit_more() -> None:
        demo.submit(second, two_way=False)
        taken.set()

    threading.Thread(target=submit_more, daemon=True).start()
    assert not taken.wait(0.5)  # held back while the reports wait
    assert demo.accepted_count() == 40

    reports.released.set()
    assert taken.wait(10)
    assert demo.accepted_count() == 60
    for _ in range(500):
        if not demo.pending():
            break
        time.sleep(0.02)
    assert {r.message_id for r in reports.receipts} == {m.id for m in MESSAGES[:60]}


def test_a_stopping_dispatcher_hands_over_without_waiting(
    carrier: tuple[DemoCarrier, HeldReports], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo, _reports = carrier
    monkeypatch.setattr(demo_carrier, "MAX_PENDING", 50)
    demo.submit(MESSAGES[:40], two_way=False)  # the queue is full, its reports held
    demo.stop_waiting()
    assert demo.submit(MESSAGES[40:60], two_way=False) == 20  # at once
    assert demo.accepted_count() == 60
