"""Per-message activity (F6, F7, F8, F19, F20): recipients, messages, receipts, clicks,
opt-outs, replies, and the campaign stats counted from them.

Per-message facts are rows here, never events in the store's single sequence. Every change
of a message and the counters it moves are written in one transaction; a message's status
only moves forwards, so a late or repeated receipt changes nothing and counts nothing.
"""

from __future__ import annotations

from projections.activity.audience import Audience
from projections.activity.engagement import Engagement
from projections.activity.messages import (
    MESSAGE_STATUSES,
    AlreadyRecorded,
    BatchRef,
    MessageRef,
    Messages,
    OpenBatch,
    OutgoingMessage,
)
from projections.activity.receipts import Receipt, Receipts
from projections.activity.stats import (
    COUNTERS,
    KNOWN,
    OUTCOMES,
    UNSENT,
    Deltas,
    Stats,
    from_units,
    minute_of,
    second_of,
    to_units,
)
from projections.activity.tables import create_tables
from projections.database import Database


class Activity:
    """The activity tables, by what they keep: the audience, the messages, the receipts,
    engagement (clicks, opt-outs, replies) and the stats that every write of them changes
    (with `outbox`, through Kafka: see `Stats`)."""

    def __init__(
        self, database: Database, contacts_table: str = "contacts", *, outbox: bool = False
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.stats = Stats(database, outbox=outbox)
        self.audience = Audience(database, contacts_table)
        self.messages = Messages(database, self.stats)
        self.receipts = Receipts(database, self.stats)
        self.engagement = Engagement(database, self.stats)

    def create_tables(self) -> None:
        create_tables(self.database, outbox=self.outbox)


__all__ = [
    "COUNTERS",
    "KNOWN",
    "MESSAGE_STATUSES",
    "OUTCOMES",
    "UNSENT",
    "Activity",
    "AlreadyRecorded",
    "Audience",
    "BatchRef",
    "Deltas",
    "Engagement",
    "MessageRef",
    "Messages",
    "OpenBatch",
    "OutgoingMessage",
    "Receipt",
    "Receipts",
    "Stats",
    "from_units",
    "minute_of",
    "second_of",
    "to_units",
]
