"""The messages and their batches: each batch recorded as queued (with a row of its own),
claimed for its handover to the carrier, then sent or cancelled. A message's status only
moves forwards, and every change of one is written with the counters it moves."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from domain.fields import format_time
from projections.activity.stats import OUTCOMES, Deltas, Stats, minute_of
from projections.database import Cursor, Database
from projections.leases import Fence, check_fence

# A message's statuses by rank: a status never moves to a lower rank. Suppressed (its
# recipient opted out before it went) and cancelled (its campaign was aborted before it
# went) are final, and never reached a carrier.
RANK = {
    "queued": 0,
    "sent": 1,
    **{outcome: 2 for outcome in OUTCOMES},
    "suppressed": 3,
    "cancelled": 3,
}
MESSAGE_STATUSES = tuple(RANK)
# An OutgoingMessage's fields, as the messages table names them.
OUTGOING_COLUMNS = (
    "id, optout_code, campaign_id, seq, recipient, variant_id, epoch, text, parts, cost_units, "
    "domain, optout_domain"
)
MESSAGE_COLUMNS = f"{OUTGOING_COLUMNS}, status, created_at, updated_at"


def seq_ranges(messages: Sequence[OutgoingMessage]) -> dict[str, tuple[int, int]]:
    """The lowest and highest position among the messages, per campaign."""
    ranges: dict[str, tuple[int, int]] = {}
    for m in messages:
        low, high = ranges.get(m.campaign_id, (m.seq, m.seq))
        ranges[m.campaign_id] = (min(low, m.seq), max(high, m.seq))
    return ranges


class OutgoingMessage(NamedTuple):
    """One message as the dispatcher built it, before the carrier has it (a tuple: a
    dispatcher makes a million of them)."""

    id: str  # also the short link's code
    optout_code: str
    campaign_id: str
    seq: int
    recipient: str
    variant_id: str
    epoch: int
    text: str
    parts: int
    cost_units: int
    domain: str | None
    optout_domain: str | None


class AlreadyRecorded(Exception):
    """Messages exist already for some of a batch's positions."""


@dataclass(frozen=True)
class BatchRef:
    """A batch of one campaign's messages: its first and last recipient positions."""

    campaign_id: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class OpenBatch:
    """A batch not yet handed over or cancelled, and the epoch that last recorded or
    claimed it."""

    ref: BatchRef
    state: str  # recorded or claimed
    epoch: int


@dataclass(frozen=True)
class MessageRef:
    """What link pages need of a message."""

    id: str
    campaign_id: str
    recipient: str
    target: str | None


class MessageRows:
    """The messages table as every writer of it shares it: how rows about to change are
    locked and addressed, how statuses are written, and the fence of a sending process."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def fenced(self, cursor: Cursor, fence: Fence | None) -> None:
        """The last statement of a sending process's write: it commits only while `fence`
        is its stream's, which holds until it commits. Last, so that the lease's row is held
        for an instant (a process frozen meanwhile sits idle in its transaction, which the
        server ends), never across a long statement."""
        if fence is not None:
            check_fence(cursor, self.database.dialect, fence)

    @property
    def row_key(self) -> str:
        """What a read of locked messages selects to update them by later in the same
        transaction. On PostgreSQL the row's physical place (`ctid`: fixed while the row is
        locked), so the update goes straight to it; a join on ids was planned as a scan of
        the whole table while the table was still under a few hundred thousand rows."""
        return "ctid::text" if self.database.dialect == "postgres" else "id"

    @property
    def locking(self) -> str:
        """What a read of rows about to change adds, so concurrent writers on PostgreSQL
        queue on the rows (in one order: no deadlock) instead of both counting a change.
        SQLite needs nothing: a write transaction holds the whole database."""
        return " ORDER BY id FOR UPDATE" if self.database.dialect == "postgres" else ""

    def set_statuses(self, cursor: Cursor, changes: Sequence[tuple[str, str, str, str]]) -> None:
        """(status, updated at, sent at if not yet, row key) for each message, the row key as
        `row_key` read it; the callers have checked that each moves forwards, under the
        rows' locks."""
        if not changes:
            return
        if self.database.dialect != "postgres":
            cursor.executemany(
                "UPDATE messages SET status = ?, updated_at = ?, sent_at = COALESCE(sent_at, ?) "
                "WHERE id = ?",
                changes,
            )
            return
        # One statement for the whole batch: PostgreSQL's driver spends its time per row.
        statuses, updated, sent, rows = (list(column) for column in zip(*changes, strict=True))
        cursor.execute(
            "UPDATE messages AS m SET status = c.status, updated_at = c.updated_at, "
            "sent_at = COALESCE(m.sent_at, c.sent_at) "
            "FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]::tid[]) "
            "AS c(status, updated_at, sent_at, place) WHERE m.ctid = c.place",
            (statuses, updated, sent, rows),
        )


class Messages(MessageRows):
    """Messages and batches, from their numbers to their handover to the carrier."""

    def __init__(self, database: Database, stats: Stats) -> None:
        super().__init__(database)
        self.stats = stats

    def reserve_numbers(self, count: int) -> int:
        """Reserves `count` consecutive message numbers; returns the first. A block reserved
        and then not used (a crash) is a gap, never a number given twice."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE sequences SET next = next + ? WHERE name = 'message' RETURNING next",
                (count,),
            )
            row = cursor.fetchone()
        assert row is not None, "the sequences table has no row for messages"
        return int(row[0]) - count

    def next_seq(self, campaign_id: str) -> int:
        """The first recipient position no message has been made for yet."""
        with self.database.read() as cursor:
            cursor.execute("SELECT MAX(seq) FROM messages WHERE campaign_id = ?", (campaign_id,))
            row = cursor.fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def add_messages(
        self,
        messages: Sequence[OutgoingMessage],
        at: datetime,
        suppressed: frozenset[str] = frozenset(),
        *,
        fence: Fence | None = None,
        stream: str = "demo",
    ) -> int:
        """Records a batch of one campaign's messages as queued, before the carrier has
        them, with the batch itself (`batches`); returns how many messages were recorded.

        A message whose recipient opted out after the audience was fixed is recorded as
        suppressed instead: it keeps the recipient's place and is the evidence that the
        opt-out blocked it; it is never handed to a carrier. Positions recorded already
        are refused (AlreadyRecorded): two processes are making the same messages."""
        if not messages:
            return 0
        now = format_time(at)
        campaign_id = messages[0].campaign_id
        first, last = messages[0].seq, messages[-1].seq
        stream = fence.stream if fence is not None else stream
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND seq BETWEEN ? AND ?",
                (campaign_id, first, last),
            )
            row = cursor.fetchone()
            if row and int(row[0]):
                raise AlreadyRecorded(
                    f"recipients {first + 1} to {last + 1} of campaign {campaign_id} have "
                    "messages already: another process is sending this campaign"
                )
            cursor.copy_rows(
                "messages",
                MESSAGE_COLUMNS,
                [
                    (
                        m.id,
                        m.optout_code,
                        m.campaign_id,
                        m.seq,
                        m.recipient,
                        m.variant_id,
                        m.epoch,
                        m.text,
                        m.parts,
                        m.cost_units,
                        m.domain,
                        m.optout_domain,
                        "suppressed" if m.id in suppressed else "queued",
                        now,
                        now,
                    )
                    for m in messages
                ],
            )
            cursor.execute(
                "INSERT INTO batches (campaign_id, first_seq, last_seq, stream, state, epoch, "
                "recorded_at) VALUES (?, ?, ?, ?, 'recorded', ?, ?)",
                (campaign_id, first, last, stream, fence.epoch if fence else 0, now),
            )
            deltas = Deltas()
            blocked = sum(1 for m in messages if m.id in suppressed)
            deltas.add(campaign_id, "queued", len(messages) - blocked)
            if blocked:
                deltas.add(campaign_id, "suppressed", blocked)
            self.stats.count(cursor, deltas)
            self.fenced(cursor, fence)
        return len(messages)

    def claim(
        self, fence: Fence | None, batch: BatchRef, messages: Sequence[OutgoingMessage]
    ) -> list[OutgoingMessage] | None:
        """Claims a recorded batch for its handover to the carrier, under `fence` (again,
        when its claim under the same epoch was cut short): the messages to hand over, those
        whose recipients opted out meanwhile suppressed; None when the batch is not waiting
        for its handover (sent, cancelled, or claimed under another epoch)."""
        with self.database.transaction() as cursor:
            epoch = fence.epoch if fence else 0
            cursor.execute(
                "UPDATE batches SET state = 'claimed', epoch = ? WHERE campaign_id = ? "
                "AND first_seq = ? AND (state = 'recorded' OR (state = 'claimed' AND epoch = ?)) "
                "RETURNING last_seq",
                (epoch, batch.campaign_id, batch.first_seq, epoch),
            )
            if cursor.fetchone() is None:
                return None
            phones = sorted({m.recipient for m in messages})
            opted = {
                str(row[0])
                for row in cursor.fetch_in("SELECT phone FROM opt_outs WHERE phone IN ?", phones)
            }
            if opted:
                self.suppress(cursor, batch, [m for m in messages if m.recipient in opted])
            self.fenced(cursor, fence)
        return [m for m in messages if m.recipient not in opted]

    def suppress(
        self, cursor: Cursor, batch: BatchRef, messages: Sequence[OutgoingMessage]
    ) -> None:
        """Those of these messages still queued become suppressed (an opt-out came first)."""
        blocked = [
            str(row[0])
            for row in cursor.fetch_in(
                "SELECT id FROM messages WHERE id IN ? AND status = 'queued'",
                sorted(m.id for m in messages),
            )
        ]
        if not blocked:
            return
        now = format_time(datetime.now(UTC))
        cursor.executemany(
            "UPDATE messages SET status = 'suppressed', updated_at = ? WHERE id = ?",
            [(now, message_id) for message_id in blocked],
        )
        deltas = Deltas()
        deltas.add(batch.campaign_id, "queued", -len(blocked))
        deltas.add(batch.campaign_id, "suppressed", len(blocked))
        self.stats.count(cursor, deltas)

    def unclaim(self, fence: Fence | None, batch: BatchRef) -> None:
        """A claimed batch the carrier never got waits for its handover again."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE batches SET state = 'recorded' WHERE campaign_id = ? AND first_seq = ? "
                "AND state = 'claimed'",
                (batch.campaign_id, batch.first_seq),
            )
            self.fenced(cursor, fence)

    def cancel(self, fence: Fence | None, batch: BatchRef, at: datetime) -> int:
        """The batch's messages not handed over become cancelled (its campaign was aborted);
        returns how many."""
        now = format_time(at)
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id FROM messages WHERE campaign_id = ? AND seq BETWEEN ? AND ? "
                "AND status = 'queued'" + self.locking,
                (batch.campaign_id, batch.first_seq, batch.last_seq),
            )
            ids = [str(row[0]) for row in cursor.fetchall()]
            cursor.executemany(
                "UPDATE messages SET status = 'cancelled', updated_at = ? WHERE id = ?",
                [(now, message_id) for message_id in ids],
            )
            cursor.execute(
                "UPDATE batches SET state = 'cancelled', done_at = ? WHERE campaign_id = ? "
                "AND first_seq = ?",
                (now, batch.campaign_id, batch.first_seq),
            )
            deltas = Deltas()
            deltas.add(batch.campaign_id, "queued", -len(ids))
            deltas.add(batch.campaign_id, "cancelled", len(ids))
            self.stats.count(cursor, deltas)
            self.fenced(cursor, fence)
        return len(ids)

    def mark_sent(
        self,
        messages: Sequence[OutgoingMessage],
        at: datetime,
        *,
        fence: Fence | None = None,
        batch: BatchRef | None = None,
    ) -> int:
        """The carrier has taken these messages: queued becomes sent, and they count; with
        `batch`, that batch's handover is done."""
        if not messages and batch is None:
            return 0
        now, minute = format_time(at), minute_of(at)
        with self.database.transaction() as cursor:
            if self.database.dialect == "postgres":
                moved = self.mark_sent_in_sql(cursor, messages, now, minute)
            else:
                moved = self.mark_sent_by_rows(cursor, messages, now, minute)
            if batch is not None:
                cursor.execute(
                    "UPDATE batches SET state = 'sent', done_at = ? WHERE campaign_id = ? "
                    "AND first_seq = ?",
                    (now, batch.campaign_id, batch.first_seq),
                )
            self.fenced(cursor, fence)
        return moved

    def mark_sent_by_rows(
        self, cursor: Cursor, messages: Sequence[OutgoingMessage], now: str, minute: str
    ) -> int:
        still_queued = self.queued_among(cursor, messages)
        fresh = [m for m in messages if m.id in still_queued]
        if not fresh:
            return 0  # receipts got there first (a carrier reporting at once)
        self.set_statuses(cursor, [("sent", now, now, m.id) for m in fresh])
        deltas = Deltas()
        flat = deltas.flat
        for m in fresh:
            flat[(m.campaign_id, None, None, None, "queued")] -= 1
            flat[(m.campaign_id, m.variant_id, m.domain, minute, "sent")] += 1
            flat[(m.campaign_id, m.variant_id, m.domain, minute, "cost_units")] += m.cost_units
        self.stats.count(cursor, deltas)
        return len(fresh)

    def mark_sent_in_sql(
        self, cursor: Cursor, messages: Sequence[OutgoingMessage], now: str, minute: str
    ) -> int:
        """`mark_sent` on PostgreSQL: one statement per campaign's range of positions finds
        the messages still queued, locks them in the order every writer locks messages (by
        id), marks them sent and sums what moved by variant and domain, so no row comes
        back to Python. A message a receipt moved on meanwhile is left as it is; a range
        the messages do not fill is narrowed to their ids."""
        by_campaign: dict[str, list[str]] = {}
        for m in messages:
            by_campaign.setdefault(m.campaign_id, []).append(m.id)
        moved = 0
        deltas = Deltas()
        flat = deltas.flat
        for campaign_id, (low, high) in sorted(seq_ranges(messages).items()):
            ids = by_campaign[campaign_id]
            narrowed = len(ids) != high - low + 1
            cursor.execute(
                "WITH queued AS (SELECT id FROM messages WHERE campaign_id = ? "
                "AND seq BETWEEN ? AND ? AND status = 'queued'"
                + (" AND id IN (SELECT unnest(?::text[]))" if narrowed else "")
                + " ORDER BY id FOR UPDATE), "
                "sent AS (UPDATE messages AS m SET status = 'sent', updated_at = ?, "
                "sent_at = COALESCE(m.sent_at, ?) FROM queued WHERE m.id = queued.id "
                "RETURNING m.variant_id, m.domain, m.cost_units) "
                "SELECT variant_id, domain, COUNT(*), SUM(cost_units) FROM sent "
                "GROUP BY variant_id, domain",
                (campaign_id, low, high, *([ids] if narrowed else []), now, now),
            )
            for variant, domain, count, cost in cursor.fetchall():
                moved += int(count)
                flat[(campaign_id, None, None, None, "queued")] -= int(count)
                flat[(campaign_id, variant, domain, minute, "sent")] += int(count)
                flat[(campaign_id, variant, domain, minute, "cost_units")] += int(cost)
        self.stats.count(cursor, deltas)
        return moved

    def queued_among(self, cursor: Cursor, messages: Sequence[OutgoingMessage]) -> set[str]:
        """The ids of these messages still queued, locked; read through the index of queued
        messages by their campaigns' ranges of positions, which is small."""
        found: set[str] = set()
        for campaign_id, (low, high) in sorted(seq_ranges(messages).items()):
            cursor.execute(
                "SELECT id FROM messages WHERE campaign_id = ? AND seq BETWEEN ? AND ? "
                "AND status = 'queued'" + self.locking,
                (campaign_id, low, high),
            )
            found.update(str(row[0]) for row in cursor.fetchall())
        return found

    # Reading.

    def open_batches(
        self, stream: str | None = None, campaign_id: str | None = None
    ) -> list[OpenBatch]:
        """Batches recorded or claimed but not yet sent or cancelled, of a stream or of a
        campaign, in order."""
        where, params = ("stream = ?", (stream,)) if stream else ("campaign_id = ?", (campaign_id,))
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT campaign_id, first_seq, last_seq, state, epoch FROM batches "
                f"WHERE {where} AND state IN ('recorded', 'claimed') "
                "ORDER BY campaign_id, first_seq",
                params,
            )
            rows = cursor.fetchall()
        return [
            OpenBatch(BatchRef(str(c), int(f), int(t)), str(state), int(epoch))
            for c, f, t, state, epoch in rows
        ]

    def campaigns_sending_since(self, stream: str, since: datetime) -> list[str]:
        """The campaigns that recorded batches on the stream since a moment."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT DISTINCT campaign_id FROM batches WHERE stream = ? AND recorded_at >= ? "
                "ORDER BY campaign_id",
                (stream, format_time(since)),
            )
            return [str(row[0]) for row in cursor.fetchall()]

    def outgoing(self, condition: str, params: Sequence[Any]) -> list[OutgoingMessage]:
        """Messages as the dispatcher built them, by a condition on their rows."""
        with self.database.read() as cursor:
            cursor.execute(f"SELECT {OUTGOING_COLUMNS} FROM messages WHERE {condition}", params)
            rows = cursor.fetchall()
        return [OutgoingMessage(*row) for row in rows]

    def queued(self, limit: int) -> list[OutgoingMessage]:
        """Messages recorded but not yet taken by a carrier, of any campaign (a scan of
        the table: no index names the status)."""
        return self.outgoing("status = 'queued' ORDER BY campaign_id, seq LIMIT ?", (limit,))

    def sent_without_outcome(self, campaign_id: str) -> list[OutgoingMessage]:
        """The campaign's messages a carrier took that have no outcome yet."""
        return self.outgoing("campaign_id = ? AND status = 'sent' ORDER BY seq", (campaign_id,))

    def queued_messages(self, batch: BatchRef) -> list[OutgoingMessage]:
        """The batch's messages still queued (not sent, suppressed or cancelled)."""
        return self.outgoing(
            "campaign_id = ? AND seq BETWEEN ? AND ? AND status = 'queued' ORDER BY seq",
            (batch.campaign_id, batch.first_seq, batch.last_seq),
        )

    def messages_from(self, campaign_id: str, seq: int) -> list[tuple[OutgoingMessage, str]]:
        """The campaign's messages from a position on, with their statuses."""
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {OUTGOING_COLUMNS}, status FROM messages "
                "WHERE campaign_id = ? AND seq >= ? ORDER BY seq",
                (campaign_id, seq),
            )
            rows = cursor.fetchall()
        return [(OutgoingMessage(*row[:-1]), str(row[-1])) for row in rows]

    def page(self, campaign_id: str, page: int, per_page: int) -> tuple[list[Any], int]:
        with self.database.read() as cursor:
            cursor.execute("SELECT COUNT(*) FROM messages WHERE campaign_id = ?", (campaign_id,))
            row = cursor.fetchone()
            total = int(row[0]) if row else 0
            cursor.execute(
                "SELECT id, optout_code, recipient, variant_id, text, parts, cost_units, domain, "
                "optout_domain, status, sent_at, created_at, clicked_at FROM messages "
                "WHERE campaign_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (campaign_id, per_page, (page - 1) * per_page),
            )
            rows = cursor.fetchall()
        return rows, total

    def count_per_recipient(self, campaign_id: str) -> Iterator[tuple[str, int]]:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT recipient, COUNT(*) FROM messages WHERE campaign_id = ? GROUP BY recipient",
                (campaign_id,),
            )
            rows = cursor.fetchall()
        for phone, count in rows:
            yield str(phone), int(count)

    def by_optout_code(self, code: str) -> MessageRef | None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE optout_code = ?", (code,)
            )
            row = cursor.fetchone()
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None) if row else None

    def by_id(self, message_id: str) -> MessageRef | None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE id = ?", (message_id,)
            )
            row = cursor.fetchone()
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None) if row else None
