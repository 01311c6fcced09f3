"""The links in messages (F8): `/s/{code}` redirects and counts a click; `/o/{code}` is the
opt-out page. Recipients' phones open these, so they answer HTML, never JSON.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.campaign import Campaign
from domain.clicks import is_preview_agent
from domain.errors import NotFound
from domain.phone import masked
from gateway.api import call, platform_of
from gateway.clicks import LINK_SECONDS, AddressLimit, ClickWriter
from gateway.pages.rendering import render
from gateway.services import Services
from projections.activity import MessageRef

MAX_CODE = 64
CODE = re.compile(r"[0-9A-Za-z_-]{1,64}")  # URL-safe; anything else names no message
NO_STORE = {"Cache-Control": "no-store"}  # each visit must reach us to be counted
OPTOUT_SOURCE = "opt-out page"


def is_code(text: str) -> bool:
    return len(text) <= MAX_CODE and CODE.fullmatch(text) is not None  # the length first


def not_found() -> Response:
    response = render("link_not_found.html")
    response.status_code = 404
    response.headers.update(NO_STORE)
    return response


def load_campaign(platform: Services, campaign_id: str) -> Campaign | None:
    try:
        return platform.app.get_campaign(uuid.UUID(campaign_id))
    except NotFound:
        return None


def short_target(platform: Services, code: str) -> str | None:
    """Where the message's short link leads now (the target may be edited while live)."""
    message = platform.activity.messages.by_id(code)
    if message is None:
        return None
    campaign = load_campaign(platform, message.campaign_id)
    if campaign is None:
        return None
    link = (campaign.fields.get("links") or {}).get("short") or {}
    target = link.get("target")
    return str(target) if target else None


def too_many() -> Response:
    response = render("link_not_found.html")
    response.status_code = 429
    response.headers.update({**NO_STORE, "Retry-After": str(int(LINK_SECONDS))})
    return response


def allowed(request: Request) -> bool:
    """Whether the visitor's address may open another link now."""
    limit: AddressLimit = request.app.state.link_limit
    return limit.allow(request.client.host if request.client else "")


async def short_link(request: Request) -> Response:
    code = request.path_params["code"]
    if not CODE.fullmatch(code):
        return not_found()
    if not allowed(request):
        return too_many()
    platform = platform_of(request)
    target = await call(short_target, platform, code)
    if target is None:
        return not_found()
    agent = request.headers.get("user-agent", "")
    if request.method == "GET" and not is_preview_agent(agent):
        clicks: ClickWriter = request.app.state.clicks
        clicks.add(code, agent[:300])
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


# The opt-out page.


def optout_page(
    platform: Services, code: str, confirm: bool
) -> tuple[MessageRef, Campaign | None, str] | None:
    """The message, its campaign and what the page shows: `ask`, `opted_out` (now) or
    `already` (before)."""
    activity = platform.activity
    message = activity.messages.by_optout_code(code)
    if message is None:
        return None
    already = bool(activity.engagement.opted_out([message.recipient]))
    if confirm and not already:
        activity.engagement.opt_out_by_code(code, datetime.now(UTC), source=OPTOUT_SOURCE)
    state = "already" if already else "opted_out" if confirm else "ask"
    return message, load_campaign(platform, message.campaign_id), state


async def optout(request: Request) -> Response:
    code = request.path_params["code"]
    if not is_code(code):
        return not_found()
    found = await call(optout_page, platform_of(request), code, request.method == "POST")
    if found is None:
        return not_found()
    message, campaign, state = found
    sender = (campaign.fields.get("sender") if campaign else None) or "this sender"
    page = render(
        "optout.html", sender=sender, number=masked(message.recipient), code=code, state=state
    )
    page.headers.update(NO_STORE)
    return page


routes = [
    Route("/s/{code}", short_link, methods=["GET"]),  # Starlette answers HEAD here too
    Route("/o/{code}", optout, methods=["GET", "POST"]),
]
