"""The catalogue pages: link domains (F10), domain pools (F11) and contact lists (F16)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.link_domain import DOMAIN_TRANSITIONS
from gateway.contact_lists import contact_list_json, every_list
from gateway.pages.rendering import render
from gateway.representation import domain_json, pool_json
from gateway.services import Services

DOMAIN_COMMANDS = ("configure", "block", "decline", "archive")


def domain_rows(platform: Services) -> tuple[list[dict[str, Any]], int]:
    limit = platform.app.domain_limit()
    rows = []
    for domain in platform.app.list_domains():
        row = domain_json(domain, limit)
        status = domain.status  # the stored status: Reached Limit is only how it reads now
        row["commands"] = [c for c in DOMAIN_COMMANDS if status in DOMAIN_TRANSITIONS[c]]
        rows.append(row)
    return rows, limit


async def domains_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    rows, limit = await run_in_threadpool(domain_rows, platform)
    return render("domains.html", request, active="domains", domains=rows, limit=limit)


def pools_and_domains(platform: Services) -> tuple[list[dict[str, Any]], list[str]]:
    pools = [pool_json(pool) for pool in platform.app.list_pools()]
    return pools, [domain.name for domain in platform.app.list_domains()]


async def pools_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    pools, names = await run_in_threadpool(pools_and_domains, platform)
    return render("pools.html", request, active="pools", pools=pools, domain_names=names)


def back_link(request: Request) -> str | None:
    """Where the wizard sent the user from; only a wizard address of ours is followed."""
    target = request.query_params.get("return", "")
    if target.startswith("/campaigns/") and "//" not in target and "\\" not in target:
        return target
    return None


async def contact_lists_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    lists = await run_in_threadpool(every_list, platform)
    return render(
        "contact_lists.html",
        request,
        active="lists",
        lists=[contact_list_json(c) for c in lists],
        back=back_link(request),
    )
