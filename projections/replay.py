"""The wall as it was (F15): campaigns' live rows at any past moment, rebuilt from the stored
events and the per-minute counters, for a replay of a time range onto the Realtime page.

Fields and statuses come from the events up to the moment; the figures are the per-minute
counters summed up to the minute that holds it (so they are precise to the minute, as the
stats' `as_of` is).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from domain.fields import format_time
from domain.status import Status
from projections.activity import COUNTERS, UNSENT, minute_of
from projections.campaign_list import changed_columns, created_row
from projections.database import Database
from projections.messages import EventMessage
from projections.projector import Reader
from projections.realtime import Row, row_of

# unique_clicks is counted per campaign only; minute_counters adds it from the messages.
READ_BATCH = 2000
MINUTE_METRICS = tuple(c for c in COUNTERS if c not in (*UNSENT, "unique_clicks"))


class PastRows:
    """Campaign rows that follow the events and the minutes fed to them, in time order."""

    def __init__(self, minutes: dict[str, list[tuple[str, dict[str, int]]]]) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.domain_names: dict[str, str] = {}
        self.usage: dict[str, dict[str, int]] = {}  # campaign id -> domain name -> messages
        self.minutes = minutes  # campaign id -> [(minute, counters)] in time order
        self.counted: dict[str, int] = {}  # campaign id -> minutes summed so far
        self.totals: dict[str, dict[str, int]] = {}

    def apply(self, message: EventMessage) -> str | None:
        """Applies one event; returns the campaign whose row it changed, if any."""
        if message.aggregate == "Campaign":
            return self.apply_campaign(message)
        if message.aggregate == "LinkDomain":
            if message.name == "Added":
                self.domain_names[message.aggregate_id] = str(message.data["name"])
            elif message.name == "UsageRecorded" and message.data.get("campaign_id"):
                campaign_id = str(message.data["campaign_id"])
                name = self.domain_names.get(message.aggregate_id, message.aggregate_id)
                used = self.usage.setdefault(campaign_id, {})
                used[name] = used.get(name, 0) + int(message.data["count"])
                return campaign_id
        return None

    def apply_campaign(self, message: EventMessage) -> str:
        campaign_id = message.aggregate_id
        if message.name == "Created":
            (_id, _v, name, _f, _d, status, reason, tags, kind, stream, *_rest) = created_row(
                message, format_time(message.at)
            )
            self.fields[campaign_id] = {
                "id": campaign_id,
                "name": name,
                "status": status,
                "status_reason": reason,
                "tags": json.loads(tags),
                "type": kind,
                "stream": stream,
                "created_at": format_time(message.at),
                "recipients": 0,
            }
            return campaign_id
        fields = self.fields.get(campaign_id)
        if fields is None:
            return campaign_id
        sets = changed_columns(message, format_time(message.at))
        for key in ("name", "type", "stream", "status", "status_reason"):
            if key in sets:
                fields[key] = sets[key]
        if "tags" in sets:
            fields["tags"] = json.loads(sets["tags"])
        if "recipients_total" in sets:
            fields["recipients"] = int(sets["recipients_total"])
        return campaign_id

    def count_until(self, moment: datetime) -> set[str]:
        """Adds the minutes up to the one holding `moment`; returns the campaigns whose
        figures moved."""
        until = minute_of(moment)
        moved = set()
        for campaign_id, rows in self.minutes.items():
            done = self.counted.get(campaign_id, 0)
            while done < len(rows) and rows[done][0] <= until:
                totals = self.totals.setdefault(campaign_id, {})
                for metric, value in rows[done][1].items():
                    totals[metric] = totals.get(metric, 0) + value
                done += 1
                moved.add(campaign_id)
            self.counted[campaign_id] = done
        return moved

    def row(self, campaign_id: str, moment: datetime) -> Row | None:
        fields = self.fields.get(campaign_id)
        if fields is None:
            return None
        domains = [
            {"name": name, "status": "Configured", "usage": usage}
            for name, usage in sorted(self.usage.get(campaign_id, {}).items())
        ]
        counters = self.totals.get(campaign_id, {})
        row = row_of(dict(fields), counters, 0.0, domains, format_time(moment))
        if fields["status"] == str(Status.SENDING):
            row["send_rate"] = round(self.sent_in_minute(campaign_id, moment) / 60, 1)
        return row

    def sent_in_minute(self, campaign_id: str, moment: datetime) -> int:
        minute = minute_of(moment)
        for key, counters in self.minutes.get(campaign_id, []):
            if key == minute:
                return counters.get("sent", 0)
        return 0

    def rows(self, campaign_ids: Iterable[str], moment: datetime) -> list[Row]:
        found = (self.row(campaign_id, moment) for campaign_id in campaign_ids)
        return [row for row in found if row is not None]


def minute_counters(
    database: Database, until: datetime
) -> dict[str, list[tuple[str, dict[str, int]]]]:
    """Every campaign's per-minute counters up to the minute holding `until`, in time order."""
    columns = ", ".join(MINUTE_METRICS)
    with database.read() as cursor:
        cursor.execute(
            f"SELECT campaign_id, key, {columns} FROM stats WHERE scope = 'minute' AND key <= ? "
            "ORDER BY campaign_id, key",
            (minute_of(until),),
        )
        minutes: dict[str, dict[str, dict[str, int]]] = {}
        for row in cursor.fetchall():
            counters = {m: int(v) for m, v in zip(MINUTE_METRICS, row[2:], strict=True) if v}
            minutes.setdefault(str(row[0]), {})[str(row[1])] = counters
        # The per-minute counters do not keep unique clicks: each message's first click does.
        cursor.execute(
            "SELECT campaign_id, substr(clicked_at, 1, 16) || 'Z' AS minute, COUNT(*) "
            "FROM messages WHERE clicked_at IS NOT NULL AND clicked_at < ? "
            "GROUP BY campaign_id, minute",
            (format_time(until),),
        )
        for campaign_id, minute, count in cursor.fetchall():
            counters = minutes.setdefault(str(campaign_id), {}).setdefault(str(minute), {})
            counters["unique_clicks"] = int(count)
    return {campaign_id: sorted(by_minute.items()) for campaign_id, by_minute in minutes.items()}


class Replay:
    """A time range of the history, walked forward: the rows at its start, then the rows
    each step of simulated time changes. Events are read in batches as the walk needs them."""

    def __init__(self, read: Reader, database: Database, start: datetime, end: datetime):
        self.read = read
        self.start, self.end = start, end
        self.rows = PastRows(minute_counters(database, end))
        self.buffer: deque[EventMessage] = deque()
        self.after = 0  # the store position read up to
        self.exhausted = False
        self.position = 0  # the position of the last event applied

    def take(self, moment: datetime) -> set[str]:
        """Applies the events and minutes up to `moment`; returns the campaigns changed."""
        changed = set()
        while True:
            if not self.buffer and not self.exhausted:
                batch = self.read(self.after, READ_BATCH)
                self.buffer.extend(batch)
                self.exhausted = len(batch) < READ_BATCH
                if batch:
                    self.after = batch[-1].position
            if not self.buffer or self.buffer[0].at > moment:
                break
            message = self.buffer.popleft()
            self.position = message.position
            campaign_id = self.rows.apply(message)
            if campaign_id:
                changed.add(campaign_id)
        return changed | self.rows.count_until(moment)

    def snapshot(self) -> list[Row]:
        self.take(self.start)
        return self.rows.rows(list(self.rows.fields), self.start)

    def step(self, moment: datetime) -> list[Row]:
        return self.rows.rows(sorted(self.take(min(moment, self.end))), min(moment, self.end))
