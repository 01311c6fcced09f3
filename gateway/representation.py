"""How aggregates look in JSON answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.campaign import Campaign
from domain.fields import format_time
from domain.link_domain import LinkDomain
from domain.pool import DomainPool
from domain.status import allowed_commands
from domain.stream import Stream
from gateway.stats import campaign_figures
from projections.leases import Lease


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


def domain_json(domain: LinkDomain, limit: int) -> dict[str, Any]:
    return {
        "name": domain.name,
        "status": domain.status_under(limit).value,
        "usage": domain.usage,
        "limit": limit,
        "version": domain.version,
        "created_at": format_time(domain.created_on),
        "last_used_at": format_time(domain.last_used_at) if domain.last_used_at else None,
    }


def pool_json(pool: DomainPool) -> dict[str, Any]:
    return {
        "id": str(pool.id),
        "version": pool.version,
        "name": pool.name,
        "description": pool.description,
        "domains": pool.domains,
        "created_at": format_time(pool.created_on),
    }


def stream_json(stream: Stream, lease: Lease | None = None) -> dict[str, Any]:
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
        "owner": owner,
        **({"demo": stream.options} if stream.carrier == "demo" else {}),
    }
