"""Auto-pause rules (F9): conditions over a campaign's live stats that suspend it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

FAILURES = ("undelivered", "failed", "no_route", "rejected")
LABELS = {
    "ctr": "CTR",
    "failure_rate": "failure rate",
    "optout_rate": "opt-out rate",
    "cost": "cost",
}


@dataclass(frozen=True)
class Reading:
    """A metric's value and the count it is measured over."""

    value: Decimal
    base: int
    base_name: str


def read(metric: str, counters: dict[str, int]) -> Reading:
    delivered, sent = counters.get("delivered", 0), counters.get("sent", 0)
    if metric == "ctr":
        return Reading(percent(counters.get("unique_clicks", 0), delivered), delivered, "delivered")
    if metric == "optout_rate":
        return Reading(percent(counters.get("opt_outs", 0), delivered), delivered, "delivered")
    if metric == "failure_rate":
        failures = sum(counters.get(name, 0) for name in FAILURES)
        reported = failures + delivered
        return Reading(percent(failures, reported), reported, "with a final receipt")
    if metric == "cost":
        cost = (Decimal(counters.get("cost_units", 0)) / 10_000).quantize(Decimal("0.0001"))
        return Reading(cost, sent, "sent")
    raise ValueError(f"unknown metric {metric!r}")


def percent(part: int, whole: int) -> Decimal:
    if whole == 0:
        return Decimal(0)
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.01"))


def fired(rule: dict[str, Any], counters: dict[str, int]) -> str | None:
    """The reason, in words with the values, when the rule holds now; None when it does not."""
    metric = rule["metric"]
    reading = read(metric, counters)
    if reading.base < rule.get("after", 0) or reading.base == 0:
        return None
    unit = "" if metric == "cost" else "%"
    label = LABELS[metric]
    if "below" in rule and reading.value < Decimal(str(rule["below"])):
        comparison = f"below {rule['below']}{unit}"
    elif "above" in rule and reading.value > Decimal(str(rule["above"])):
        comparison = f"above {rule['above']}{unit}"
    else:
        return None
    return (
        f"auto-pause rule: {label} {reading.value}{unit} is {comparison} "
        f"after {reading.base} messages {reading.base_name} (rule: after {rule.get('after', 0)})"
    )


def first_fired(
    rules: list[dict[str, Any]], counters: dict[str, int]
) -> tuple[dict[str, Any], str] | None:
    for rule in rules:
        reason = fired(rule, counters)
        if reason:
            return rule, reason
    return None


def facts(rule: dict[str, Any], counters: dict[str, int]) -> dict[str, Any]:
    """What a suspension by `rule` records: the rule, the value measured and its base."""
    reading = read(rule["metric"], counters)
    return {
        "kind": "rule",
        "rule": rule,
        "value": str(reading.value),
        "measured_over": reading.base,
        "base": reading.base_name,
    }
