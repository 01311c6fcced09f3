"""Query parameters whose form the document states and the gateway checks with the same
pattern: dates and times."""

from __future__ import annotations

import re
from typing import Any

_DAY = "(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,6})?)?"
_ZONE = "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# A date, or a date and time with an optional zone (none: UTC); empty is not given.
DATE_OR_TIME = f"^(?:{_DAY}(?:[T ]{_CLOCK}{_ZONE}?)?)?$(?!\\n)"
DATE_OR_TIME_TEXT = re.compile(DATE_OR_TIME)


def date_or_time(*examples: str) -> dict[str, Any]:
    """The schema of a date-or-time query parameter."""
    return {
        "type": "string",
        "pattern": DATE_OR_TIME,
        "examples": list(examples or ("2026-03-01", "2026-03-01T09:00:00Z")),
    }
