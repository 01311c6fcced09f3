"""The campaign stats: counters per campaign, variant, domain and minute, changed in the
transaction of each activity write (or kept there as an outbox record for Kafka), and
recounted from the activity rows to verify or rebuild them. Money is counted in units of
1/10,000 so that sums in SQL stay exact."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from domain.fields import format_time
from domain.stream import MESSAGE_OUTCOMES
from projections.changes import mark_changed
from projections.database import Cursor, Database

OUTCOMES = MESSAGE_OUTCOMES  # a carrier's answers, and `unknown` (its answer never came)
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


def to_units(amount: Decimal) -> int:
    return int((amount / COST_UNIT).to_integral_value())


def from_units(units: int) -> Decimal:
    return (Decimal(units) * COST_UNIT).quantize(COST_UNIT)


def minute_of(moment: datetime) -> str:
    return format_time(moment)[:16] + "Z"


def second_of(moment: datetime) -> str:
    return format_time(moment)[:19] + "Z"


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


class Stats:
    """The stats table and every way it changes.

    With `outbox` (the scale-out topology), the counter changes of each write are not
    applied to the stats here: they are kept in the same transaction as an outbox record,
    which the relay publishes to Kafka and the stats projector applies (`apply_records`),
    exactly once. A stats rebuild recounts what every committed record said and marks
    them covered, so that none of them is applied again when it arrives later."""

    def __init__(self, database: Database, *, outbox: bool = False) -> None:
        self.database = database
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
