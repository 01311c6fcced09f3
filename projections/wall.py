"""What the wall shows of the campaigns' live rows: its filters, and the messages of a replay
of a time range (a snapshot at its start, then the rows each step changed), which the
gateway's `WS /ws/replay` and `campaigns replay` both play."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.fields import format_time
from domain.status import Status
from projections.realtime import Row
from projections.replay import Replay

MAX_SPEED = 100_000.0  # history seconds per second
STATUSES = frozenset(str(status) for status in Status)


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class RowFilter:
    """The wall's filters: name (a substring, any case), statuses and tags (any of)."""

    name: str = ""
    statuses: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> RowFilter:
        getlist = params.getlist  # type: ignore[attr-defined]
        statuses = frozenset(s for value in getlist("status") for s in split(value))
        unknown = sorted(statuses - STATUSES)
        if unknown:
            raise FilterError(f"unknown status {', '.join(unknown)}")
        tags = frozenset(t for value in getlist("tag") for t in split(value))
        name = (params.get("name") or "").strip()
        if len(name) > 200:
            raise FilterError("name is longer than 200 characters")
        return cls(name=name.casefold(), statuses=statuses, tags=tags)

    def matches(self, row: Row) -> bool:
        if self.statuses and row["status"] not in self.statuses:
            return False
        if self.tags and self.tags.isdisjoint(row["tags"]):
            return False
        return not self.name or self.name in row["name"].casefold()


def split(value: str) -> Iterable[str]:
    return (part.strip() for part in value.split(",") if part.strip())


def parse_moment(value: str | None, name: str) -> datetime:
    """A replay's bound: an ISO 8601 time, in UTC (UTC when it names no zone)."""
    if not value:
        raise FilterError(f"{name} is required: a time such as 2026-03-01T09:00:00Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{name} is not a time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before the first UTC time
        raise FilterError(f"{name} is outside the times that can be replayed") from None


class Player:
    """One client's replay: the rows it has been shown, and the messages to send next."""

    def __init__(self, replay: Replay, row_filter: RowFilter, speed: float) -> None:
        self.replay = replay
        self.filter = row_filter
        self.speed = speed
        self.shown: dict[str, Any] = {}

    def marker(self, moment: datetime) -> dict[str, Any]:
        return {
            "from": format_time(self.replay.start),
            "to": format_time(self.replay.end),
            "speed": self.speed,
            "at": format_time(moment),
        }

    def snapshot(self, rows: list[Row]) -> dict[str, Any]:
        mine = [row for row in rows if self.filter.matches(row)]
        mine.sort(key=lambda row: (row["created_at"], row["id"]), reverse=True)
        self.shown = {row["id"]: row for row in mine}
        return {
            "type": "snapshot",
            "position": self.replay.position,
            "at": format_time(self.replay.start),
            "rows": mine,
            "replay": self.marker(self.replay.start),
        }

    def update(self, rows: list[Row], moment: datetime) -> dict[str, Any] | None:
        """The rows that now match or no longer match; None when the step changed neither."""
        shown, removed = [], []
        for row in rows:
            if self.filter.matches(row):
                shown.append(row)
                self.shown[row["id"]] = row
            elif self.shown.pop(row["id"], None) is not None:
                removed.append(row["id"])
        if not shown and not removed:
            return None
        return {
            "type": "update",
            "position": self.replay.position,
            "at": format_time(moment),
            "rows": shown,
            "removed": removed,
            "replay": self.marker(moment),
        }
