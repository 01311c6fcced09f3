"""A campaign's activity over HTTP: its stats (F7), its message log, and the wizard's
Summary estimate (F4, F18).

The message log and the Summary's sample carry personal data (numbers, working links,
contact columns): the roles of `domain.roles.PERSONAL_DATA` read them, and each such answer
is written down first (gateway.disclosures); the other roles read them without it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.application import parse_id
from domain.campaign import Campaign
from domain.content import content_problems
from domain.dispatch import render
from domain.estimate import Estimate, PrefixGroup, estimate, sample_url
from domain.fields import LINK_PLACEHOLDERS, Invalid, placeholders_in
from domain.phone import masked
from domain.pricing import FOUR_PLACES, money
from gateway.api import call, platform_of
from gateway.disclosures import disclose, personal_reader
from gateway.schemas.activity_answers import Message, MessagePage
from gateway.schemas.answers import answer
from gateway.schemas.moments import as_time
from gateway.schemas.queries import PageQuery, StatsQuery, read_query
from gateway.services import Services
from gateway.stats import CampaignStats
from projections.activity import from_units
from projections.disclosures import ESTIMATE, MESSAGES

# Stats.


async def campaign_stats(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    query = read_query(request.query_params, StatsQuery)
    as_of, known_at = as_time(query.as_of, "as_of"), as_time(query.known_at, "known_at")
    platform = platform_of(request)
    campaign = await call(platform.app.get_campaign, campaign_id, as_of=as_of or known_at)
    stats = CampaignStats(platform.activity.stats)
    return JSONResponse(await call(stats.stats, campaign, as_of, known_at))


# The message log.


def link(domain: str | None, kind: str, code: str) -> str | None:
    return f"https://{domain}/{kind}/{code}" if domain else None


def message_answer(
    row: tuple[Any, ...],
    carrier: tuple[str | None, str | None] = (None, None),
    personal: bool = True,
    templates: dict[str, str] | None = None,
) -> Message:
    """One message of the log; without `personal`, its number masked, its links (which
    work: they click and opt out) and its id (the short link's code) left out, and its text
    the variant's as written (the text as sent holds the links and the contact's columns)."""
    (
        message_id,
        optout_code,
        recipient,
        variant_id,
        text,
        parts,
        cost_units,
        domain,
        optout_domain,
        status,
        sent_at,
        created_at,
        clicked_at,
    ) = row
    return Message(
        id=message_id if personal else None,
        recipient=recipient if personal else masked(recipient),
        variant_id=variant_id,
        text=text if personal else (templates or {}).get(variant_id, ""),
        parts=int(parts),
        cost=money(from_units(int(cost_units))),
        domain=domain,
        short_url=link(domain, "s", message_id) if personal else None,
        optout_domain=optout_domain,
        optout_url=link(optout_domain, "o", optout_code) if personal else None,
        status=status,
        created_at=created_at,
        sent_at=sent_at,
        clicked_at=clicked_at,
        carrier_message_id=carrier[0],
        carrier_error=carrier[1],
    )


async def campaign_messages(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    query = read_query(request.query_params, PageQuery)
    page, per_page = query.page, query.per_page
    platform = platform_of(request)
    campaign = await call(platform.app.get_campaign, campaign_id)  # 404 for an unknown one
    rows, total = await call(platform.activity.messages.page, str(campaign_id), page, per_page)
    carriers = await call(platform.carrier_log().errors_of, [row[0] for row in rows])
    reader = personal_reader(request)
    if reader is not None and rows:
        await disclose(request, reader, str(campaign_id), MESSAGES, len(rows), page, per_page)
    templates = variant_texts(campaign)
    items = [
        message_answer(row, carriers.get(row[0], (None, None)), reader is not None, templates)
        for row in rows
    ]
    return answer(MessagePage(items=items, total=total, page=page, per_page=per_page))


def variant_texts(campaign: Campaign) -> dict[str, str]:
    """Each variant's text as written, placeholders and all, by the variant's id."""
    return {str(v["id"]): str(v["text"]) for v in campaign.fields.get("variants", [])}


# The Summary's estimate.


def first_domain(platform: Services, campaign: Campaign, kind: str) -> str | None:
    """The domain the link's first messages would go through: the first usable one (as the
    engine allocates), else the first named."""
    if kind not in campaign.links_used():
        return None
    domains = platform.app.campaign_domains(campaign, kind)
    limit = platform.app.domain_limit()
    usable = [d for d in domains if d.is_usable(limit)]
    chosen = usable or domains
    return chosen[0].name if chosen else None


def contact_columns(texts: list[str]) -> set[str]:
    """The contact columns these texts use (placeholders other than the links)."""
    found: set[str] = set()
    for text in texts:
        try:
            found.update(placeholders_in(text))
        except Invalid:  # a text the estimate cannot render either
            continue
    return found - LINK_PLACEHOLDERS.keys()


def estimate_campaign(
    platform: Services, campaign: Campaign, personal: bool = True
) -> tuple[dict[str, Any], bool]:
    """The estimate, and whether its samples show a contact's columns. Without `personal`,
    each sample names the columns (`{first_name}`) instead: the figures stay the same."""
    activity, prices = platform.activity, platform.prices()
    lists = list(campaign.fields.get("contact_lists", []))
    audience = [PrefixGroup(p, n) for p, n in activity.audience.count(lists, 1 + prices.longest)]
    sample = activity.audience.first(lists)
    short, optout = (
        first_domain(platform, campaign, "short"),
        first_domain(platform, campaign, "optout"),
    )
    variants = campaign.fields.get("variants", [])
    result = estimate(variants, audience, prices, sample[1] if sample else {}, short, optout)
    summary = estimate_json(campaign, result, {"short": short, "optout": optout})
    columns = contact_columns([str(v["text"]) for v in variants])
    if not personal:
        names = {column: "{" + column + "}" for column in columns}
        links = (sample_url(short, "s"), sample_url(optout, "o"))
        texts = variant_texts(campaign)
        for shown in summary["variants"]:
            text = texts.get(shown["id"])
            if text is not None:
                shown["sample"] = render(text, names, *links)
    return summary, personal and sample is not None and bool(columns)


def estimate_json(
    campaign: Campaign, result: Estimate, domains: dict[str, str | None]
) -> dict[str, Any]:
    per_message = (
        money((result.cost / result.recipients).quantize(FOUR_PLACES))
        if result.recipients
        else None
    )
    return {
        "campaign_id": str(campaign.id),
        "recipients": result.recipients,
        "parts": result.parts,
        "cost": money(result.cost),
        "cost_per_message": per_message,
        "variants": [
            {
                "id": v.id,
                "weight": v.weight,
                "sample": v.sample,
                "encoding": v.encoding,
                "units": v.units,
                "parts": v.parts,
                "recipients": v.recipients,
                "cost": money(v.cost),
            }
            for v in result.variants
        ],
        "by_prefix": [
            {
                "prefix": group.prefix,
                "recipients": group.recipients,
                "price_per_part": money(group.price_per_part),
            }
            for group in result.prices
        ],
        "link_domains": domains,
        "problems": content_problems(campaign.fields),
    }


async def campaign_estimate(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    platform = platform_of(request)
    campaign = await call(platform.app.get_campaign, campaign_id)
    reader = personal_reader(request)
    summary, shows_contact = await call(estimate_campaign, platform, campaign, reader is not None)
    if reader is not None and shows_contact:
        await disclose(request, reader, str(campaign_id), ESTIMATE, 1)
    return JSONResponse(summary)


routes = [
    Route("/api/campaigns/{id}/stats", campaign_stats, methods=["GET"]),
    Route("/api/campaigns/{id}/messages", campaign_messages, methods=["GET"]),
    Route("/api/campaigns/{id}/estimate", campaign_estimate, methods=["GET"]),
]
