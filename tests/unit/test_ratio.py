"""Variant choice by ratio (F5): exact over each block, interleaved, deterministic."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from domain.ratio import RatioChooser, schedule_for


def choices(weights: list[int], count: int, start: int = 0) -> list[int]:
    chooser = RatioChooser(weights)
    return [chooser.choose(n) for n in range(start, start + count)]


@pytest.mark.parametrize("weights", [[1], [1, 1], [3, 1], [2, 3, 5], [7, 1, 1, 1], [50, 50]])
def test_each_block_of_recipients_follows_the_weights_exactly(weights: list[int]) -> None:
    total = sum(weights)
    for block in range(3):
        counted = Counter(choices(weights, total, start=block * total))
        assert [counted[i] for i in range(len(weights))] == weights


def test_a_three_to_one_ratio_sends_three_of_every_four_to_the_first_variant() -> None:
    assert choices([3, 1], 8) == [0, 0, 1, 0, 0, 0, 1, 0]


def test_equal_weights_alternate() -> None:
    assert choices([1, 1], 6) == [0, 1, 0, 1, 0, 1]
    assert choices([2, 2], 4) == [0, 1, 0, 1]


def test_variants_are_interleaved_not_sent_in_runs() -> None:
    # 50/50 must not send 50 of one and then 50 of the other.
    order = choices([50, 50], 100)
    assert max(run_lengths(order)) == 1
    # 9:1 puts the minority variant inside the block, not at either end.
    order = choices([9, 1], 10)
    assert order.count(1) == 1
    assert 0 < order.index(1) < 9
    assert max(run_lengths(choices([5, 3, 2], 10))) <= 2


def test_a_small_campaign_follows_the_ratio_closely_at_every_prefix() -> None:
    weights = [2, 3, 5]
    total = sum(weights)
    counted = Counter[int]()
    for n, chosen in enumerate(choices(weights, 200), start=1):
        counted[chosen] += 1
        for index, weight in enumerate(weights):
            assert abs(counted[index] - n * weight / total) < 1.0


def test_the_choice_depends_only_on_the_position() -> None:
    first, second = RatioChooser([4, 2, 1]), RatioChooser([4, 2, 1])
    positions = [0, 6, 3, 1_000_003, 5, 42]
    assert [first.choose(n) for n in positions] == [second.choose(n) for n in positions]
    assert first.choose(3) == first.choose(3 + 7) == first.choose(3 + 7 * 1000)


def test_a_single_variant_gets_every_recipient() -> None:
    assert set(choices([5], 20)) == {0}


def test_weights_above_the_block_limit_are_scaled_down_keeping_the_proportions() -> None:
    chooser = RatioChooser([150_000, 50_000])
    block = len(chooser.order)
    assert block <= RatioChooser.MAX_BLOCK + 2
    counted = Counter(chooser.order)
    assert counted[0] / block == pytest.approx(0.75, abs=1e-4)
    assert chooser.order[:8] == [0, 0, 1, 0, 0, 0, 1, 0]


def test_a_tiny_weight_beside_a_huge_one_is_scaled_to_one_not_zero() -> None:
    chooser = RatioChooser([1, 300_000])
    assert 0 in chooser.order
    assert Counter(chooser.order)[0] == 1


@pytest.mark.parametrize("weights", [[], [0], [1, 0], [2, -1]])
def test_weights_must_be_positive(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        RatioChooser(weights)


def test_a_block_is_as_long_as_the_sum_of_the_weights() -> None:
    assert len(schedule_for([3, 4])) == 7


def run_lengths(order: list[int]) -> list[int]:
    runs = [1]
    for previous, current in pairwise(order):
        runs.append(runs[-1] + 1 if current == previous else 1)
    return runs
