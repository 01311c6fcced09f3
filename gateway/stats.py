"""Campaign stats (F7) as the API shows them, from the activity counters.

The counters are kept per campaign, per variant, per (short link) domain and per minute.
Stats as of a past moment are summed from the per-minute counters, so they are precise to the
minute: everything counted in the minute that holds the moment is included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from domain.campaign import Campaign
from domain.fields import format_time
from domain.pricing import FOUR_PLACES, money
from domain.stream import FAILURES
from projections.activity import (
    KNOWN,
    OUTCOMES,
    UNSENT,
    Stats,
    from_units,
    minute_of,
    second_of,
)

MINUTE_METRICS = ("sent", *OUTCOMES, "clicks", "opt_outs", "replies", "cost_units")

Counters = Mapping[str, int]
Scoped = Mapping[tuple[str, str], Counters]


def percent(part: int, whole: int) -> float | None:
    """A percentage with two decimals; None when there is nothing to measure against."""
    return None if whole == 0 else round(part * 100 / whole, 2)


def cost_per_message(cost_units: int, sent: int) -> str | None:
    if sent == 0:
        return None
    return money((from_units(cost_units) / sent).quantize(FOUR_PLACES))


def delivery_figures(counters: Counters) -> dict[str, Any]:
    """What every scope counts: messages, outcomes, clicks and money."""
    sent, delivered = counters.get("sent", 0), counters.get("delivered", 0)
    unique_clicks, cost_units = counters.get("unique_clicks", 0), counters.get("cost_units", 0)
    return {
        "sent": sent,
        **{outcome: counters.get(outcome, 0) for outcome in OUTCOMES},
        "delivery_rate": percent(delivered, sent),
        "clicks": counters.get("clicks", 0),
        "unique_clicks": unique_clicks,
        "ctr": percent(unique_clicks, delivered),
        "cost": money(from_units(cost_units)),
        "cost_per_message": cost_per_message(cost_units, sent),
    }


def minute_start(minute: str) -> str:
    """A counter's minute key (`2026-03-01T09:00Z`) as the API writes times."""
    return minute.removesuffix("Z") + ":00.000000Z"


def minutes(scoped: Scoped, until: str | None = None) -> list[tuple[str, Counters]]:
    """The per-minute counters in time order, up to and including the minute `until`."""
    rows = [
        (key, counters)
        for (scope, key), counters in scoped.items()
        if scope == "minute" and (until is None or key <= until)
    ]
    return sorted(rows, key=lambda row: row[0])


def series_json(rows: list[tuple[str, Counters]]) -> list[dict[str, Any]]:
    return [
        {
            "minute": minute_start(minute),
            "sent": counters.get("sent", 0),
            **{outcome: counters.get(outcome, 0) for outcome in OUTCOMES},
            "failed_total": sum(counters.get(name, 0) for name in FAILURES),
            "clicks": counters.get("clicks", 0),
            "opt_outs": counters.get("opt_outs", 0),
            "replies": counters.get("replies", 0),
            "cost": money(from_units(counters.get("cost_units", 0))),
        }
        for minute, counters in rows
    ]


def summed(rows: list[tuple[str, Counters]]) -> dict[str, int]:
    totals = dict.fromkeys(MINUTE_METRICS, 0)
    for _minute, counters in rows:
        for metric in MINUTE_METRICS:
            totals[metric] += counters.get(metric, 0)
    return totals


def next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


class CampaignStats:
    """Reads a campaign's counters, now or as of a moment."""

    def __init__(self, stats: Stats) -> None:
        self.stats_table = stats

    def totals(self, campaign_id: str, as_of: datetime | None = None) -> dict[str, int]:
        """The campaign's counters; as of a moment, summed from the minutes (no `queued`)."""
        if as_of is None:
            return dict(self.stats_table.campaign_counters(campaign_id))
        return self.until(campaign_id, self.stats_table.counters(campaign_id), as_of)[1]

    def totals_of(self, campaign: Campaign, as_of: datetime | None = None) -> dict[str, int]:
        """The counters of a campaign as it was at `as_of`: none before it first started
        (the minutes' sums would show what the rest of that minute brought)."""
        if as_of is not None and campaign.started_at is None:
            return {}
        return self.totals(str(campaign.id), as_of)

    def until(
        self, campaign_id: str, scoped: Scoped, as_of: datetime
    ) -> tuple[list[tuple[str, Counters]], dict[str, int]]:
        """The minutes up to the one holding `as_of`, and their sums."""
        rows = minutes(scoped, minute_of(as_of))
        totals = summed(rows)
        totals["unique_clicks"] = self.stats_table.unique_clicks_before(
            campaign_id, next_minute(as_of)
        )
        return rows, totals

    def as_known(
        self, campaign_id: str, scoped: Scoped, as_of: datetime | None, known_at: datetime
    ) -> tuple[list[tuple[str, Counters]], dict[str, int]]:
        """The minutes up to the one holding `as_of` (or `known_at`) as they were known at
        `known_at`: what was recorded later (a late receipt) is left out."""
        until = minute_of(min(as_of, known_at) if as_of else known_at)
        known_until = second_of(known_at)
        by_minute: dict[str, dict[str, int]] = {}
        for (scope, key), counters in scoped.items():
            minute, _, recorded = key.partition("|")
            if scope != KNOWN or minute > until or recorded > known_until:
                continue
            sums = by_minute.setdefault(minute, {})
            for metric, value in counters.items():
                sums[metric] = sums.get(metric, 0) + value
        rows: list[tuple[str, Counters]] = sorted(by_minute.items())
        totals = summed(rows)
        moment = min(as_of, known_at) if as_of else known_at
        totals["unique_clicks"] = self.stats_table.unique_clicks_before(
            campaign_id, next_minute(moment)
        )
        return rows, totals

    def stats(
        self,
        campaign: Campaign,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        campaign_id = str(campaign.id)
        scoped = self.stats_table.counters(campaign_id)
        unsent: dict[str, int | None] = dict.fromkeys(UNSENT)  # not kept per minute
        if known_at is not None:
            rows, totals = self.as_known(campaign_id, scoped, as_of, known_at)
        elif as_of is None:
            totals = dict(scoped.get(("campaign", ""), {}))
            unsent = {status: totals.get(status, 0) for status in UNSENT}
            rows = minutes(scoped)
        elif campaign.started_at is None:  # nothing was sent before it first started
            rows, totals = [], {}
        else:
            rows, totals = self.until(campaign_id, scoped, as_of)
        past = as_of is not None or known_at is not None
        return {
            "campaign_id": campaign_id,
            "as_of": format_time(as_of) if as_of else None,
            "known_at": format_time(known_at) if known_at else None,
            "status": campaign.status.value,
            "recipients": campaign.recipients,
            **unsent,
            **delivery_figures(totals),
            "opt_outs": totals.get("opt_outs", 0),
            "replies": totals.get("replies", 0),
            "started_at": format_time(campaign.started_at) if campaign.started_at else None,
            "finished_at": format_time(campaign.finished_at) if campaign.finished_at else None,
            "by_variant": None if past else by_variant(campaign, scoped),
            "by_domain": None if past else by_domain(scoped),
            "series": series_json(rows),
        }


def by_variant(campaign: Campaign, scoped: Scoped) -> list[dict[str, Any]]:
    variants = {v["id"]: v for v in campaign.fields.get("variants", [])}
    counted = [key for scope, key in scoped if scope == "variant" and key not in variants]
    return [
        {
            "id": variant_id,
            "text": variants.get(variant_id, {}).get("text"),
            "weight": variants.get(variant_id, {}).get("weight"),
            **delivery_figures(scoped.get(("variant", variant_id), {})),
        }
        for variant_id in [*variants, *sorted(counted)]
    ]


def by_domain(scoped: Scoped) -> list[dict[str, Any]]:
    return [
        {"domain": key, **delivery_figures(counters)}
        for (scope, key), counters in sorted(scoped.items())
        if scope == "domain"
    ]


def campaign_figures(totals: Counters | None) -> dict[str, Any]:
    """The campaign object's `recipients.sent`, `ctr` and `cost`."""
    totals = totals or {}
    return {
        "sent": totals.get("sent", 0),
        "ctr": percent(totals.get("unique_clicks", 0), totals.get("delivered", 0)),
        "cost": money(from_units(totals.get("cost_units", 0))),
    }


def with_figures(items: list[dict[str, Any]], stats: Stats) -> list[dict[str, Any]]:
    """List rows with their sent count, CTR and cost from the activity counters."""
    totals = stats.campaigns_counters([item["id"] for item in items])
    enriched = []
    for item in items:
        figures = campaign_figures(totals.get(item["id"]))
        recipients = {**item["recipients"], "sent": figures["sent"]}
        enriched.append(
            {**item, "recipients": recipients, "ctr": figures["ctr"], "cost": figures["cost"]}
        )
    return enriched
