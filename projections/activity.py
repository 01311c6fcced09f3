"""Per-message activity (F6, F7, F8, F19, F20): recipients, messages, receipts, clicks,
opt-outs, replies, and the campaign stats counted from them.

Per-message facts are rows here, never events in the store's single sequence. Every change
of a message and the counters it moves are written in one transaction; a message's status
only moves forwards, so a late or repeated receipt changes nothing and counts nothing.
Money is counted in units of 1/10,000 so that sums in SQL stay exact.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from domain.fields import format_time
from domain.stream import MESSAGE_OUTCOMES
from projections.changes import MARKS_TABLE, mark_changed
from projections.database import Cursor, Database, add_missing_column
from projections.leases import Fence, check_fence

OUTCOMES = MESSAGE_OUTCOMES  # a carrier's answers, and `unknown` (its answer never came)
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
UNSENT = ("queued", "suppressed", "cancelled")  # counted without a minute of sending
COUNTERS = (
    "queued",
    "suppressed",
    "cancelled",
    "sent",
    *OUTCOMES,
    "clicks",
    "unique_clicks",
    "opt_outs",
    "replies",
    "cost_units",
)
COST_UNIT = Decimal("0.0001")
KNOWN = "known"  # the stats scope of per-minute changes by when they became known
BATCH = 2000
MESSAGES_FILLFACTOR = 50  # percent of each page of messages filled by inserts


def to_units(amount: Decimal) -> int:
    return int((amount / COST_UNIT).to_integral_value())


def from_units(units: int) -> Decimal:
    return (Decimal(units) * COST_UNIT).quantize(COST_UNIT)


def minute_of(moment: datetime) -> str:
    return format_time(moment)[:16] + "Z"


def second_of(moment: datetime) -> str:
    return format_time(moment)[:19] + "Z"


def _receipt_order(receipt: Receipt) -> tuple[datetime, int]:
    return receipt.at, RANK.get(receipt.status, 0)


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


class Receipt(NamedTuple):
    message_id: str
    status: str
    at: datetime


@dataclass(frozen=True)
class MessageRef:
    """What link pages need of a message."""

    id: str
    campaign_id: str
    recipient: str
    target: str | None


class Deltas:
    """Counter changes, kept flat while a batch is applied and spread over the scopes
    (campaign, variant, domain, minute) when written, in one statement.

    Per-minute changes are also kept by when they became known (scope `known`, key
    `<minute it happened>|<second it was recorded>`), so that figures as known at a past
    moment can be summed again, to the second, late receipts left out (bitemporal stats)."""

    def __init__(self, known: str | None = None) -> None:
        self.flat: Counter[tuple[str, str | None, str | None, str | None, str]] = Counter()
        self.known = known or second_of(datetime.now(UTC))

    def add(
        self,
        campaign_id: str,
        metric: str,
        amount: int = 1,
        *,
        variant: str | None = None,
        domain: str | None = None,
        minute: str | None = None,
    ) -> None:
        self.flat[(campaign_id, variant, domain, minute, metric)] += amount

    def scoped(self) -> dict[tuple[str, str, str], Counter[str]]:
        counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        for (campaign_id, variant, domain, minute, metric), amount in self.flat.items():
            counts[(campaign_id, "campaign", "")][metric] += amount
            if variant:
                counts[(campaign_id, "variant", variant)][metric] += amount
            if domain:
                counts[(campaign_id, "domain", domain)][metric] += amount
            if minute:
                counts[(campaign_id, "minute", minute)][metric] += amount
                counts[(campaign_id, KNOWN, f"{minute}|{self.known}")][metric] += amount
        return counts

    def write(self, cursor: Cursor, *, mark: bool = True) -> None:
        """Adds the changes to the stats and, unless the caller marks them itself, marks
        their campaigns."""
        if not self.flat:
            return
        columns = ", ".join(COUNTERS)
        marks = ", ".join("?" for _ in COUNTERS)
        updates = ", ".join(f"{c} = stats.{c} + excluded.{c}" for c in COUNTERS)
        cursor.executemany(
            f"INSERT INTO stats AS stats (campaign_id, scope, key, {columns}) "
            f"VALUES (?, ?, ?, {marks}) "
            f"ON CONFLICT (campaign_id, scope, key) DO UPDATE SET {updates}",
            [
                (campaign_id, scope, key, *(counts.get(c, 0) for c in COUNTERS))
                for (campaign_id, scope, key), counts in sorted(self.scoped().items())
            ],
        )
        if mark:
            mark_changed(cursor, (key[0] for key in self.flat))


SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS recipients (
        campaign_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        phone TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (campaign_id, seq)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,
        optout_code TEXT NOT NULL UNIQUE,
        campaign_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        variant_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        text TEXT NOT NULL,
        parts INTEGER NOT NULL,
        cost_units BIGINT NOT NULL,
        domain TEXT,
        optout_domain TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        updated_at TEXT NOT NULL,
        clicked_at TEXT,
        UNIQUE (campaign_id, seq)
    )
    """,
    # No index names the status, not even in a condition: PostgreSQL then writes a
    # receipt's new row version on the same page with no index entry (a HOT update), where
    # an indexed status made every receipt write all three indexes again. (The index that
    # earlier versions had is dropped.)
    "DROP INDEX IF EXISTS messages_queued",
    """
    CREATE TABLE IF NOT EXISTS clicks (
        message_id TEXT NOT NULL,
        at TEXT NOT NULL,
        user_agent TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS clicks_message ON clicks (message_id)",
    """
    CREATE TABLE IF NOT EXISTS opt_outs (
        phone TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        campaign_id TEXT,
        message_id TEXT,
        source TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS replies (
        phone TEXT NOT NULL,
        at TEXT NOT NULL,
        text TEXT NOT NULL,
        campaign_id TEXT,
        opted_out INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS stats (
        campaign_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        queued BIGINT NOT NULL DEFAULT 0,
        suppressed BIGINT NOT NULL DEFAULT 0,
        cancelled BIGINT NOT NULL DEFAULT 0,
        sent BIGINT NOT NULL DEFAULT 0,
        delivered BIGINT NOT NULL DEFAULT 0,
        undelivered BIGINT NOT NULL DEFAULT 0,
        failed BIGINT NOT NULL DEFAULT 0,
        no_route BIGINT NOT NULL DEFAULT 0,
        rejected BIGINT NOT NULL DEFAULT 0,
        unknown BIGINT NOT NULL DEFAULT 0,
        clicks BIGINT NOT NULL DEFAULT 0,
        unique_clicks BIGINT NOT NULL DEFAULT 0,
        opt_outs BIGINT NOT NULL DEFAULT 0,
        replies BIGINT NOT NULL DEFAULT 0,
        cost_units BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, scope, key)
    )
    """,
    # Numbers handed out in blocks: each message's number leads its link codes.
    """
    CREATE TABLE IF NOT EXISTS sequences (
        name TEXT PRIMARY KEY,
        next BIGINT NOT NULL
    )
    """,
    "INSERT INTO sequences (name, next) VALUES ('message', 0) ON CONFLICT (name) DO NOTHING",
    # Each batch of messages and how far its handover to the carrier got: recorded (its
    # messages queued), claimed (the carrier is being given them, under `epoch`), then sent
    # or cancelled. What a new owner of the stream finishes.
    """
    CREATE TABLE IF NOT EXISTS batches (
        campaign_id TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        stream TEXT NOT NULL,
        state TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        done_at TEXT,
        PRIMARY KEY (campaign_id, first_seq)
    )
    """,
    "CREATE INDEX IF NOT EXISTS batches_open ON batches (stream) "
    "WHERE state IN ('recorded', 'claimed')",
    MARKS_TABLE,
)

# An OutgoingMessage's fields, as the messages table names them.
OUTGOING_COLUMNS = (
    "id, optout_code, campaign_id, seq, recipient, variant_id, epoch, text, parts, cost_units, "
    "domain, optout_domain"
)
MESSAGE_COLUMNS = f"{OUTGOING_COLUMNS}, status, created_at, updated_at"


OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS activity_outbox (
    id BIGSERIAL PRIMARY KEY,
    record TEXT NOT NULL
)
"""
APPLIED_TABLE = """
CREATE TABLE IF NOT EXISTS activity_applied (
    id BIGINT PRIMARY KEY
)
"""
# The outbox records a stats rebuild covered: every id up to `through` (one row).
REBUILT_TABLE = """
CREATE TABLE IF NOT EXISTS activity_rebuilt (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    through BIGINT NOT NULL
)
"""


class ActivityStore:
    """The activity tables and every way they change.

    With `outbox` (the scale-out topology), the counter changes of each write are not
    applied to the stats here: they are kept in the same transaction as an outbox record,
    which the relay publishes to Kafka and the stats projector applies (`apply_record`),
    exactly once. A stats rebuild recounts what every committed record said and marks
    them covered, so that none of them is applied again when it arrives later."""

    def __init__(
        self, database: Database, contacts_table: str = "contacts", *, outbox: bool = False
    ) -> None:
        self.database = database
        self.contacts_table = contacts_table  # where the contact lists' rows are
        self.outbox = outbox

    def count(self, cursor: Cursor, deltas: Deltas) -> None:
        """Applies counter changes to the stats, or keeps them for Kafka (see the class)."""
        if not deltas.flat:
            return
        if not self.outbox:
            deltas.write(cursor)
            return
        changes = [[*key, amount] for key, amount in deltas.flat.items() if amount]
        record = {"v": 2, "known": deltas.known, "counters": changes}
        cursor.execute(
            "INSERT INTO activity_outbox (record) VALUES (?)",
            (json.dumps(record, separators=(",", ":")),),
        )

    def apply_records(self, cursor: Cursor, records: Sequence[tuple[int, str]]) -> int:
        """Applies published outbox records (id, JSON) to the stats, each once, however
        often it was delivered, and none a stats rebuild covered; returns how many were
        new."""
        # Shared with other feeds, exclusive with a rebuild: a rebuild waits for the
        # records applied before it, and those applied after it see what it covered.
        cursor.execute("SELECT through FROM activity_rebuilt WHERE one = 1 FOR SHARE")
        row = cursor.fetchone()
        covered = int(row[0]) if row else 0
        by_known: dict[str | None, Deltas] = {}
        fresh = 0
        for record_id, text in records:
            if record_id <= covered:
                continue  # recounted by a rebuild
            cursor.execute(
                "INSERT INTO activity_applied (id) VALUES (?) ON CONFLICT (id) DO NOTHING "
                "RETURNING id",
                (record_id,),
            )
            if cursor.fetchone() is None:
                continue  # applied before
            fresh += 1
            record = json.loads(text)
            known = record.get("known")  # when it was recorded, not when it is applied
            deltas = by_known.setdefault(known, Deltas(known))
            for campaign_id, variant, domain, minute, metric, amount in record["counters"]:
                deltas.flat[(campaign_id, variant, domain, minute, metric)] += int(amount)
        for deltas in by_known.values():
            deltas.write(cursor, mark=False)
        # Every campaign marked at once, in id order, as every writer of marks does: marks
        # are held until the transaction ends, and two orders could wait on each other.
        mark_changed(cursor, (key[0] for deltas in by_known.values() for key in deltas.flat))
        return fresh

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            for statement in SCHEMA:
                cursor.execute(statement)
            for column in ("cancelled", "unknown"):
                add_missing_column(
                    cursor, self.database.dialect, "stats", column, "BIGINT NOT NULL DEFAULT 0"
                )
            if self.database.dialect == "postgres":
                # Each message is updated once or twice after its insert (receipts, a first
                # click): half of each page is left free for those new versions.
                cursor.execute(f"ALTER TABLE messages SET (fillfactor = {MESSAGES_FILLFACTOR})")
            if self.outbox:
                cursor.execute(OUTBOX_TABLE)
                cursor.execute(APPLIED_TABLE)
                cursor.execute(REBUILT_TABLE)
                cursor.execute(
                    "INSERT INTO activity_rebuilt (one, through) VALUES (1, 0) "
                    "ON CONFLICT (one) DO NOTHING"
                )

    # Audience (preparation).

    def snapshot_audience(
        self, campaign_id: str, list_ids: Sequence[str], fence: Fence | None = None
    ) -> int:
        """Fixes the campaign's audience: its lists merged, each number once (with the
        columns of the first list given that has it), opted-out numbers removed, numbered
        in the order of the numbers. Replaces an earlier snapshot (never one that messages
        were made from: AlreadyRecorded); returns its size."""
        if not list_ids:
            return 0
        audience, params = self.audience_select(list_ids)
        with self.database.transaction() as cursor:
            cursor.execute("SELECT 1 FROM messages WHERE campaign_id = ? LIMIT 1", (campaign_id,))
            if cursor.fetchone() is not None:
                raise AlreadyRecorded(
                    f"campaign {campaign_id} has messages: its audience is fixed already"
                )
            cursor.execute("DELETE FROM recipients WHERE campaign_id = ?", (campaign_id,))
            cursor.execute(
                "INSERT INTO recipients (campaign_id, seq, phone, fields) "
                "SELECT ?, ROW_NUMBER() OVER (ORDER BY phone) - 1, phone, fields "
                f"FROM ({audience}) AS audience",
                (campaign_id, *params),
            )
            cursor.execute("SELECT COUNT(*) FROM recipients WHERE campaign_id = ?", (campaign_id,))
            row = cursor.fetchone()
            self.fenced(cursor, fence)
        return int(row[0]) if row else 0

    def recipients_from(self, campaign_id: str, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """(position, phone, columns as JSON) of up to `limit` recipients from `seq` on."""
        with self.database.read() as cursor:
            # Bounded on both sides (positions are dense): with no upper bound, a planner
            # without statistics of a fresh snapshot fetched every later recipient and sorted.
            cursor.execute(
                "SELECT seq, phone, fields FROM recipients WHERE campaign_id = ? AND seq >= ? "
                "AND seq < ? ORDER BY seq LIMIT ?",
                (campaign_id, seq, seq + limit, limit),
            )
            rows = cursor.fetchall()
        return [(int(s), str(p), str(f)) for s, p, f in rows]

    def opted_out(self, phones: Sequence[str]) -> set[str]:
        with self.database.transaction() as cursor:
            rows = cursor.fetch_in("SELECT phone FROM opt_outs WHERE phone IN ?", phones)
        return {str(row[0]) for row in rows}

    # Dispatch.

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
            self.count(cursor, deltas)
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
        self.count(cursor, deltas)

    def fenced(self, cursor: Cursor, fence: Fence | None) -> None:
        """The last statement of a sending process's write: it commits only while `fence`
        is its stream's, which holds until it commits. Last, so that the lease's row is held
        for an instant (a process frozen meanwhile sits idle in its transaction, which the
        server ends), never across a long statement."""
        if fence is not None:
            check_fence(cursor, self.database.dialect, fence)

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
            self.count(cursor, deltas)
            self.fenced(cursor, fence)
        return len(ids)

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

    def campaigns_sending_since(self, stream: str, since: datetime) -> list[str]:
        """The campaigns that recorded batches on the stream since a moment."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT DISTINCT campaign_id FROM batches WHERE stream = ? AND recorded_at >= ? "
                "ORDER BY campaign_id",
                (stream, format_time(since)),
            )
            return [str(row[0]) for row in cursor.fetchall()]

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
        self.count(cursor, deltas)
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
        self.count(cursor, deltas)
        return moved

    @property
    def row_key(self) -> str:
        """What a read of locked messages selects to update them by later in the same
        transaction. On PostgreSQL the row's physical place (`ctid`: fixed while the row is
        locked), so the update goes straight to it; a join on ids was planned as a scan of
        the whole table while the table was still under a few hundred thousand rows."""
        return "ctid::text" if self.database.dialect == "postgres" else "id"

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

    @property
    def locking(self) -> str:
        """What a read of rows about to change adds, so concurrent writers on PostgreSQL
        queue on the rows (in one order: no deadlock) instead of both counting a change.
        SQLite needs nothing: a write transaction holds the whole database."""
        return " ORDER BY id FOR UPDATE" if self.database.dialect == "postgres" else ""

    def statuses(self, cursor: Cursor, ids: Sequence[str]) -> dict[str, str]:
        rows = cursor.fetch_in(
            "SELECT id, status FROM messages WHERE id IN ?" + self.locking, sorted(ids)
        )
        return {str(i): str(s) for i, s in rows}

    # Receipts (F20): a status never moves backwards.

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
            self.count(cursor, deltas)
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

    def message_facts(self, cursor: Cursor, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = cursor.fetch_in(
            "SELECT id, campaign_id, variant_id, domain, status, cost_units, recipient, "
            f"clicked_at, {self.row_key} FROM messages WHERE id IN ?" + self.locking,
            sorted(ids),
        )
        return {
            str(row[0]): {
                "campaign_id": row[1],
                "variant_id": row[2],
                "domain": row[3],
                "status": row[4],
                "cost_units": int(row[5]),
                "recipient": row[6],
                "clicked_at": row[7],
                "row": row[8],
            }
            for row in rows
        }

    # Clicks, opt-outs, replies.

    def record_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> int:
        """Records (message id, time, user agent) clicks; unknown codes are ignored."""
        if not clicks:
            return 0
        with self.database.transaction() as cursor:
            known = self.message_facts(cursor, sorted({c[0] for c in clicks}))
            deltas = Deltas()
            rows = []
            first_clicks = []
            times: dict[datetime, tuple[str, str]] = {}
            for message_id, at, agent in sorted(clicks, key=lambda click: click[1]):
                facts = known.get(message_id)
                if facts is None:
                    continue
                stamp = times.get(at)
                if stamp is None:
                    stamp = times[at] = (format_time(at), minute_of(at))
                rows.append((message_id, stamp[0], agent[:300]))
                scope = {"variant": facts["variant_id"], "domain": facts["domain"]}
                deltas.add(facts["campaign_id"], "clicks", minute=stamp[1], **scope)
                if facts["clicked_at"] is None:
                    facts["clicked_at"] = stamp[0]
                    first_clicks.append((stamp[0], facts["row"]))
                    deltas.add(facts["campaign_id"], "unique_clicks", **scope)
            self.set_clicked(cursor, first_clicks)
            cursor.copy_rows("clicks", "message_id, at, user_agent", rows)
            self.count(cursor, deltas)
        return len(rows)

    def set_clicked(self, cursor: Cursor, changes: Sequence[tuple[str, str]]) -> None:
        """(first clicked at, row key) for each message clicked for the first time, the
        row key as `row_key` read it under the row's lock."""
        if not changes:
            return
        if self.database.dialect != "postgres":
            cursor.executemany("UPDATE messages SET clicked_at = ? WHERE id = ?", changes)
            return
        clicked, rows = (list(column) for column in zip(*changes, strict=True))
        cursor.execute(
            "UPDATE messages AS m SET clicked_at = c.clicked_at "
            "FROM unnest(?::text[], ?::text[]::tid[]) AS c(clicked_at, place) "
            "WHERE m.ctid = c.place",
            (clicked, rows),
        )

    def opt_out(
        self,
        phone: str,
        at: datetime,
        *,
        source: str,
        campaign_id: str | None = None,
        message_id: str | None = None,
        cursor: Cursor | None = None,
    ) -> bool:
        """Opts a number out of every later campaign; False when it already was."""
        if cursor is None:
            with self.database.transaction() as own:
                return self.opt_out(
                    phone,
                    at,
                    source=source,
                    campaign_id=campaign_id,
                    message_id=message_id,
                    cursor=own,
                )
        cursor.execute(
            "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (phone) DO NOTHING RETURNING phone",
            (phone, format_time(at), campaign_id, message_id, source),
        )
        if cursor.fetchone() is None:
            return False  # opted out before: the first opt-out stands
        if campaign_id:
            deltas = Deltas()
            deltas.add(campaign_id, "opt_outs", minute=minute_of(at))
            self.count(cursor, deltas)
        return True

    def opt_out_by_code(self, code: str, at: datetime, source: str) -> MessageRef | None:
        """Opts out the recipient of the message whose opt-out link has `code`."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE optout_code = ?", (code,)
            )
            row = cursor.fetchone()
            if row is None:
                return None
            self.opt_out(
                str(row[2]),
                at,
                source=source,
                campaign_id=str(row[1]),
                message_id=str(row[0]),
                cursor=cursor,
            )
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None)

    def opt_out_by_codes(self, codes: Sequence[tuple[str, datetime]], source: str) -> int:
        """Opts out, in one transaction, the recipients of messages by opt-out link code."""
        if not codes:
            return 0
        with self.database.transaction() as cursor:
            found = cursor.fetch_in(
                "SELECT optout_code, id, campaign_id, recipient FROM messages "
                "WHERE optout_code IN ?",
                sorted({code for code, _at in codes}),
            )
            by_code = {str(row[0]): (str(row[1]), str(row[2]), str(row[3])) for row in found}
            first: dict[str, tuple[str, str, str | None, str | None, str]] = {}
            for code, at in codes:  # a number in the batch twice: the first opt-out stands
                if code in by_code:
                    message_id, campaign_id, phone = by_code[code]
                    row = (phone, format_time(at), campaign_id, message_id, source)
                    first.setdefault(phone, row)
            added = self.insert_opt_outs(cursor, list(first.values()))
            deltas = Deltas()
            for phone, at_text, opted_campaign, _message_id, _source in first.values():
                if phone in added and opted_campaign:
                    deltas.add(opted_campaign, "opt_outs", minute=at_text[:16] + "Z")
            self.count(cursor, deltas)
        return len(added)

    def insert_opt_outs(
        self, cursor: Cursor, rows: Sequence[tuple[str, str, str | None, str | None, str]]
    ) -> set[str]:
        """Inserts (phone, at, campaign, message, source) opt-outs of distinct numbers;
        returns the numbers that were not opted out before."""
        if self.database.dialect != "postgres":
            added = set()
            for row in rows:
                cursor.execute(
                    "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (phone) DO NOTHING RETURNING phone",
                    row,
                )
                if cursor.fetchone() is not None:
                    added.add(row[0])
            return added
        if not rows:
            return set()
        # One statement for the batch (the driver spends its time per statement).
        columns = [list(column) for column in zip(*rows, strict=True)]
        cursor.execute(
            "INSERT INTO opt_outs (phone, at, campaign_id, message_id, source) "
            "SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) "
            "ON CONFLICT (phone) DO NOTHING RETURNING phone",
            columns,
        )
        return {str(row[0]) for row in cursor.fetchall()}

    def message_by_optout_code(self, code: str) -> MessageRef | None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE optout_code = ?", (code,)
            )
            row = cursor.fetchone()
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None) if row else None

    def message_by_id(self, message_id: str) -> MessageRef | None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, campaign_id, recipient FROM messages WHERE id = ?", (message_id,)
            )
            row = cursor.fetchone()
        return MessageRef(str(row[0]), str(row[1]), str(row[2]), None) if row else None

    def record_reply(
        self, phone: str, text: str, at: datetime, *, opts_out: bool
    ) -> tuple[str | None, bool]:
        """Records a reply against the latest campaign that messaged the number."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT campaign_id, id FROM messages WHERE recipient = ? "
                "ORDER BY created_at DESC LIMIT 1",
                (phone,),
            )
            row = cursor.fetchone()
            campaign_id = str(row[0]) if row else None
            opted = False
            if opts_out:
                opted = self.opt_out(
                    phone,
                    at,
                    source="reply",
                    campaign_id=campaign_id,
                    message_id=str(row[1]) if row else None,
                    cursor=cursor,
                )
            cursor.execute(
                "INSERT INTO replies (phone, at, text, campaign_id, opted_out) "
                "VALUES (?, ?, ?, ?, ?)",
                (phone, format_time(at), text[:1600], campaign_id, int(opted)),
            )
            if campaign_id:
                deltas = Deltas()
                deltas.add(campaign_id, "replies", minute=minute_of(at))
                self.count(cursor, deltas)
        return campaign_id, opted

    # Recounting: the stats from the rows they count.

    def recount(self, cursor: Cursor) -> dict[tuple[str, str, str], Counter[str]]:
        """Every stats row as the activity rows say it should be (zero counters left out):
        each message counts by its status, at the minute it was sent and the minute its
        outcome came; clicks, opt-outs and replies at their own minutes."""
        deltas = Deltas()
        flat = deltas.flat
        cursor.execute(
            "SELECT campaign_id, variant_id, domain, status, COUNT(*), SUM(cost_units), "
            "SUBSTR(sent_at, 1, 16), SUBSTR(updated_at, 1, 16), "
            "SUM(CASE WHEN clicked_at IS NULL THEN 0 ELSE 1 END) FROM messages "
            "GROUP BY campaign_id, variant_id, domain, status, "
            "SUBSTR(sent_at, 1, 16), SUBSTR(updated_at, 1, 16)"
        )
        for (
            campaign,
            variant,
            domain,
            status,
            count,
            cost,
            sent,
            updated,
            clicked,
        ) in cursor.fetchall():
            count, cost, clicked = int(count), int(cost or 0), int(clicked or 0)
            if status in UNSENT:
                flat[(campaign, None, None, None, status)] += count
                continue
            sent_minute = f"{sent}Z" if sent else None
            flat[(campaign, variant, domain, sent_minute, "sent")] += count
            flat[(campaign, variant, domain, sent_minute, "cost_units")] += cost
            if status in OUTCOMES:
                flat[(campaign, variant, domain, f"{updated}Z", status)] += count
            flat[(campaign, variant, domain, None, "unique_clicks")] += clicked
        cursor.execute(
            "SELECT m.campaign_id, m.variant_id, m.domain, SUBSTR(c.at, 1, 16), COUNT(*) "
            "FROM clicks c JOIN messages m ON m.id = c.message_id "
            "GROUP BY m.campaign_id, m.variant_id, m.domain, SUBSTR(c.at, 1, 16)"
        )
        for campaign, variant, domain, minute, count in cursor.fetchall():
            flat[(campaign, variant, domain, f"{minute}Z", "clicks")] += int(count)
        for table, metric in (("opt_outs", "opt_outs"), ("replies", "replies")):
            cursor.execute(
                f"SELECT campaign_id, SUBSTR(at, 1, 16), COUNT(*) FROM {table} "
                "WHERE campaign_id IS NOT NULL GROUP BY campaign_id, SUBSTR(at, 1, 16)"
            )
            for campaign, minute, count in cursor.fetchall():
                flat[(campaign, None, None, f"{minute}Z", metric)] += int(count)
        return {
            key: counts
            for key, counts in deltas.scoped().items()
            if +counts and key[1] != KNOWN  # when facts became known is not in their rows
        }

    def stored_stats(self, cursor: Cursor) -> dict[tuple[str, str, str], Counter[str]]:
        cursor.execute(
            f"SELECT campaign_id, scope, key, {', '.join(COUNTERS)} FROM stats WHERE scope <> ?",
            (KNOWN,),
        )
        found = {}
        for row in cursor.fetchall():
            counts = Counter({c: int(v) for c, v in zip(COUNTERS, row[3:], strict=True) if v})
            if counts:
                found[(str(row[0]), str(row[1]), str(row[2]))] = counts
        return found

    def verify_stats(self) -> list[str]:
        """Differences between the stats and a recount from the activity rows."""
        with self.database.snapshot() as cursor:
            stored, expected = self.stored_stats(cursor), self.recount(cursor)
        differences = []
        for key in sorted(set(stored) | set(expected)):
            if stored.get(key, Counter()) != expected.get(key, Counter()):
                differences.append(
                    f"stats {key}: stored {dict(stored.get(key, {}))}, "
                    f"recounted {dict(expected.get(key, {}))}"
                )
        return differences

    def rebuild_stats(self) -> int:
        """Replaces the stats with a recount from the activity rows; returns the rows. With
        the outbox, every record committed before the recount is marked covered (see the
        class): none is counted twice, none that came after is lost."""
        with self.database.transaction() as cursor:
            if self.outbox:
                # No activity write commits while the recount reads (each adds an outbox
                # row), and no feed applies a record meanwhile.
                cursor.execute("LOCK TABLE activity_outbox IN EXCLUSIVE MODE")
                cursor.execute("SELECT through FROM activity_rebuilt WHERE one = 1 FOR UPDATE")
            # The `known` rows stay: a recount cannot know when each fact was first known.
            cursor.execute("DELETE FROM stats WHERE scope <> ?", (KNOWN,))
            rows = self.recount(cursor)
            cursor.executemany(
                f"INSERT INTO stats (campaign_id, scope, key, {', '.join(COUNTERS)}) "
                f"VALUES (?, ?, ?, {', '.join('?' for _ in COUNTERS)})",
                [
                    (campaign, scope, key, *(counts.get(c, 0) for c in COUNTERS))
                    for (campaign, scope, key), counts in sorted(rows.items())
                ],
            )
            if self.outbox:
                self.cover_outbox(cursor)
        return len(rows)

    def cover_outbox(self, cursor: Cursor) -> None:
        """Marks every outbox record numbered so far as covered by a rebuild (the table is
        locked: each of them is committed or never will be); those not yet published are
        not published at all."""
        cursor.execute("SELECT pg_get_serial_sequence('activity_outbox', 'id')")
        found = cursor.fetchone()
        assert found is not None and found[0], "the outbox numbers its records"
        # The name comes from the database, qualified and quoted where needed.
        cursor.execute(f"SELECT last_value, is_called FROM {found[0]}")
        row = cursor.fetchone()
        through = int(row[0]) if row and row[1] else 0
        cursor.execute("UPDATE activity_rebuilt SET through = ? WHERE one = 1", (through,))
        cursor.execute("DELETE FROM activity_outbox WHERE id <= ?", (through,))
        cursor.execute("DELETE FROM activity_applied WHERE id <= ?", (through,))

    # Reading.

    def counters(self, campaign_id: str) -> dict[tuple[str, str], dict[str, int]]:
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT scope, key, {', '.join(COUNTERS)} FROM stats WHERE campaign_id = ?",
                (campaign_id,),
            )
            rows = cursor.fetchall()
        return {
            (str(row[0]), str(row[1])): dict(zip(COUNTERS, map(int, row[2:]), strict=True))
            for row in rows
        }

    def campaigns_counters(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """The campaign-wide counters of several campaigns (a page of the list) at once."""
        found: dict[str, dict[str, int]] = {}
        with self.database.read() as cursor:
            for start in range(0, len(campaign_ids), 500):
                chunk = list(campaign_ids[start : start + 500])
                cursor.execute(
                    f"SELECT campaign_id, {', '.join(COUNTERS)} FROM stats "
                    "WHERE scope = 'campaign' "
                    f"AND key = '' AND campaign_id IN ({', '.join('?' for _ in chunk)})",
                    chunk,
                )
                for row in cursor.fetchall():
                    found[str(row[0])] = dict(zip(COUNTERS, map(int, row[1:]), strict=True))
        return found

    def campaign_counters(self, campaign_id: str) -> dict[str, int]:
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT {', '.join(COUNTERS)} FROM stats "
                "WHERE campaign_id = ? AND scope = 'campaign' AND key = ''",
                (campaign_id,),
            )
            row = cursor.fetchone()
        if row is None:
            return dict.fromkeys(COUNTERS, 0)
        return dict(zip(COUNTERS, map(int, row), strict=True))

    def messages(self, campaign_id: str, page: int, per_page: int) -> tuple[list[Any], int]:
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

    def count_messages_per_recipient(self, campaign_id: str) -> Iterator[tuple[str, int]]:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT recipient, COUNT(*) FROM messages WHERE campaign_id = ? GROUP BY recipient",
                (campaign_id,),
            )
            rows = cursor.fetchall()
        for phone, count in rows:
            yield str(phone), int(count)

    # The wizard's Summary and time travel (gateway/campaign_activity.py).

    def audience_select(self, list_ids: Sequence[str]) -> tuple[str, list[str]]:
        """The audience `snapshot_audience` would fix, as a query of (phone, fields): the
        lists merged, each number once with the first given list's columns, opted-out
        numbers removed."""
        if len(list_ids) == 1:  # a list holds each number once: nothing to merge
            sql = (
                f"SELECT phone, fields FROM {self.contacts_table} AS merged WHERE list_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = merged.phone)"
            )
            return sql, [list_ids[0]]
        marks = ", ".join("?" for _ in list_ids)
        precedence = " ".join(f"WHEN ? THEN {i}" for i in range(len(list_ids)))
        sql = (
            "SELECT phone, fields FROM ("
            "  SELECT phone, fields, ROW_NUMBER() OVER ("
            f"    PARTITION BY phone ORDER BY CASE list_id {precedence} END) AS choice"
            f"  FROM {self.contacts_table} WHERE list_id IN ({marks})"
            ") AS merged WHERE choice = 1 "
            "AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = merged.phone)"
        )
        return sql, [*list_ids, *list_ids]

    def count_audience(self, list_ids: Sequence[str], prefix_length: int) -> list[tuple[str, int]]:
        """How many numbers the audience would have now, per their first `prefix_length`
        characters, in number order; nothing is stored."""
        if not list_ids:
            return []
        sql, params = self.audience_select(list_ids)
        with self.database.read() as cursor:
            length = int(prefix_length)  # a literal: PostgreSQL groups by the same expression
            cursor.execute(
                f"SELECT SUBSTR(phone, 1, {length}), COUNT(*) FROM ({sql}) AS audience "
                f"GROUP BY SUBSTR(phone, 1, {length})",
                params,
            )
            rows = cursor.fetchall()
        return sorted((str(prefix), int(count)) for prefix, count in rows)

    def first_of_audience(self, list_ids: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        """The number (and columns) the audience would start with: a sample contact."""
        if not list_ids:
            return None
        sql, params = self.audience_select(list_ids)
        with self.database.read() as cursor:
            cursor.execute(f"{sql} ORDER BY phone LIMIT 1", params)
            row = cursor.fetchone()
        return (str(row[0]), json.loads(row[1])) if row else None

    def unique_clicks_before(self, campaign_id: str, moment: datetime) -> int:
        """Messages of the campaign first clicked before `moment` (the per-minute stats do
        not keep unique clicks)."""
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND clicked_at < ?",
                (campaign_id, format_time(moment)),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else 0
