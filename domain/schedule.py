"""Sending schedules: week days and a daily window in the campaign's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.fields import WEEK_DAYS


def clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_open(schedule: dict[str, Any] | None, moment: datetime) -> bool:
    """Whether messages may leave at `moment` (any time when there is no schedule).

    A window whose end is before its start runs overnight: it belongs to the day it opens.
    """
    if schedule is None:
        return True
    local = moment.astimezone(ZoneInfo(schedule.get("time_zone", "UTC")))
    start, end = clock(schedule["from"]), clock(schedule["to"])
    now = local.time()
    today = WEEK_DAYS[local.weekday()]
    yesterday = WEEK_DAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in schedule["days"] and start <= now < end
    return (today in schedule["days"] and now >= start) or (
        yesterday in schedule["days"] and now < end
    )


def next_opening(schedule: dict[str, Any] | None, moment: datetime) -> datetime:
    """The first moment at or after `moment` when the window is open (at most 8 days on)."""
    if schedule is None or is_open(schedule, moment):
        return moment
    zone = ZoneInfo(schedule.get("time_zone", "UTC"))
    local = moment.astimezone(zone)
    start = clock(schedule["from"])
    for days in range(0, 8):
        day = (local + timedelta(days=days)).date()
        opening = datetime.combine(day, start, tzinfo=zone)
        if opening >= local and WEEK_DAYS[day.weekday()] in schedule["days"]:
            return opening
    return moment + timedelta(days=8)


def describe(schedule: dict[str, Any] | None) -> str:
    if schedule is None:
        return "any time"
    days = ", ".join(schedule["days"])
    return f"{days} {schedule['from']}-{schedule['to']} {schedule.get('time_zone', 'UTC')}"
