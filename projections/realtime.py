"""The realtime rows (F12): one live row per campaign for the wall, and a numbered log of
their changes that the WebSocket hubs follow.

A row is drawn from the other read models (the campaign list, the stats, domain usage)
whenever they mark the campaign as changed (see projections.changes). Each refresh takes the
marks, redraws those campaigns' rows, and writes the rows that differ with the next numbers
of the change log, all in one transaction: the log's number is the position a wall's
snapshot and updates reflect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.fields import format_time
from domain.settings import DEFAULT_DOMAIN_LIMIT
from domain.status import Status
from domain.stream import FAILURES
from projections.activity import COUNTERS, from_units, minute_of
from projections.changes import (
    EVERY_CAMPAIGN,
    MARKS_TABLE,
    expand_every_campaign,
    mark_changed,
)
from projections.database import Cursor, Database
from projections.domain_usage import is_limit_set
from projections.messages import EventMessage

Row = dict[str, Any]

TRACKING = "realtime"  # its row in projection_tracking: the last number of the change log
IDS_PER_QUERY = 500
KEEP_CHANGES = 20_000  # the change log keeps at least this many of its latest entries
# Fields that depend on the moment they were drawn, not only on the stored rows.
MOMENTARY = ("send_rate", "updated_at")

ROWS_TABLE = """
CREATE TABLE IF NOT EXISTS realtime_rows (
    campaign_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    row_json TEXT NOT NULL
)
"""
CHANGES_TABLE = """
CREATE TABLE IF NOT EXISTS realtime_changes (
    seq BIGINT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    row_json TEXT NOT NULL
)
"""


class CampaignMarks:
    """A view for the campaign list's projector: marks the campaigns a batch of events
    changed, in the projector's transaction. It has no rows of its own."""

    tables: tuple[str, ...] = ()

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute(MARKS_TABLE)

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        mark_changed(cursor, self.touched(messages))

    @staticmethod
    def touched(messages: Sequence[EventMessage]) -> set[str]:
        return {m.aggregate_id for m in messages if m.aggregate == "Campaign"}

    def replay(self) -> MarksReplay:
        return MarksReplay(self.touched)


class DomainMarks:
    """A view for domain usage's projector, after DomainUsageView: marks the campaigns whose
    domains carried messages or changed status."""

    tables: tuple[str, ...] = ()

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute(MARKS_TABLE)

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        campaign_ids = self.touched(messages) | served_by(cursor, self.changed_domains(messages))
        if any(is_limit_set(m) for m in messages):
            campaign_ids |= served_by_any(cursor)
        mark_changed(cursor, campaign_ids)  # once, in id order (see `mark_changed`)

    @staticmethod
    def touched(messages: Sequence[EventMessage]) -> set[str]:
        return {
            str(m.data["campaign_id"])
            for m in messages
            if m.aggregate == "LinkDomain"
            and m.name == "UsageRecorded"
            and m.data.get("campaign_id")
        }

    @staticmethod
    def changed_domains(messages: Sequence[EventMessage]) -> set[str]:
        """Domains whose status changed: LinkDomain status events (a new limit changes
        every domain's shown status, see `apply`)."""
        return {
            m.aggregate_id
            for m in messages
            if m.aggregate == "LinkDomain" and m.name == "StatusChanged"
        }

    def replay(self) -> MarksReplay:
        return MarksReplay(self.touched, every_served=True)


class MarksReplay:
    """A rebuild's marks: gathered over the whole replay, written at its end (after the
    views before it have written their rows)."""

    def __init__(
        self,
        touched: Callable[[Sequence[EventMessage]], set[str]],
        *,
        every_served: bool = False,
    ) -> None:
        self.touched = touched
        self.every_served = every_served  # domains rebuilt: every campaign they served
        self.campaign_ids: set[str] = set()

    def add(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        self.campaign_ids |= self.touched(messages)

    def finish(self, cursor: Cursor) -> None:
        if self.every_served:
            self.campaign_ids |= served_by_any(cursor)
        mark_changed(cursor, self.campaign_ids)


def served_by_any(cursor: Cursor) -> set[str]:
    """Every campaign some domain served (to mark when the limit they are held to changed)."""
    cursor.execute("SELECT DISTINCT campaign_id FROM domain_campaign_usage")
    return {str(row[0]) for row in cursor.fetchall()}


def served_by(cursor: Cursor, domain_ids: set[str]) -> set[str]:
    """Every campaign these domains served (a domain's status shows on their rows)."""
    found: set[str] = set()
    for chunk in chunks(sorted(domain_ids)):
        cursor.execute(
            "SELECT DISTINCT campaign_id FROM domain_campaign_usage "
            f"WHERE domain_id IN ({marks_for(chunk)})",
            chunk,
        )
        found.update(str(row[0]) for row in cursor.fetchall())
    return found


class RealtimeRows:
    """The rows and their change log, in the read models' database."""

    tables: tuple[str, ...] = ("realtime_rows", "realtime_changes")

    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(MARKS_TABLE)
            cursor.execute(ROWS_TABLE)
            cursor.execute(CHANGES_TABLE)
            cursor.execute(
                "INSERT INTO projection_tracking (projection, position) VALUES (?, 0) "
                "ON CONFLICT (projection) DO NOTHING",
                (TRACKING,),
            )

    # Writing.

    def refresh(self, now: datetime | None = None, limit: int = 2000) -> int:
        """Redraws the rows of up to `limit` marked campaigns and logs those that changed;
        returns the last number of the change log."""
        moment = now or datetime.now(UTC)
        with self.database.transaction() as cursor:
            # Taking the marks first: a writer marking a campaign while this runs waits for
            # it (PostgreSQL) or cannot run meanwhile (SQLite), and its mark stays for the
            # next refresh.
            campaign_ids = self.take_marks(cursor, limit)
            position = self.read_position(cursor)
            if not campaign_ids:
                return position
            drawn = draw_rows(cursor, campaign_ids, moment)
            stored = stored_rows(cursor, campaign_ids)
            changes = []
            for campaign_id in campaign_ids:
                row = drawn.get(campaign_id)
                if row is None or same_row(row, stored.get(campaign_id)):
                    continue
                position += 1
                changes.append((position, campaign_id, json.dumps(row, separators=(",", ":"))))
            if changes:
                cursor.executemany(
                    "INSERT INTO realtime_rows (campaign_id, seq, row_json) VALUES (?, ?, ?) "
                    "ON CONFLICT (campaign_id) DO UPDATE SET seq = excluded.seq, "
                    "row_json = excluded.row_json",
                    [(campaign_id, seq, text) for seq, campaign_id, text in changes],
                )
                cursor.executemany(
                    "INSERT INTO realtime_changes (seq, campaign_id, row_json) VALUES (?, ?, ?)",
                    changes,
                )
                cursor.execute(
                    "UPDATE projection_tracking SET position = ? WHERE projection = ?",
                    (position, TRACKING),
                )
            return position

    def take_marks(self, cursor: Cursor, limit: int) -> list[str]:
        """Takes up to `limit` marks in this transaction. On PostgreSQL a mark a writer holds
        (its transaction has not ended) is left for the next refresh, and a mark taken here
        is locked, so a writer marking it meanwhile waits for this transaction and then
        marks it anew (`mark_changed`): no wait here, and no change missed."""
        expand_every_campaign(cursor)
        cursor.execute(
            "SELECT campaign_id FROM campaign_changes ORDER BY campaign_id LIMIT ?"
            + (" FOR UPDATE SKIP LOCKED" if self.database.dialect == "postgres" else ""),
            (limit,),
        )
        campaign_ids = [str(row[0]) for row in cursor.fetchall()]
        for chunk in chunks(campaign_ids):
            cursor.execute(
                f"DELETE FROM campaign_changes WHERE campaign_id IN ({marks_for(chunk)})", chunk
            )
        return campaign_ids

    def mark_all(self) -> int:
        """Marks every campaign (a rebuild: the next refreshes redraw every row)."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT INTO campaign_changes (campaign_id) SELECT id FROM campaign_list "
                "WHERE true ON CONFLICT (campaign_id) DO NOTHING"  # WHERE: SQLite's parser
            )
            cursor.execute("SELECT COUNT(*) FROM campaign_changes")
            found = cursor.fetchone()
        return int(found[0]) if found else 0

    def mark(self, campaign_ids: Iterable[str]) -> None:
        with self.database.transaction() as cursor:
            mark_changed(cursor, campaign_ids)

    def mark_sending(self) -> None:
        """Marks the campaigns that are sending: their send rate moves with the clock."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT INTO campaign_changes (campaign_id) SELECT id FROM campaign_list "
                "WHERE status = ? ON CONFLICT (campaign_id) DO NOTHING",
                (str(Status.SENDING),),
            )

    def pending(self) -> int:
        with self.database.read() as cursor:
            cursor.execute("SELECT COUNT(*) FROM campaign_changes")
            found = cursor.fetchone()
        return int(found[0]) if found else 0

    def prune(self, keep: int = KEEP_CHANGES, below: int | None = None) -> None:
        """Forgets old entries of the change log (a wall further behind gets a snapshot);
        never those at or above `below` (not yet published)."""
        with self.database.transaction() as cursor:
            limit = self.read_position(cursor) - keep
            if below is not None:
                limit = min(limit, below)
            if limit > 0:
                cursor.execute("DELETE FROM realtime_changes WHERE seq <= ?", (limit,))

    # Reading.

    @staticmethod
    def read_position(cursor: Cursor) -> int:
        cursor.execute("SELECT position FROM projection_tracking WHERE projection = ?", (TRACKING,))
        found = cursor.fetchone()
        return int(found[0]) if found else 0

    def position(self) -> int:
        with self.database.read() as cursor:
            return self.read_position(cursor)

    def snapshot(self) -> tuple[int, list[Row]]:
        """Every row and the position they reflect, read together."""
        with self.database.snapshot() as cursor:
            position = self.read_position(cursor)
            cursor.execute("SELECT row_json FROM realtime_rows")
            rows = [json.loads(text) for (text,) in cursor.fetchall()]
        return position, rows

    def changes_after(self, position: int, limit: int = 1000) -> list[tuple[int, Row]] | None:
        """The logged changes after `position`, in order; None when the log no longer
        reaches back that far."""
        with self.database.snapshot() as cursor:
            cursor.execute(
                "SELECT seq, row_json FROM realtime_changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (position, limit),
            )
            found = [(int(seq), json.loads(text)) for seq, text in cursor.fetchall()]
            if found and found[0][0] != position + 1:
                return None
            if not found and self.read_position(cursor) > position:
                return None
        return found

    def verify(self, now: datetime | None = None) -> list[str]:
        """Rows that differ from the rows drawn afresh from the other read models (their
        momentary fields aside; campaigns still marked are not due yet)."""
        moment = now or datetime.now(UTC)
        differences = []
        with self.database.snapshot() as cursor:
            cursor.execute("SELECT campaign_id FROM campaign_changes")
            pending = {str(row[0]) for row in cursor.fetchall()}
            if EVERY_CAMPAIGN in pending:  # every row is due for a redraw
                return []
            cursor.execute("SELECT id FROM campaign_list")
            campaign_ids = [str(row[0]) for row in cursor.fetchall()]
            drawn = draw_rows(cursor, campaign_ids, moment)
            stored = stored_rows(cursor, campaign_ids)
        for campaign_id in campaign_ids:
            if campaign_id in pending:
                continue
            fresh, live = drawn.get(campaign_id), stored.get(campaign_id)
            if live is None:
                differences.append(f"realtime_rows: missing {campaign_id}")
            elif fresh is not None and not same_row(fresh, live, MOMENTARY):
                differences.append(f"realtime_rows: {campaign_id} differs: {live} != {fresh}")
        return differences


# Drawing rows.


def draw_rows(cursor: Cursor, campaign_ids: Sequence[str], now: datetime) -> dict[str, Row]:
    """The live rows of these campaigns as the other read models show them now."""
    listed = listed_campaigns(cursor, campaign_ids)
    counters = campaign_counters(cursor, list(listed))
    rates = send_rates(cursor, list(listed), now)
    domains = campaign_domains(cursor, list(listed))
    updated_at = format_time(now)
    return {
        campaign_id: row_of(
            fields,
            counters.get(campaign_id, {}),
            rates.get(campaign_id, 0.0),
            domains.get(campaign_id, []),
            updated_at,
        )
        for campaign_id, fields in listed.items()
    }


def row_of(
    fields: dict[str, Any],
    counters: dict[str, int],
    rate: float,
    domains: list[dict[str, Any]],
    updated_at: str,
) -> Row:
    sent, delivered = counters.get("sent", 0), counters.get("delivered", 0)
    unique_clicks = counters.get("unique_clicks", 0)
    return {
        **fields,
        "sent": sent,
        "delivered": delivered,
        "failed": sum(counters.get(name, 0) for name in FAILURES),
        "clicks": counters.get("clicks", 0),
        "unique_clicks": unique_clicks,
        "ctr": None if delivered == 0 else round(unique_clicks * 100 / delivered, 2),
        "opt_outs": counters.get("opt_outs", 0),
        "replies": counters.get("replies", 0),
        "cost": str(from_units(counters.get("cost_units", 0))),
        "send_rate": rate if fields["status"] == str(Status.SENDING) else 0.0,
        "domains": domains,
        "active_domains": [d["name"] for d in domains if d["status"] == "Configured"],
        "updated_at": updated_at,
    }


LISTED = ("id", "name", "status", "status_reason", "tags", "type", "stream", "created_at")


def listed_campaigns(cursor: Cursor, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    found = {}
    sql = f"SELECT {', '.join(LISTED)}, recipients_total FROM campaign_list WHERE id IN ?"
    for row in cursor.fetch_in(sql, campaign_ids):
        fields = dict(zip(LISTED, row, strict=False))
        fields["tags"] = json.loads(fields["tags"])
        fields["recipients"] = int(row[-1])
        found[str(fields["id"])] = fields
    return found


def campaign_counters(cursor: Cursor, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    rows = cursor.fetch_in(
        f"SELECT campaign_id, {', '.join(COUNTERS)} FROM stats WHERE scope = 'campaign' "
        "AND key = '' AND campaign_id IN ?",
        campaign_ids,
    )
    return {str(row[0]): dict(zip(COUNTERS, map(int, row[1:]), strict=True)) for row in rows}


def send_rates(cursor: Cursor, campaign_ids: Sequence[str], now: datetime) -> dict[str, float]:
    """Messages per second over the last minute, from the per-minute counters: all of the
    current minute and the part of the previous one that falls within the last 60 s (with
    nothing sent in the previous minute, over the seconds of this one so far)."""
    current, previous = minute_of(now), minute_of(now - timedelta(minutes=1))
    into_minute = now.second + now.microsecond / 1e6
    counts: dict[str, dict[str, int]] = {}
    for chunk in chunks(campaign_ids):
        cursor.execute(
            "SELECT campaign_id, key, sent FROM stats WHERE scope = 'minute' "
            f"AND key IN (?, ?) AND campaign_id IN ({marks_for(chunk)})",
            [current, previous, *chunk],
        )
        for campaign_id, key, count in cursor.fetchall():
            counts.setdefault(str(campaign_id), {})[str(key)] = int(count)
    rates = {}
    for campaign_id, sent in counts.items():
        before, now_sent = sent.get(previous, 0), sent.get(current, 0)
        if before:
            rate = (before * (1 - into_minute / 60) + now_sent) / 60
        else:
            rate = now_sent / max(into_minute, 1.0)
        rates[campaign_id] = round(rate, 1)
    return rates


def campaign_domains(cursor: Cursor, campaign_ids: Sequence[str]) -> dict[str, list[Row]]:
    """The link domains that carried each campaign's messages (for it), with their status
    now: Reached Limit for a Configured one whose total usage reached the limit."""
    cursor.execute("SELECT value FROM domain_limit")
    stored = cursor.fetchone()
    limit = int(stored[0]) if stored else DEFAULT_DOMAIN_LIMIT
    found: dict[str, list[Row]] = {}
    rows = cursor.fetch_in(
        "SELECT u.campaign_id, d.name, d.status, d.usage, u.usage "
        "FROM domain_campaign_usage u JOIN domain_usage d ON d.domain_id = u.domain_id "
        "WHERE u.campaign_id IN ? ORDER BY d.name",
        campaign_ids,
    )
    for campaign_id, name, status, total, usage in rows:
        if status == "Configured" and int(total) >= limit:
            status = "Reached Limit"  # as the domain's own status_under shows it
        found.setdefault(str(campaign_id), []).append(
            {"name": name, "status": status, "usage": int(usage)}
        )
    return found


def stored_rows(cursor: Cursor, campaign_ids: Sequence[str]) -> dict[str, Row]:
    rows = cursor.fetch_in(
        "SELECT campaign_id, row_json FROM realtime_rows WHERE campaign_id IN ?", campaign_ids
    )
    return {str(campaign_id): json.loads(text) for campaign_id, text in rows}


def same_row(row: Row, other: Row | None, ignored: Sequence[str] = ("updated_at",)) -> bool:
    """Whether two rows show the same, apart from `ignored` fields."""
    if other is None:
        return False
    keys = (row.keys() | other.keys()) - set(ignored)
    return all(row.get(key) == other.get(key) for key in keys)


def chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), IDS_PER_QUERY):
        yield list(items[start : start + IDS_PER_QUERY])


def marks_for(chunk: Sequence[str]) -> str:
    return ", ".join("?" for _ in chunk)
