"""Wires the sending side: activity tables, the demo carrier, the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.application import CampaignPlatform
from domain.replies import opts_out
from infra.demo_carrier import DemoCarrier
from infra.engine import Engine
from projections.activity import ActivityStore, Receipt
from projections.campaign_list import CampaignListView
from projections.database import Database


class ActivityReports:
    """Carrier reports into the activity tables: the same paths the HTTP endpoints take."""

    def __init__(self, activity: ActivityStore) -> None:
        self.activity = activity

    def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.activity.apply_receipts(receipts)

    def on_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> None:
        self.activity.record_clicks(clicks)

    def on_opt_outs(self, codes: Sequence[tuple[str, datetime]]) -> None:
        self.activity.opt_out_by_codes(codes, source="opt-out link")

    def on_replies(self, replies: Sequence[tuple[str, str, datetime]]) -> None:
        for phone, text, at in replies:
            self.activity.record_reply(phone, text, at, opts_out=opts_out(text))


@dataclass
class Sending:
    activity: ActivityStore
    carrier: DemoCarrier
    engine: Engine
    reports: ActivityReports

    def start(self) -> None:
        self.carrier.start()
        self.engine.start()

    def stop(self) -> None:
        self.carrier.stop_waiting()
        self.engine.stop()
        self.carrier.stop()


def build_sending(
    app: CampaignPlatform,
    database: Database,
    campaign_list: CampaignListView,
    carrier_books: Database,
    contacts_table: str = "contacts",
    *,
    delay_scale: float = 1.0,
    batch: int | None = None,
    outbox: bool = False,
) -> Sending:
    activity = ActivityStore(database, contacts_table, outbox=outbox)
    activity.create_tables()
    reports = ActivityReports(activity)

    def demo_options() -> dict[str, Any]:
        stream = app.find_stream("demo")
        return dict(stream.options) if stream else {}

    carrier = DemoCarrier(carrier_books, reports, demo_options, delay_scale=delay_scale)
    carrier.create_tables()
    engine = Engine(app, database, campaign_list, activity, carrier)
    app.stats_of = activity.campaign_counters
    if batch:
        engine.batch = batch
    return Sending(activity, carrier, engine, reports)
