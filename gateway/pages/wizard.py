"""The create wizard (F4) at /campaigns/new, and at /campaigns/{id}/wizard to continue a
Draft. The page carries what its steps choose from (streams, contact lists, pools, domains,
prices); web/static/wizard.js saves each step through the JSON API."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.campaign import Campaign
from domain.fields import CAMPAIGN_TYPES, Invalid, parse_whole_number
from domain.status import Status
from gateway.contact_lists import contact_list_json, every_list
from gateway.pages.rendering import TYPE_LABELS, render
from gateway.representation import campaign_json, domain_json, pool_json
from gateway.services import Services

STEPS = ("Details", "Recipients", "Message", "Sending", "Summary")


def choices(platform: Services) -> dict[str, Any]:
    """What the steps choose from."""
    app = platform.app
    limit = app.domain_limit()
    return {
        "streams": [stream.name for stream in app.list_streams() if stream.enabled],
        "lists": [contact_list_json(c) for c in every_list(platform)],
        "pools": [pool_json(pool) for pool in app.list_pools()],
        "domains": [domain_json(domain, limit) for domain in app.list_domains()],
        "prices": app.prices(),
    }


def draft(platform: Services, raw_id: str) -> Campaign | None:
    try:
        return platform.app.find(Campaign, uuid.UUID(raw_id))
    except ValueError:
        return None


def chosen_step(request: Request, has_campaign: bool) -> int:
    if not has_campaign:
        return 1
    try:
        return parse_whole_number(request.query_params.get("step", "1"), 1, len(STEPS))
    except Invalid:  # an address edited by hand: the wizard starts at its first step
        return 1


async def wizard_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    campaign = None
    if "id" in request.path_params:
        campaign = await run_in_threadpool(draft, platform, request.path_params["id"])
        if campaign is None:
            return RedirectResponse("/campaigns/new", status_code=302)
        if campaign.status is not Status.DRAFT:  # launched: the side panel edits what is left
            return RedirectResponse(f"/campaigns?open={campaign.id}", status_code=302)
    data = await run_in_threadpool(choices, platform)
    data["campaign"] = campaign_json(campaign) if campaign else None
    return render(
        "wizard.html",
        request,
        active="" if campaign else "new",
        campaign=data["campaign"],
        data=data,
        steps=STEPS,
        step=chosen_step(request, campaign is not None),
        types=[(kind, TYPE_LABELS[kind]) for kind in CAMPAIGN_TYPES],
    )
