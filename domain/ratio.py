"""Variant choice by ratio (F5): deterministic from the recipient's position.

The choice spreads each block of `sum(weights)` consecutive recipients exactly by the
weights, interleaved (smooth weighted round robin), so small campaigns follow the ratio
closely and a new ratio applies from the next recipient on.
"""

from __future__ import annotations

from collections.abc import Sequence


def schedule_for(weights: Sequence[int]) -> list[int]:
    """The order of variant indexes over one block of `sum(weights)` recipients."""
    total = sum(weights)
    current = [0] * len(weights)
    order = []
    for _ in range(total):
        for index, weight in enumerate(weights):
            current[index] += weight
        chosen = max(range(len(weights)), key=lambda i: current[i])
        current[chosen] -= total
        order.append(chosen)
    return order


class RatioChooser:
    """Chooses the variant index for the n-th recipient under fixed weights."""

    MAX_BLOCK = 100_000  # beyond this, weights are scaled down to keep the block small

    def __init__(self, weights: Sequence[int]) -> None:
        if not weights or any(w < 1 for w in weights):
            raise ValueError("weights must be positive")
        total = sum(weights)
        if total > self.MAX_BLOCK:
            scale = total / self.MAX_BLOCK
            weights = [max(1, round(w / scale)) for w in weights]
        self.order = schedule_for(weights)

    def choose(self, n: int) -> int:
        return self.order[n % len(self.order)]
