"""Page rendering: the campaigns list (F1, F2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from domain.errors import DomainError
from domain.fields import CAMPAIGN_TYPES
from domain.status import Status
from gateway.stats import with_figures

HERE = Path(__file__).parent
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
PER_PAGE = 20


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def render(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context))


async def home(_request: Request) -> Response:
    return RedirectResponse("/campaigns", status_code=302)


async def campaigns_page(request: Request) -> Response:
    from gateway.api import list_filter  # the same filters as the API
    from gateway.inputs import query_int

    platform = request.app.state.platform
    error = None
    try:
        filters = list_filter(request)
        page = query_int(request, "page", 1, 1, 1_000_000)
    except DomainError as problem:
        from projections.campaign_list import ListFilter

        filters, page, error = ListFilter(), 1, problem.message
    await run_in_threadpool(platform.wait_for_own_writes)
    result = await run_in_threadpool(
        platform.campaign_list.query, platform.database, filters, page, PER_PAGE
    )
    items = await run_in_threadpool(with_figures, result.items, platform.activity)
    pages = max(1, -(-result.total // PER_PAGE))
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]

    def page_link(number: int) -> str:
        return "/campaigns?" + urlencode([*query, ("page", str(number))])

    return render(
        "campaigns.html",
        result=result,
        items=items,
        filters=filters,
        page=page,
        pages=pages,
        page_link=page_link,
        statuses=[s.value for s in Status],
        types=CAMPAIGN_TYPES,
        error=error,
        query=dict(request.query_params),
    )


page_routes = [
    Route("/", home, methods=["GET"]),
    Route("/campaigns", campaigns_page, methods=["GET"]),
]
