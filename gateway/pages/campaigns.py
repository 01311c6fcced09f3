"""Page rendering: the campaigns list (F1, F2) with its side panel (F3), and the routes of
every page. The wizard, the catalogue pages (domains, pools, contact lists) and the streams
page live in their own modules; pages read through the application and the read models,
and act through the JSON API from small scripts in web/static/."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from domain.campaign import Campaign
from domain.errors import DomainError
from domain.fields import CAMPAIGN_TYPES
from domain.status import Status, allowed_commands
from gateway.api import list_filter
from gateway.pages.catalogue import contact_lists_page, domains_page, pools_page
from gateway.pages.history import audit_page, time_travel_page
from gateway.pages.rendering import TYPE_LABELS, WEB, render
from gateway.pages.streams import streams_page
from gateway.pages.wizard import wizard_page
from gateway.schemas.queries import CampaignListQuery, read_query
from gateway.services import Services
from gateway.stats import with_figures
from projections.campaign_list import ListFilter

PER_PAGE = 20


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB / "static")


def forbidden_page(scope: Scope, message: str) -> Response:
    """What a signed-in browser sees, with status 403, for a page its role may not open."""
    principal = scope.get("state", {}).get("principal")
    page = render("forbidden.html", principal=principal, message=message)
    page.status_code = 403
    return page


async def home(_request: Request) -> Response:
    return RedirectResponse("/campaigns", status_code=302)


def page_filters(request: Request) -> tuple[ListFilter, int]:
    """The API's filters and page, except that the page's tag box takes several tags,
    comma-separated."""
    query = read_query(request.query_params, CampaignListQuery)
    filters = list_filter(query)
    tags = [t.strip() for raw in filters.tags for t in raw.split(",") if t.strip()]
    return dataclasses.replace(filters, tags=tuple(dict.fromkeys(tags))), query.page


def ctr_indicators(platform: Services, ids: Iterable[str]) -> dict[str, Any]:
    """Each campaign's CTR indicators (the list's read model does not keep them)."""
    found: dict[str, Any] = {}
    for campaign_id in ids:
        campaign = platform.app.find(Campaign, uuid.UUID(campaign_id))
        if campaign is not None:
            found[campaign_id] = campaign.fields.get("ctr_indicators")
    return found


def ctr_class(ctr: float | None, indicators: dict[str, float] | None) -> str:
    """The CTR's colour: red below `red_below`, green from `green_from`, amber between."""
    if ctr is None:
        return "ctr ctr-none"
    if not indicators:
        return "ctr"
    if ctr < indicators["red_below"]:
        return "ctr ctr-red"
    if ctr >= indicators["green_from"]:
        return "ctr ctr-green"
    return "ctr ctr-amber"


def row_view(item: dict[str, Any], indicators: dict[str, float] | None) -> dict[str, Any]:
    """What a row shows beyond the list item: labels, colours and the actions allowed."""
    return {
        **item,
        "type_label": TYPE_LABELS.get(item["type"] or "", item["type"] or ""),
        "ctr_class": ctr_class(item["ctr"], indicators),
        "ctr_indicators": indicators,
        "allowed_commands": allowed_commands(Status(item["status"])),
        "created_label": item["created_at"][:19].replace("T", " ") + " UTC",
    }


def list_rows(platform: Services, filters: ListFilter, page: int) -> tuple[Any, list[Any]]:
    platform.wait_for_own_writes()
    result = platform.campaign_list.query(platform.database, filters, page, PER_PAGE)
    items = with_figures(result.items, platform.activity.stats)
    indicators = ctr_indicators(platform, (item["id"] for item in items))
    return result, [row_view(item, indicators.get(item["id"])) for item in items]


async def campaigns_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    error = None
    try:
        filters, page = page_filters(request)
    except DomainError as problem:
        filters, page, error = ListFilter(), 1, problem.message
    result, rows = await run_in_threadpool(list_rows, platform, filters, page)
    streams = await run_in_threadpool(platform.app.stream_names)
    pages = max(1, -(-result.total // PER_PAGE))
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "open")]

    def page_link(number: int) -> str:
        return "/campaigns?" + urlencode([*query, ("page", str(number))])

    return render(
        "campaigns.html",
        request,
        active="campaigns",
        result=result,
        rows=rows,
        filters=filters,
        page=page,
        pages=pages,
        page_link=page_link,
        statuses=[s.value for s in Status],
        types=[(kind, TYPE_LABELS[kind]) for kind in CAMPAIGN_TYPES],
        streams=streams,
        error=error,
        query=request.query_params,
        open_id=request.query_params.get("open", ""),
    )


async def campaign_page(request: Request) -> Response:
    """A campaign's own address: the list with its side panel open."""
    try:
        campaign_id = str(uuid.UUID(request.path_params["id"]))
    except ValueError:
        return RedirectResponse("/campaigns", status_code=302)
    return RedirectResponse("/campaigns?" + urlencode({"open": campaign_id}), status_code=302)


page_routes = [
    Route("/", home, methods=["GET"]),
    Route("/campaigns", campaigns_page, methods=["GET"]),
    Route("/campaigns/new", wizard_page, methods=["GET"]),
    Route("/campaigns/{id}/wizard", wizard_page, methods=["GET"]),
    Route("/campaigns/{id}/audit", audit_page, methods=["GET"]),
    Route("/campaigns/{id}/at", time_travel_page, methods=["GET"]),
    Route("/campaigns/{id}", campaign_page, methods=["GET"]),
    Route("/domains", domains_page, methods=["GET"]),
    Route("/pools", pools_page, methods=["GET"]),
    Route("/contact-lists", contact_lists_page, methods=["GET"]),
    Route("/streams", streams_page, methods=["GET"]),
]
