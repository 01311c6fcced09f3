"""The wizard's Summary (F4, F18): what a campaign's messages would take and cost.

Each variant's text is rendered the way the engine renders it: the link placeholders become
URLs exactly as long as real ones (`https://<domain>/s/` and a code of CODE_LENGTH
characters), and the contact placeholders take a sample contact's columns. Which variant each
recipient gets follows the ratio exactly as the engine chooses it, by the recipient's position
in the audience (which is ordered by number). So while the ratio and the prices stay as they
are, and when the texts' length does not depend on contact columns, the estimate is what the
campaign will cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.dispatch import CODE_LENGTH, render
from domain.pricing import FOUR_PLACES, PriceTable
from domain.ratio import RatioChooser
from domain.sms import segments


@dataclass(frozen=True)
class PrefixGroup:
    """Audience numbers that share their leading characters (`+447`), in number order."""

    prefix: str
    count: int


@dataclass(frozen=True)
class VariantEstimate:
    id: str
    weight: int
    sample: str  # the text as the sample contact would get it
    encoding: str
    units: int  # septets (GSM-7) or 16-bit units (UCS-2)
    parts: int
    recipients: int
    cost: Decimal


@dataclass(frozen=True)
class PriceGroup:
    prefix: str
    recipients: int
    price_per_part: Decimal


@dataclass(frozen=True)
class Estimate:
    recipients: int
    variants: list[VariantEstimate]
    prices: list[PriceGroup]

    @property
    def parts(self) -> int:
        return sum(v.parts * v.recipients for v in self.variants)

    @property
    def cost(self) -> Decimal:
        return sum((v.cost for v in self.variants), Decimal(0)).quantize(FOUR_PLACES)


def sample_url(domain: str | None, kind: str) -> str:
    """A link as long as the real ones on `domain` (`kind` is `s` or `o`); none without one."""
    return f"https://{domain}/{kind}/{'x' * CODE_LENGTH}" if domain else ""


def counts_before(
    order: Sequence[int], variants: int, positions: Sequence[int]
) -> dict[int, list[int]]:
    """For each position n, how many of the first n recipients get each variant."""
    block = len(order)
    per_block = [0] * variants
    for index in order:
        per_block[index] += 1
    partial: dict[int, list[int]] = {}
    running = [0] * variants
    walked = 0
    for rest in sorted({p % block for p in positions}):  # one walk over the block
        while walked < rest:
            running[order[walked]] += 1
            walked += 1
        partial[rest] = list(running)
    return {
        p: [per_block[v] * (p // block) + partial[p % block][v] for v in range(variants)]
        for p in positions
    }


def priced_prefix(prices: PriceTable, number: str) -> str:
    """The longest prefix of the table that the number starts with (`""`: the default)."""
    digits = number.lstrip("+")
    return max((p for p in prices.prices if digits.startswith(p)), key=len)


def by_price(prices: PriceTable, audience: Sequence[PrefixGroup]) -> list[PriceGroup]:
    """The audience counted per priced prefix, longest prefixes first."""
    counts: dict[str, int] = {}
    for group in audience:
        prefix = priced_prefix(prices, group.prefix)
        counts[prefix] = counts.get(prefix, 0) + group.count
    return [
        PriceGroup(prefix, count, prices.prices[prefix])
        for prefix, count in sorted(counts.items(), key=lambda item: (-len(item[0]), item[0]))
    ]


def estimate(
    variants: Sequence[Mapping[str, Any]],
    audience: Sequence[PrefixGroup],
    prices: PriceTable,
    sample_fields: Mapping[str, Any],
    short_domain: str | None,
    optout_domain: str | None,
) -> Estimate:
    """The estimate for an audience given as groups of numbers in number order."""
    total = sum(group.count for group in audience)
    group_prices = [prices.price_per_part(group.prefix) for group in audience]
    price_groups = by_price(prices, audience)
    if not variants:
        return Estimate(total, [], price_groups)
    short_url, optout_url = sample_url(short_domain, "s"), sample_url(optout_domain, "o")
    texts = [render(v["text"], dict(sample_fields), short_url, optout_url) for v in variants]
    shapes = [segments(text) for text in texts]
    chooser = RatioChooser([int(v["weight"]) for v in variants])
    bounds = [0]
    for group in audience:
        bounds.append(bounds[-1] + group.count)
    before = counts_before(chooser.order, len(variants), bounds)
    recipients = [0] * len(variants)
    costs = [Decimal(0)] * len(variants)
    for index, price in enumerate(group_prices):
        start, end = before[bounds[index]], before[bounds[index + 1]]
        for v in range(len(variants)):
            count = end[v] - start[v]
            recipients[v] += count
            costs[v] += price * shapes[v].parts * count
    return Estimate(
        total,
        [
            VariantEstimate(
                id=str(variant.get("id", "")),
                weight=int(variant["weight"]),
                sample=text,
                encoding=shape.encoding,
                units=shape.units,
                parts=shape.parts,
                recipients=recipients[v],
                cost=costs[v].quantize(FOUR_PLACES),
            )
            for v, (variant, text, shape) in enumerate(zip(variants, texts, shapes, strict=True))
        ],
        price_groups,
    )
