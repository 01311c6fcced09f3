"""Dispatch (F5, F6, F8, F10): building messages and recording them in batches.

The store keeps one event per batch of messages (the `DispatchLog` of a campaign) together
with the usage of the domains the batch used, never one event per message.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.audited import Audited, id_for_name

CODE_LENGTH = 10


def link_codes(campaign_id: str, seq: int) -> tuple[str, str]:
    """A message's short link and opt-out link codes: stable for (campaign, recipient
    position), so a batch rebuilt after a crash has the same codes, and unguessable without
    the campaign's id. Ten URL-safe characters (60 bits) each, from one hash."""
    digest = hashlib.blake2b(f"{campaign_id}:{seq}".encode(), digest_size=15).digest()
    text = base64.urlsafe_b64encode(digest).decode()
    return text[:CODE_LENGTH], text[CODE_LENGTH : 2 * CODE_LENGTH]


class Placeholders(dict[str, str]):
    """A contact's columns; a column the contact lacks renders as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def render(text: str, fields: dict[str, Any], short_url: str, optout_url: str) -> str:
    values = Placeholders({k: str(v) for k, v in fields.items()})
    values["short_url"] = short_url
    values["optout_url"] = optout_url
    return text.format_map(values)


@dataclass(frozen=True)
class Allocation:
    """`count` consecutive messages of a batch go through `domain`."""

    domain: str
    count: int


def allocate(capacity: Sequence[tuple[str, int]], wanted: int) -> list[Allocation]:
    """Spreads `wanted` messages over domains in order, each up to its remaining capacity."""
    allocations = []
    left = wanted
    for domain, remaining in capacity:
        if left <= 0:
            break
        take = min(left, remaining)
        if take > 0:
            allocations.append(Allocation(domain, take))
            left -= take
    return allocations


def spread(allocations: Sequence[Allocation]) -> list[str]:
    return [a.domain for a in allocations for _ in range(a.count)]


class DispatchLog(Audited):
    """The batches of messages dispatched for one campaign."""

    class Event(Audited.Event):
        pass

    class Opened(Event, Audited.Created):
        campaign_id: str

    class BatchRecorded(Event):
        first_seq: int
        last_seq: int
        count: int
        cost: str
        by_domain: dict[str, int]
        by_variant: dict[str, int]

        def apply_to(self, log: DispatchLog) -> None:
            log.next_seq = self.last_seq + 1
            log.messages += self.count

    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        self.next_seq = 0
        self.messages = 0

    @staticmethod
    def id_for(campaign_id: str) -> Any:
        return id_for_name("dispatch", campaign_id)

    @classmethod
    def open(cls, campaign_id: str) -> DispatchLog:
        return cls._create(
            cls.Opened,
            id=id_for_name("dispatch", campaign_id),
            campaign_id=campaign_id,
            actor="system",
            reason="dispatch began",
            command_id=None,
        )

    def record_batch(
        self,
        first_seq: int,
        last_seq: int,
        cost: str,
        by_domain: dict[str, int],
        by_variant: dict[str, int],
    ) -> None:
        if first_seq < self.next_seq:
            return  # recorded already (a batch replayed after a restart)
        self.trigger_event(
            self.BatchRecorded,
            first_seq=first_seq,
            last_seq=last_seq,
            count=last_seq - first_seq + 1,
            cost=cost,
            by_domain=by_domain,
            by_variant=by_variant,
            actor="system",
            reason=f"dispatched recipients {first_seq + 1} to {last_seq + 1}",
            command_id=None,
        )
