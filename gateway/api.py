"""The JSON API under /api: endpoints parse, call the application, render."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from domain.application import LIFECYCLE_COMMANDS, parse_id
from domain.campaign import Campaign
from domain.stream import Stream
from gateway.errors import ApiError
from gateway.representation import campaign_json, domain_answer, pool_answer, stream_json
from gateway.schemas.answers import (
    DomainLimit,
    DomainList,
    DomainsAdded,
    PoolList,
    PriceTable,
    Settings,
    answer,
)
from gateway.schemas.campaigns import (
    CampaignCommand,
    CampaignCreate,
    CampaignEdit,
    DuplicateCommand,
)
from gateway.schemas.catalogue import (
    DomainCommand,
    DomainLimitChange,
    DomainsAdd,
    PoolCreate,
    PoolEdit,
    PricesChange,
)
from gateway.schemas.decoding import read_as
from gateway.schemas.fields import fields_of, options
from gateway.schemas.moments import as_time
from gateway.schemas.queries import (
    CampaignListQuery,
    CampaignQuery,
    EventsQuery,
    HistoryQuery,
    read_query,
)
from gateway.schemas.streams import StreamChange, StreamCreate
from gateway.services import Services
from gateway.stats import CampaignStats, with_figures
from projections.audit_trail import HistoryFilter, csv_lines, filtered
from projections.campaign_list import ListFilter
from projections.messages import dumps

T = TypeVar("T")
EVENTS_PAGE = 1000  # events read from the store at a time by GET /api/events
EVENTS_SCAN = 50_000  # positions one GET /api/events?type= reads at most
ANONYMOUS = "anonymous"


def platform_of(request: Request) -> Services:
    platform: Services = request.app.state.platform
    return platform


def actor_of(request: Request) -> str:
    return getattr(request.state, "actor", ANONYMOUS)


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(function, *args, **kwargs)


async def campaign_answer(
    platform: Services, campaign: Campaign, as_of: datetime | None = None
) -> dict[str, Any]:
    """The campaign with its sent count, CTR and cost (as of a moment, when given)."""
    stats = CampaignStats(platform.activity.stats)
    return campaign_json(campaign, await call(stats.totals_of, campaign, as_of))


async def command_answer(
    platform: Services, command: Callable[..., Campaign], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """Runs a command, then reads the campaign's counters, in one trip to the threadpool (each
    trip is a thread handoff both ways, which costs more than the read itself under load)."""
    stats = CampaignStats(platform.activity.stats)

    def run() -> tuple[Campaign, dict[str, int]]:
        campaign = command(*args, **kwargs)
        return campaign, stats.totals(str(campaign.id))

    campaign, totals = await call(run)
    return campaign_json(campaign, totals)


# Campaigns.


async def create_campaign(request: Request) -> Response:
    body = await read_as(request, CampaignCreate)
    _reason, _expected, command_id = options(body)
    platform = platform_of(request)
    campaign = await call(
        platform.app.create_campaign,
        fields_of(body),
        actor=actor_of(request),
        command_id=command_id,
    )
    return JSONResponse(campaign_json(campaign), status_code=201)


def list_filter(query: CampaignListQuery) -> ListFilter:
    return ListFilter(
        name=query.name,
        statuses=tuple(query.status),
        tags=tuple(query.tag),
        type=query.type,
        stream=query.stream,
        created_from=as_time(query.created_from, "created_from"),
        created_to=as_time(query.created_to, "created_to", end_of_day=True),
    )


async def list_campaigns(request: Request) -> Response:
    query = read_query(request.query_params, CampaignListQuery)
    filters, page, per_page = list_filter(query), query.page, query.per_page
    platform = platform_of(request)
    await call(platform.wait_for_own_writes)
    result = await call(platform.campaign_list.query, platform.database, filters, page, per_page)
    items = await call(with_figures, result.items, platform.activity.stats)
    return JSONResponse({"items": items, "total": result.total, "page": page, "per_page": per_page})


async def get_campaign(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    query = read_query(request.query_params, CampaignQuery)
    version, as_of = query.version, as_time(query.as_of, "as_of")
    if version is not None and as_of is not None:
        raise ApiError(
            "validation_failed",
            "give either version or as_of, not both",
            [{"field": "as_of", "message": "cannot be combined with version"}],
        )
    platform = platform_of(request)
    campaign = await call(platform.app.get_campaign, campaign_id, version=version, as_of=as_of)
    if version is not None:  # its stats as they were when it reached that version
        as_of = campaign.modified_on
    return JSONResponse(await campaign_answer(platform, campaign, as_of))


async def edit_campaign(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    body = await read_as(request, CampaignEdit)
    reason, expected, command_id = options(body)
    platform = platform_of(request)
    answer = await command_answer(
        platform,
        platform.app.edit_campaign,
        campaign_id,
        fields_of(body),
        actor=actor_of(request),
        reason=reason,
        command_id=command_id,
        expected_version=expected,
    )
    return JSONResponse(answer)


async def campaign_command(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    command = request.path_params["command"]
    if command not in LIFECYCLE_COMMANDS:
        raise ApiError(
            "not_found", f"no command {command!r}; commands: {', '.join(LIFECYCLE_COMMANDS)}"
        )
    reason, expected, command_id = options(await read_as(request, CampaignCommand, empty_ok=True))
    platform = platform_of(request)
    answer = await command_answer(
        platform,
        platform.app.change_campaign_status,
        campaign_id,
        command,
        actor=actor_of(request),
        reason=reason,
        command_id=command_id,
        expected_version=expected,
    )
    return JSONResponse(answer)


async def duplicate_campaign(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    _reason, _expected, command_id = options(
        await read_as(request, DuplicateCommand, empty_ok=True)
    )
    platform = platform_of(request)
    campaign = await call(
        platform.app.duplicate_campaign, campaign_id, actor=actor_of(request), command_id=command_id
    )
    return JSONResponse(campaign_json(campaign), status_code=201)


def history_filter(query: HistoryQuery) -> HistoryFilter:
    return HistoryFilter(
        actor=query.actor,
        type=query.type,
        since=as_time(query.since, "from"),
        until=as_time(query.until, "to", end_of_day=True),
    )


def wants_csv(request: Request, chosen: str | None) -> bool:
    """CSV when the query's `format` says so, or without one when the client accepts it."""
    return chosen == "csv" or (chosen is None and "text/csv" in request.headers.get("accept", ""))


async def campaign_history(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    query = read_query(request.query_params, HistoryQuery)
    filters, as_csv = history_filter(query), wants_csv(request, query.format)
    platform = platform_of(request)
    await call(platform.app.get_campaign, campaign_id)  # 404 for an unknown campaign
    await call(platform.wait_for_own_writes)
    rows = await call(platform.campaign_list.history, platform.database, str(campaign_id))
    rows = filtered(rows, filters)
    if as_csv:
        return StreamingResponse(
            csv_lines(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="history-{campaign_id}.csv"'},
        )
    return JSONResponse(rows)


# Domains, pools, settings, streams.


async def add_domains(request: Request) -> Response:
    body = await read_as(request, DomainsAdd)
    _reason, _expected, command_id = options(body)
    platform = platform_of(request)
    added, known = await call(
        platform.app.add_domains, body.names, actor=actor_of(request), command_id=command_id
    )
    limit = await call(platform.app.domain_limit)
    answered = DomainsAdded(
        added=[domain_answer(d, limit) for d in added],
        existing=[domain_answer(d, limit) for d in known],
    )
    return answer(answered, status_code=201 if added else 200)


async def list_domains(request: Request) -> Response:
    platform = platform_of(request)
    domains = await call(platform.app.list_domains)
    limit = await call(platform.app.domain_limit)
    return answer(DomainList(items=[domain_answer(d, limit) for d in domains], limit=limit))


async def domain_command(request: Request) -> Response:
    command = request.path_params["command"]
    if command not in ("configure", "archive", "block", "decline"):
        raise ApiError("not_found", f"no domain command {command!r}")
    reason, expected, command_id = options(await read_as(request, DomainCommand, empty_ok=True))
    platform = platform_of(request)
    domain = await call(
        platform.app.change_domain_status,
        request.path_params["name"],
        command,
        actor=actor_of(request),
        reason=reason,
        command_id=command_id,
        expected_version=expected,
    )
    limit = await call(platform.app.domain_limit)
    return answer(domain_answer(domain, limit))


async def set_domain_limit(request: Request) -> Response:
    decoded_body = await read_as(request, DomainLimitChange)
    body = fields_of(decoded_body)
    _reason, _expected, command_id = options(decoded_body)
    platform = platform_of(request)
    limit = await call(
        platform.app.set_domain_limit, body, actor=actor_of(request), command_id=command_id
    )
    return answer(DomainLimit(limit=limit))


async def get_settings(request: Request) -> Response:
    platform = platform_of(request)
    return answer(
        Settings(
            domain_limit=await call(platform.app.domain_limit),
            prices=await call(platform.app.prices),
        )
    )


async def set_prices(request: Request) -> Response:
    decoded_body = await read_as(request, PricesChange)
    body = fields_of(decoded_body)
    _reason, _expected, command_id = options(decoded_body)
    platform = platform_of(request)
    prices = await call(
        platform.app.set_prices, body, actor=actor_of(request), command_id=command_id
    )
    return answer(PriceTable(prices=prices))


async def create_pool(request: Request) -> Response:
    decoded_body = await read_as(request, PoolCreate)
    body = fields_of(decoded_body)
    _reason, _expected, command_id = options(decoded_body)
    platform = platform_of(request)
    pool = await call(
        platform.app.create_pool, body, actor=actor_of(request), command_id=command_id
    )
    return answer(pool_answer(pool), status_code=201)


async def list_pools(request: Request) -> Response:
    platform = platform_of(request)
    pools = await call(platform.app.list_pools)
    return answer(PoolList(items=[pool_answer(p) for p in pools]))


async def get_pool(request: Request) -> Response:
    pool_id = parse_id(request.path_params["id"], "pool")
    platform = platform_of(request)
    from domain.pool import DomainPool

    pool = await call(platform.app.load, DomainPool, pool_id, "pool")
    return answer(pool_answer(pool))


async def edit_pool(request: Request) -> Response:
    pool_id = parse_id(request.path_params["id"], "pool")
    decoded_body = await read_as(request, PoolEdit)
    body = fields_of(decoded_body)
    _reason, expected, command_id = options(decoded_body)
    platform = platform_of(request)
    pool = await call(
        platform.app.edit_pool,
        pool_id,
        body,
        actor=actor_of(request),
        command_id=command_id,
        expected_version=expected,
    )
    return answer(pool_answer(pool))


def stream_answers(platform: Services, streams: list[Stream]) -> list[dict[str, Any]]:
    """The streams with their owners and links, read in one trip to the threadpool."""
    leases, links = platform.stream_leases(), platform.stream_links()
    now = datetime.now(UTC)
    return [stream_json(s, leases.get(s.name), links.get(s.name), now) for s in streams]


async def list_streams(request: Request) -> Response:
    platform = platform_of(request)

    def read() -> list[dict[str, Any]]:
        return stream_answers(platform, platform.app.list_streams())

    return JSONResponse({"items": await call(read)})


async def create_stream(request: Request) -> Response:
    decoded_body = await read_as(request, StreamCreate)
    body = fields_of(decoded_body)
    _reason, _expected, command_id = options(decoded_body)
    platform = platform_of(request)

    def create() -> dict[str, Any]:
        stream = platform.app.create_stream(body, actor=actor_of(request), command_id=command_id)
        return stream_answers(platform, [stream])[0]

    return JSONResponse(await call(create), status_code=201)


async def change_stream(request: Request) -> Response:
    decoded_body = await read_as(request, StreamChange)
    body = fields_of(decoded_body)
    _reason, expected, command_id = options(decoded_body)
    platform = platform_of(request)

    def change() -> dict[str, Any]:
        stream = platform.app.change_stream(
            request.path_params["name"],
            body,
            actor=actor_of(request),
            command_id=command_id,
            expected_version=expected,
        )
        return stream_answers(platform, [stream])[0]

    return JSONResponse(await call(change))


# The event history, for analysts.


async def stream_events(request: Request) -> Response:
    query = read_query(request.query_params, EventsQuery)
    after, limit, wanted = query.after, query.limit, query.type
    platform = platform_of(request)
    # With `type`, a rare type would have the whole store read for a few lines: the read
    # stops at a window of positions instead and, when the store goes on past it,
    # X-Next-After says where the next request reads on from.
    stop = after + EVENTS_SCAN if wanted else 2**63 - 1
    last = await call(platform.app.recorder.max_notification_id) if wanted else None
    headers = {"X-Next-After": str(stop)} if last is not None and last > stop else {}

    def pages() -> Iterator[str]:
        """A page of lines at a time: memory stays flat from any position, and each page
        is one trip to the threadpool rather than one per line."""
        position, left = after, limit
        while left > 0 and position < stop:
            read = platform.read_events(position, min(EVENTS_PAGE, stop - position))
            messages = [m for m in read if m.position <= stop]
            if not messages:
                return
            position = messages[-1].position
            chosen = [m for m in messages if not wanted or wanted in (m.type, m.name)][:left]
            left -= len(chosen)
            if chosen:
                yield "".join(dumps(m.to_json()) + "\n" for m in chosen)

    return StreamingResponse(pages(), media_type="application/x-ndjson", headers=headers)


routes = [
    Route("/api/campaigns", create_campaign, methods=["POST"]),
    Route("/api/campaigns", list_campaigns, methods=["GET"]),
    Route("/api/campaigns/{id}", get_campaign, methods=["GET"]),
    Route("/api/campaigns/{id}", edit_campaign, methods=["PATCH"]),
    Route("/api/campaigns/{id}/duplicate", duplicate_campaign, methods=["POST"]),
    Route("/api/campaigns/{id}/history", campaign_history, methods=["GET"]),
    Route("/api/campaigns/{id}/{command}", campaign_command, methods=["POST"]),
    Route("/api/domains", add_domains, methods=["POST"]),
    Route("/api/domains", list_domains, methods=["GET"]),
    Route("/api/domains/{name}/{command}", domain_command, methods=["POST"]),
    Route("/api/settings", get_settings, methods=["GET"]),
    Route("/api/settings/domain-limit", set_domain_limit, methods=["PUT"]),
    Route("/api/settings/prices", set_prices, methods=["PUT"]),
    Route("/api/domain-pools", create_pool, methods=["POST"]),
    Route("/api/domain-pools", list_pools, methods=["GET"]),
    Route("/api/domain-pools/{id}", get_pool, methods=["GET"]),
    Route("/api/domain-pools/{id}", edit_pool, methods=["PATCH"]),
    Route("/api/streams", list_streams, methods=["GET"]),
    Route("/api/streams", create_stream, methods=["POST"]),
    Route("/api/streams/{name}", change_stream, methods=["PATCH"]),
    Route("/api/events", stream_events, methods=["GET"]),
]
