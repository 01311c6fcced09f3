"""When a campaign's links have run out of domains: a link the campaign's texts use none of
whose domains is usable (Configured, below the messaging limit). The sending engine suspends
the campaign for it, and a resume is refused while it lasts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.fields import LINK_LABELS
from domain.link_domain import DomainStatus, LinkDomain


@dataclass(frozen=True)
class DomainUse:
    """One of a link's domains as the rule reads it: its name, the status people see under
    the limit (Reached Limit included) and the messages it has carried."""

    name: str
    status: DomainStatus
    usage: int

    @classmethod
    def of(cls, domain: LinkDomain, limit: int) -> DomainUse:
        return cls(domain.name, domain.status_under(limit), domain.usage)

    @property
    def usable(self) -> bool:
        return self.status is DomainStatus.CONFIGURED


# A campaign's links: each kind it uses (`short`, `optout`) -> its domains, in order.
LinkDomains = Mapping[str, Sequence[DomainUse]]


@dataclass(frozen=True)
class Suspension:
    """Why a campaign is suspended, in words, and the cause its event records."""

    reason: str
    cause: dict[str, Any]


def exhausted_links(links: LinkDomains, limit: int) -> dict[str, list[str]]:
    """Each link with no usable domain, with its domains described (`name (status,
    usage/limit)`); empty while every link has one."""
    return {
        kind: [f"{d.name} ({d.status.value}, {d.usage}/{limit})" for d in domains]
        for kind, domains in links.items()
        if not any(d.usable for d in domains)
    }


def suspension_for(links: LinkDomains, limit: int) -> Suspension | None:
    """The suspension a campaign needs because its links ran out of domains; None while
    every link has a usable domain."""
    exhausted = exhausted_links(links, limit)
    if not exhausted:
        return None
    parts = [
        f"every domain for the {LINK_LABELS[kind]} reached the messaging limit of {limit} "
        f"or is not usable: {', '.join(names) or 'no domains'}"
        for kind, names in exhausted.items()
    ]
    reason = "; ".join(parts) + ". Add a domain, configure one or raise the limit to resume."
    return Suspension(reason, {"kind": "domains", "links": exhausted, "limit": limit})


def still_exhausted(links: LinkDomains, limit: int) -> list[str]:
    """What keeps a campaign suspended for its domains from resuming: one line per link
    that still has no usable domain."""
    return [
        f"no usable domain for the {LINK_LABELS[kind]}: add a domain, configure one, "
        f"or raise the limit ({limit})"
        for kind in exhausted_links(links, limit)
    ]
