"""How aggregates look in JSON answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from domain.campaign import Campaign
from domain.fields import format_time
from domain.link_domain import LinkDomain
from domain.pool import DomainPool
from domain.status import allowed_commands
from domain.stream import Stream
from gateway.schemas import answers
from gateway.stats import campaign_figures
from projections.carrier_log import LinkState
from projections.leases import Lease

# A link not reported for longer than this has no sending process looking after it.
LINK_REPORTED_WITHIN = timedelta(seconds=10)


def campaign_json(campaign: Campaign, totals: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The campaign; `totals` are its activity counters (none yet when not given)."""
    fields = campaign.fields
    figures = campaign_figures(totals)
    return {
        "id": str(campaign.id),
        "version": campaign.version,
        "name": fields["name"],
        "description": fields.get("description", ""),
        "status": campaign.status.value,
        "status_reason": campaign.status_reason,
        "suspension": campaign.suspension,
        "tags": fields.get("tags", []),
        "type": fields.get("type"),
        "stream": fields.get("stream"),
        "sender": fields.get("sender"),
        "created_at": format_time(campaign.created_on),
        "updated_at": format_time(campaign.modified_on),
        "created_by": campaign.created_by,
        "duplicated_from": campaign.duplicated_from,
        "contact_lists": fields.get("contact_lists", []),
        "variants": fields.get("variants", []),
        "ratio_epoch": campaign.ratio_epoch,
        "links": fields.get("links", {}),
        "start_at": fields.get("start_at"),
        "sending_schedule": fields.get("sending_schedule"),
        "pause_rules": fields.get("pause_rules", []),
        "ctr_indicators": fields.get("ctr_indicators"),
        "recipients": {"total": campaign.recipients, "sent": figures["sent"]},
        "ctr": figures["ctr"],
        "cost": figures["cost"],
        "started_at": format_time(campaign.started_at) if campaign.started_at else None,
        "finished_at": format_time(campaign.finished_at) if campaign.finished_at else None,
        "allowed_commands": allowed_commands(campaign.status),
        "missing_steps": campaign.missing_steps() if campaign.status.value == "Draft" else [],
    }


def domain_answer(domain: LinkDomain, limit: int) -> answers.Domain:
    return answers.Domain(
        name=domain.name,
        status=domain.status_under(limit).value,
        usage=domain.usage,
        limit=limit,
        version=domain.version,
        created_at=format_time(domain.created_on),
        last_used_at=format_time(domain.last_used_at) if domain.last_used_at else None,
    )


def domain_json(domain: LinkDomain, limit: int) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(domain_answer(domain, limit))
    return found


def pool_answer(pool: DomainPool) -> answers.Pool:
    return answers.Pool(
        id=str(pool.id),
        version=pool.version,
        name=pool.name,
        description=pool.description,
        domains=list(pool.domains),
        created_at=format_time(pool.created_on),
    )


def pool_json(pool: DomainPool) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(pool_answer(pool))
    return found


def stream_json(
    stream: Stream,
    lease: Lease | None = None,
    link: LinkState | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The stream with its settings (never its secrets: only which are set), the process
    that owns it, and its carrier link as that process last reported it."""
    owner = None
    if lease is not None and lease.held:
        owner = {
            "process": lease.owner,
            "epoch": lease.epoch,
            "lease_expires_at": format_time(datetime.fromtimestamp(lease.expires_at, UTC)),
        }
    return {
        "name": stream.name,
        "carrier": stream.carrier,
        "rate": stream.rate,
        "enabled": stream.enabled,
        "version": stream.version,
        "settings": dict(stream.options),
        "secrets": sorted(stream.secrets),
        "owner": owner,
        "link": link_json(stream, link, now or datetime.now(UTC)),
        **({"demo": stream.options} if stream.carrier == "demo" else {}),
    }


def link_json(stream: Stream, link: LinkState | None, now: datetime) -> dict[str, Any] | None:
    """A real carrier's link: `disabled`, `waiting` (no sending process reported it within
    LINK_REPORTED_WITHIN, said in `error`), or the state its process reported. The demo
    carrier has no link: null."""
    if stream.carrier == "demo":
        return None
    reported = None if link is None else moment_of(link.updated_at)
    fresh = reported is not None and now - reported <= LINK_REPORTED_WITHIN
    if link is not None and fresh:
        answer = {
            "state": link.state,
            "error": link.error,
            "in_flight": link.in_flight,
            "window": link.window,
            "per_second": link.per_second,
            "since": api_time(link.since),
            "process": link.process,
        }
    else:
        since = format_time(reported) if reported is not None else format_time(stream.created_on)
        answer = {
            "state": "waiting",
            "error": f"no sending process has reported this stream's link since {since}",
            "in_flight": 0,
            "window": stream.options.get("window"),
            "per_second": 0.0,
            "since": since,
            "process": None,
        }
    if not stream.enabled:
        stopped = answer["state"] == "stopped"
        answer.update(state="disabled", error=None, since=answer["since"] if stopped else None)
    last = link.last_receipt_at if link is not None else None
    return {**answer, "last_receipt_at": None if last is None else api_time(last)}


def moment_of(text: str) -> datetime | None:
    """A time the sending tier wrote down (ISO 8601), or None when it cannot be read."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def api_time(text: str) -> str:
    """The sending tier's times in the API's format (UTC with a `Z`), when they read."""
    moment = moment_of(text)
    return text if moment is None else format_time(moment)
