"""Dispatch (F5, F6, F8, F10): building messages and recording them in batches.

The store keeps one event per batch of messages (the `DispatchLog` of a campaign) together
with the usage of the domains the batch used, never one event per message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.audited import Audited, id_for_name

# Digits in ASCII order, so that codes sort as their numbers do: messages numbered one after
# another are stored side by side in an index, and recording a batch of them touches a few
# pages instead of one page per message.
DIGITS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
NUMBER_LENGTH = 5  # the message number: 64**5, about a billion messages, before codes widen
MAC_LENGTH = 5  # 30 bits that make codes unguessable
CODE_LENGTH = NUMBER_LENGTH + MAC_LENGTH


_PAIRS = [a + b for a in DIGITS for b in DIGITS]  # every two-digit string, by value
_FIVE = 64**5
_MAC_MASK = 2**30 - 1


def encode_number(number: int, width: int = NUMBER_LENGTH) -> str:
    """`number` in base 64 with ordered digits, at least `width` of them."""
    if width == 5 and 0 <= number < _FIVE:
        return _PAIRS[number >> 18] + _PAIRS[(number >> 6) & 4095] + DIGITS[number & 63]
    digits: list[str] = []
    while number or len(digits) < width:
        number, digit = divmod(number, 64)
        digits.append(DIGITS[digit])
    return "".join(reversed(digits))


class LinkCoder:
    """Link codes: each message's number in the platform (unique, and in order of dispatch),
    then a MAC of the number keyed by the store's secret link key, so that nobody can make a
    link the platform did not send: not from their own, nor from a campaign's id, which
    URLs, exports and logs show. Ten URL-safe characters each (eleven past a billion
    messages)."""

    __slots__ = ("keyed",)

    def __init__(self, secret: bytes) -> None:
        self.keyed = hashlib.blake2b(key=secret, digest_size=8)

    def codes(self, number: int) -> tuple[str, str]:
        """(short link code, opt-out link code) of message `number`."""
        hasher = self.keyed.copy()
        hasher.update(number.to_bytes(8, "big"))
        mac = int.from_bytes(hasher.digest(), "big")
        prefix = encode_number(number)
        return (
            prefix + encode_number(mac & _MAC_MASK),
            prefix + encode_number((mac >> 30) & _MAC_MASK),
        )


def link_codes(secret: bytes | str, number: int) -> tuple[str, str]:
    """The codes of message `number` under the key `secret` (see LinkCoder); a text stands
    for its UTF-8 bytes (samples and benchmarks)."""
    key = secret.encode()[:64] if isinstance(secret, str) else secret
    return LinkCoder(key).codes(number)


class Placeholders(dict[str, str]):
    """A contact's columns; a column the contact lacks renders as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def render(text: str, fields: dict[str, Any], short_url: str, optout_url: str) -> str:
    values = Placeholders(fields)  # formatting a value is str() of it
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


class AlreadyDispatched(Exception):
    """A batch overlaps recipients the campaign's log has recorded already."""


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
            raise AlreadyDispatched(
                f"recipients {first_seq + 1} to {last_seq + 1} of campaign {self.campaign_id}: "
                f"the log has recorded every recipient up to {self.next_seq} already"
            )
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
