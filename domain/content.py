"""Content rules checked while a campaign is prepared (T4)."""

from __future__ import annotations

import re
from typing import Any

from domain.sms import segments

MAX_PARTS = 10

# Phrases carriers filter as fraud or abuse; a text with one is rejected before sending.
FORBIDDEN_PHRASES = (
    "bit.ly",
    "tinyurl.com",
    "verify your account",
    "your account has been suspended",
    "wire transfer",
    "gift card",
)
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{1,15}$")


def content_problems(fields: dict[str, Any]) -> list[str]:
    """Why the campaign's content cannot be sent, in words; empty when it can."""
    problems = []
    for index, variant in enumerate(fields.get("variants", []), start=1):
        text = variant["text"]
        lowered = text.casefold()
        for phrase in FORBIDDEN_PHRASES:
            if phrase in lowered:
                problems.append(f"variant {index} contains the forbidden phrase {phrase!r}")
        parts = segments(text).parts
        if parts > MAX_PARTS:
            problems.append(f"variant {index} takes {parts} SMS parts (at most {MAX_PARTS})")
    sender = fields.get("sender") or ""
    if fields.get("type") == "two_way" and not _NUMERIC_SENDER.match(sender):
        problems.append(
            f"the sender {sender!r} cannot receive replies: a two-way campaign needs a "
            "numeric sender ID"
        )
    return problems
