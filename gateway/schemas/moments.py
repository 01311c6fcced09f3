"""Dates and times given as text (query and socket parameters): the form a pattern states,
and the reading of it as a UTC time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from gateway.errors import ApiError

_DAY = "(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
_ZONE = "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# A date, or a date and time with an optional zone (none: UTC); empty is not given.
DATE_OR_TIME = f"^(?:{_DAY}(?:[T ]{_CLOCK}{_ZONE}?)?)?$(?!\\n)"
DATE_OR_TIME_TEXT = re.compile(DATE_OR_TIME)


def date_or_time(*examples: str) -> dict[str, Any]:
    """The schema of a date-or-time parameter (the socket's are described by hand)."""
    return {
        "type": "string",
        "pattern": DATE_OR_TIME,
        "examples": list(examples or ("2026-03-01", "2026-03-01T09:00:00Z")),
    }


def as_time(raw: str | None, key: str, *, end_of_day: bool = False) -> datetime | None:
    """A date-or-time parameter as a UTC time: a date is its start, or with `end_of_day` its
    last instant; a time without a zone is UTC. A date the calendar lacks is refused."""
    if not raw:
        return None
    moment: datetime | None
    try:
        if not DATE_OR_TIME_TEXT.fullmatch(raw):
            raise ValueError(raw)
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is not None:
        try:  # compared with stored UTC times, so in UTC; some times have no UTC equivalent
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        except OverflowError:
            pass
    raise ApiError(
        "validation_failed",
        f"{key} must be an ISO 8601 date or time",
        [{"field": key, "message": "must be an ISO 8601 date or time"}],
    )
