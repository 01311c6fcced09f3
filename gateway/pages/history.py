"""A campaign's history pages: the audit trail (F13) and time travel (F14).

Both are rendered on the server from the audit trail's rows and the campaign replayed to a
version, so every name, reason and setting goes through the templates' escaping. The audit
page also lists who was shown the campaign's personal data (projections.disclosures).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.campaign import Campaign
from domain.errors import DomainError, NotFound
from gateway.api import history_filter
from gateway.inputs import query_int, query_time
from gateway.pages.rendering import render
from gateway.representation import campaign_json
from gateway.schemas.queries import HistoryQuery, read_query
from gateway.services import Services
from gateway.stats import CampaignStats
from projections.audit_trail import HistoryFilter, filtered
from projections.disclosures import Disclosure, DisclosureFilter

FILTER_KEYS = ("actor", "type", "from", "to")
DISCLOSURES_SHOWN = 50  # the newest on the page; the CSV link has every one
MAX_VERSION = 10**9  # as the API bounds a version
# The settings a moment shows, in the order of the wizard's steps, then what the campaign
# had reached; each is compared between the two moments.
SETTINGS = (
    ("name", "Name"),
    ("description", "Description"),
    ("status", "Status"),
    ("status_reason", "Status reason"),
    ("tags", "Tags"),
    ("type", "Type"),
    ("stream", "Sending stream"),
    ("sender", "Sender ID"),
    ("contact_lists", "Contact lists"),
    ("variants", "Variants"),
    ("links", "Links"),
    ("start_at", "Start at"),
    ("sending_schedule", "Sending schedule"),
    ("pause_rules", "Auto-pause rules"),
    ("ctr_indicators", "CTR indicators"),
    ("recipients", "Recipients"),
    ("started_at", "Started at"),
    ("finished_at", "Finished at"),
)
STATS = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("undelivered", "Undelivered"),
    ("failed", "Failed"),
    ("no_route", "No route"),
    ("rejected", "Rejected by carrier"),
    ("delivery_rate", "Delivery rate (%)"),
    ("clicks", "Clicks"),
    ("unique_clicks", "Unique clicks"),
    ("ctr", "CTR (%)"),
    ("opt_outs", "Opt-outs"),
    ("replies", "Replies"),
    ("cost", "Cost"),
)


def campaign_id_of(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["id"])
    except ValueError:
        return None


def not_found(message: str) -> Response:
    response = render("history_missing.html", active="campaigns", message=message)
    response.status_code = 404
    return response


# The audit page.


def audit_rows(
    platform: Services, campaign_id: uuid.UUID, filters: HistoryFilter
) -> tuple[Campaign, list[dict[str, Any]], list[dict[str, Any]]]:
    """The campaign, every row of its trail, and the rows that pass the filters."""
    campaign = platform.app.get_campaign(campaign_id)
    platform.wait_for_own_writes()
    rows = platform.campaign_list.history(platform.database, str(campaign_id))
    return campaign, rows, filtered(rows, filters)


def newest_disclosures(
    platform: Services, campaign_id: uuid.UUID, filters: HistoryFilter
) -> tuple[list[Disclosure], int]:
    """The newest disclosures that pass the filters' actor and times, and how many pass."""
    chosen = DisclosureFilter(filters.actor, filters.since, filters.until)
    return platform.disclosures.page(str(campaign_id), chosen, 1, DISCLOSURES_SHOWN)


async def audit_page(request: Request) -> Response:
    campaign_id = campaign_id_of(request)
    if campaign_id is None:
        return not_found("There is no campaign at this address.")
    platform: Services = request.app.state.platform
    error = None
    try:
        filters = history_filter(read_query(request.query_params, HistoryQuery))
    except DomainError as problem:
        filters, error = HistoryFilter(), problem.message
    try:
        campaign, every_row, rows = await run_in_threadpool(
            audit_rows, platform, campaign_id, filters
        )
    except NotFound:
        return not_found("This campaign does not exist.")
    disclosures, disclosed = await run_in_threadpool(
        newest_disclosures, platform, campaign_id, filters
    )
    chosen = [(k, request.query_params[k]) for k in FILTER_KEYS if request.query_params.get(k)]
    query = ("?" + urlencode(chosen)) if chosen and error is None else ""
    api = f"/api/campaigns/{campaign_id}/history"
    reads = [(k, v) for k, v in chosen if k != "type"] if error is None else []
    reads_api = f"/api/campaigns/{campaign_id}/disclosures"
    return render(
        "audit.html",
        active="campaigns",
        campaign=campaign,
        rows=rows,
        total=len(every_row),
        actors=sorted({str(row["actor"]) for row in every_row}),
        types=sorted({str(row["type"]).rpartition(".")[2] for row in every_row}),
        query=request.query_params,
        error=error,
        csv_link=f"{api}?{urlencode([*chosen, ('format', 'csv')])}" if error is None else "",
        json_link=api + query,
        disclosures=disclosures,
        disclosed=disclosed,
        disclosures_csv=f"{reads_api}?{urlencode([*reads, ('format', 'csv')])}",
        disclosures_json=reads_api + ("?" + urlencode(reads) if reads else ""),
    )


# The time travel page.


def moment_view(
    platform: Services, campaign_id: uuid.UUID, version: int | None, as_of: datetime | None
) -> dict[str, Any]:
    """The campaign as it was at a version or a moment, with its stats then."""
    campaign = platform.app.get_campaign(campaign_id, version=version, as_of=as_of)
    moment = as_of if as_of is not None else campaign.modified_on
    stats = CampaignStats(platform.activity.stats)
    settings = campaign_json(campaign, stats.totals_of(campaign, moment))
    figures = stats.stats(campaign, moment)
    return {
        "version": campaign.version,
        "at": settings["updated_at"],
        "as_of": as_of.isoformat() if as_of else None,
        "settings": {key: shown(settings.get(key)) for key, _label in SETTINGS},
        "stats": {key: shown(figures.get(key)) for key, _label in STATS},
    }


def shown(value: Any) -> str:
    """A setting as the page writes it: plain text, or compact JSON for the structured ones."""
    if value is None or value == "" or value == [] or value == {}:
        return "\u2013"  # an en dash: nothing set
    if isinstance(value, dict) and set(value) == {"total", "sent"}:
        return f"{value['sent']} sent of {value['total']}"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def pick_moment(
    request: Request, side: str, versions: Sequence[dict[str, Any]], default: int
) -> tuple[int | None, datetime | None]:
    """The version or time chosen for one side (`a` or `b`) of the comparison."""
    as_of = query_time(request, f"{side}_at")
    if as_of is not None:
        return None, as_of
    version = query_int(request, side, default, 1, MAX_VERSION)  # refused: the page starts over
    return min(version, len(versions) or 1), None


Moments = dict[str, dict[str, Any]]  # side (`a`, `b`) -> what it shows


def time_travel_view(
    request: Request, platform: Services, campaign_id: uuid.UUID
) -> tuple[Campaign, list[dict[str, Any]], Moments]:
    """The campaign now, its versions (for the sliders), and the two moments compared."""
    current = platform.app.get_campaign(campaign_id)
    platform.wait_for_own_writes()
    rows = platform.campaign_list.history(platform.database, str(campaign_id))
    versions = [
        {"version": row["version"], "at": row["at"], "event": str(row["type"]).rpartition(".")[2]}
        for row in rows
    ]
    sides: Moments = {}
    for side, default in (("a", 1), ("b", current.version)):
        version, as_of = pick_moment(request, side, versions, default)
        try:
            sides[side] = moment_view(platform, campaign_id, version, as_of)
        except NotFound as problem:
            sides[side] = {"missing": problem.message, "version": version, "as_of": None}
    return current, versions, sides


def differing(sides: Moments, part: str) -> set[str]:
    a, b = sides["a"].get(part), sides["b"].get(part)
    if a is None or b is None:
        return set()
    return {key for key in a if a[key] != b.get(key)}


async def time_travel_page(request: Request) -> Response:
    campaign_id = campaign_id_of(request)
    if campaign_id is None:
        return not_found("There is no campaign at this address.")
    platform: Services = request.app.state.platform
    try:
        current, versions, sides = await run_in_threadpool(
            time_travel_view, request, platform, campaign_id
        )
    except NotFound:
        return not_found("This campaign does not exist.")
    except DomainError as problem:  # a malformed time in the address: start over
        target = f"/campaigns/{campaign_id}/at?" + urlencode({"problem": problem.message})
        return RedirectResponse(target, status_code=302)
    return render(
        "time_travel.html",
        active="campaigns",
        campaign=current,
        versions=versions,
        sides=sides,
        settings=SETTINGS,
        stats=STATS,
        changed={"settings": differing(sides, "settings"), "stats": differing(sides, "stats")},
        problem=request.query_params.get("problem", ""),
    )
