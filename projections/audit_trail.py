"""The audit trail (F13) as people read it: filters, the facts of each entry in words, CSV.

The history rows keep each event's facts as data (`details`); this module turns them into a
sentence (which domains reached which limit, which auto-pause rule fired on which values), so
that the API, the audit page and `campaigns audit` explain a change the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.fields import LINK_LABELS, format_time
from domain.rules import LABELS as METRIC_LABELS

CSV_COLUMNS = (
    "position",
    "at",
    "version",
    "type",
    "actor",
    "from_status",
    "to_status",
    "reason",
    "details",
    "command_id",
)
# Free text a spreadsheet would run as a formula when it starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class HistoryFilter:
    actor: str | None = None
    type: str | None = None  # `Paused` or `Campaign.Paused`
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, row: dict[str, Any]) -> bool:
        kind = str(row["type"])
        return (
            (not self.actor or row["actor"] == self.actor)
            and (not self.type or self.type in (kind, kind.rpartition(".")[2]))
            and (self.since is None or row["at"] >= format_time(self.since))
            and (self.until is None or row["at"] <= format_time(self.until))
        )


def filtered(rows: Iterable[dict[str, Any]], filters: HistoryFilter) -> list[dict[str, Any]]:
    return [row for row in rows if filters.matches(row)]


# The facts of an entry, in words.


def describe(kind: str, facts: dict[str, Any]) -> str:
    """The facts an event carries beyond its reason, as one line; empty when it has none."""
    name = kind.rpartition(".")[2]
    if name == "Suspended":
        return describe_cause(facts.get("cause") or {})
    if name == "Edited":
        return describe_changes(facts.get("changes"), facts.get("changed", []))
    parts = []
    if facts.get("recipients") is not None:
        parts.append(f"recipients: {facts['recipients']}")
    if facts.get("start_at"):
        parts.append(f"starts at {facts['start_at']}")
    if facts.get("duplicated_from"):
        parts.append(f"duplicate of {facts['duplicated_from']}")
    return "; ".join(parts)


def describe_cause(cause: dict[str, Any]) -> str:
    kind = cause.get("kind")
    if kind == "domains":
        links = cause.get("links") or {}
        parts = [
            f"{LINK_LABELS.get(link, link)}: {', '.join(names) or 'no domains'}"
            for link, names in links.items()
        ]
        return f"domains at the messaging limit of {cause.get('limit')}: " + "; ".join(parts)
    if kind == "rule" and isinstance(cause.get("rule"), dict):
        return describe_rule(cause)
    if kind == "stream":
        return f"stream {cause.get('stream')} disabled"
    return ", ".join(f"{key}: {value}" for key, value in sorted(cause.items()))


def describe_rule(cause: dict[str, Any]) -> str:
    rule = cause.get("rule") or {}
    metric = str(rule.get("metric", ""))
    unit = "" if metric == "cost" else "%"
    label = METRIC_LABELS.get(metric, metric)
    bound = next((f"{side} {rule[side]}{unit}" for side in ("below", "above") if side in rule), "")
    text = f"auto-pause rule {label} {bound} after {rule.get('after', 0)}".replace("  ", " ")
    if "value" in cause:  # suspensions recorded before the values were kept have only the rule
        text += f"; measured {cause['value']}{unit}"
        text += f" over {cause.get('measured_over')} {cause.get('base', 'messages')}"
    return text


def describe_changes(changes: dict[str, Any] | None, changed: list[str]) -> str:
    if not changes:
        return f"changed: {', '.join(changed)}" if changed else ""
    return "; ".join(f"{key}: {describe_value(key, value)}" for key, value in changes.items())


def describe_value(key: str, value: Any) -> str:
    if key == "variants" and isinstance(value, list):
        weights = ":".join(str(v.get("weight")) for v in value if isinstance(v, dict))
        return f"{len(value)} variant(s), ratio {weights}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "none"
    if value is None or value == "":
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# CSV.


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV, a header first, one line at a time (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(row.get(column)) for column in CSV_COLUMNS])
        yield buffer.getvalue()
