"""Carriers' receipts applied to the messages (F20): a message's status never moves
backwards, so a late or repeated receipt changes nothing and counts nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from domain.fields import format_time
from projections.activity.messages import RANK, MessageRows
from projections.activity.stats import Deltas, Stats, minute_of
from projections.database import Cursor, Database


class Receipt(NamedTuple):
    message_id: str
    status: str
    at: datetime


def _receipt_order(receipt: Receipt) -> tuple[datetime, int]:
    return receipt.at, RANK.get(receipt.status, 0)


class Receipts(MessageRows):
    """Receipts into the message rows and the counters they move, in one transaction."""

    def __init__(self, database: Database, stats: Stats) -> None:
        super().__init__(database)
        self.stats = stats

    def apply_receipts(self, receipts: Sequence[Receipt]) -> int:
        """Applies the receipts that move a message forwards; returns how many did.

        Receipts are grouped by message first, and each message's are taken in order of
        time (then rank), so the counters are the same as for one receipt at a time."""
        if not receipts:
            return 0
        by_message: dict[str, list[Receipt]] = {}
        for receipt in receipts:
            mine = by_message.get(receipt.message_id)
            if mine is None:
                by_message[receipt.message_id] = [receipt]
            else:
                mine.append(receipt)
        rank_of = RANK.get
        with self.database.transaction() as cursor:
            known = self.receipt_facts(cursor, list(by_message))
            queued: Counter[str] = Counter()  # messages leaving queued, by campaign
            counts: Counter[tuple[str, str, str | None, str, str]] = Counter()
            final = []
            moved = 0
            times: dict[datetime, tuple[str, str]] = {}
            for message_id, campaign_id, variant, domain, status, cost, row in known:
                mine = by_message[message_id]
                if len(mine) > 1:
                    mine.sort(key=_receipt_order)
                current = RANK[status]
                last: tuple[str, str, str, Any] | None = None
                for receipt in mine:
                    rank = rank_of(receipt.status, -1)
                    if rank <= current:
                        continue
                    stamp = times.get(receipt.at)
                    if stamp is None:
                        stamp = times[receipt.at] = (format_time(receipt.at), minute_of(receipt.at))
                    at, minute = stamp
                    moved += 1
                    last = (receipt.status, at, at, row)
                    if current == 0:  # queued: a receipt for a message not yet marked sent
                        queued[campaign_id] += 1
                        counts[(campaign_id, variant, domain, minute, "sent")] += 1
                        counts[(campaign_id, variant, domain, minute, "cost_units")] += cost
                    if rank == 2:  # an outcome
                        counts[(campaign_id, variant, domain, minute, receipt.status)] += 1
                    current = rank
                if last is not None:
                    final.append(last)  # one write per message
            self.set_statuses(cursor, final)
            deltas = Deltas()
            deltas.flat.update(counts)
            for campaign_id, count in queued.items():
                deltas.add(campaign_id, "queued", -count)
            self.stats.count(cursor, deltas)
        return moved

    def receipt_facts(
        self, cursor: Cursor, ids: Sequence[str]
    ) -> list[tuple[str, str, str, str | None, str, int, Any]]:
        """(id, campaign, variant, domain, status, cost units, row key) of messages, locked."""
        found: list[tuple[str, str, str, str | None, str, int, Any]] = cursor.fetch_in(
            "SELECT id, campaign_id, variant_id, domain, status, cost_units, "
            f"{self.row_key} FROM messages WHERE id IN ?" + self.locking,
            sorted(ids),
        )
        return found
