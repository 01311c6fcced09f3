"""Wires the sending side: activity tables, the carriers, stream ownership, the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.replies import opts_out
from infra.application import ProcessPlatform
from infra.carriers import Carriers
from infra.demo_carrier import DemoCarrier
from infra.engine import Engine
from infra.gates import SendingGate
from infra.ownership import Ownership
from infra.process import SendingLock
from projections.activity import Activity, Receipt
from projections.campaign_list import CampaignListView
from projections.carrier_log import CarrierLog
from projections.database import Database
from projections.leases import StreamLeases
from projections.link_keys import LinkKeys


class ActivityReports:
    """Carrier reports into the activity tables: the same paths the HTTP endpoints take."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity

    def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.activity.receipts.apply_receipts(receipts)

    def on_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> None:
        self.activity.engagement.record_clicks(clicks)

    def on_opt_outs(self, codes: Sequence[tuple[str, datetime]]) -> None:
        self.activity.engagement.opt_out_by_codes(codes, source="opt-out link")

    def on_replies(self, replies: Sequence[tuple[str, str, datetime]]) -> None:
        for phone, text, at in replies:
            self.activity.engagement.record_reply(phone, text, at, opts_out=opts_out(text))


@dataclass
class Sending:
    activity: Activity
    carrier: DemoCarrier
    engine: Engine
    reports: ActivityReports
    ownership: Ownership
    leases: StreamLeases
    link_keys: LinkKeys  # the secrets of the link codes: this tier alone reads them
    lock: SendingLock | None = None  # the embedded store's one sending process

    @property
    def carriers(self) -> Carriers:
        """Every stream's carrier: the demo carrier and the links of real carriers."""
        return self.engine.carrier

    @property
    def carrier_log(self) -> CarrierLog:
        return self.engine.carrier.carrier_log

    def claim(self) -> None:
        """Makes sure this is the one sending process of the embedded store; raises
        AlreadySending naming the process that is."""
        if self.lock is not None and self.lock.file is None:
            self.lock.acquire(self.ownership.owner)

    def start(self) -> None:
        self.claim()
        self.carriers.start()
        self.ownership.start()
        self.engine.start()

    def stop(self) -> None:
        """Stops sending and gives this process's streams up (also when it was stepped by
        hand rather than started)."""
        self.carrier.stop_waiting()
        self.engine.stop()
        self.ownership.stop()  # the streams go to another process at once
        self.carriers.stop()
        if self.lock is not None:
            self.lock.release()


def build_sending(
    app: ProcessPlatform,
    database: Database,
    campaign_list: CampaignListView,
    carrier_books: Database,
    gate: SendingGate,
    owner: str,
    contacts_table: str = "contacts",
    *,
    lease_seconds: float,
    lock: SendingLock | None = None,
    delay_scale: float = 1.0,
    batch: int | None = None,
    outbox: bool = False,
) -> Sending:
    """The sending side; with `lock` (the embedded store) this is the only process that
    may send, and it takes every stream at once."""
    activity = Activity(database, contacts_table, outbox=outbox)
    activity.create_tables()
    reports = ActivityReports(activity)

    def demo_options(name: str) -> dict[str, Any]:
        stream = app.find_stream(name)
        return dict(stream.options) if stream else {}

    demo = DemoCarrier(carrier_books, reports, demo_options, delay_scale=delay_scale)
    demo.create_tables()
    carrier_log = CarrierLog(database)
    carrier_log.create_tables()
    app.keep_secrets = lambda stream, secrets: carrier_log.keep_secrets(
        stream, secrets, datetime.now(UTC)
    )
    leases = StreamLeases(database)
    leases.create_tables()
    link_keys = LinkKeys(database)
    link_keys.create_tables()  # the store's first key, once
    ownership = Ownership(
        leases,
        owner,
        app.stream_names,
        lease_seconds=lease_seconds,
        exclusive=lock is not None,
    )
    demo.may_report = ownership.reporting  # a stream's next owner makes the rest
    carrier = Carriers(demo, carrier_log, reports, app.find_stream, owner)
    engine = Engine(app, database, campaign_list, activity, carrier, ownership, gate)
    app.stats_of = activity.stats.campaign_counters
    if batch:
        engine.batch = batch
    return Sending(activity, demo, engine, reports, ownership, leases, link_keys, lock)
