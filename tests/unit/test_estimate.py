"""The Summary's estimate (F4, F18) and which link visits are clicks (F8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.clicks import is_preview_agent
from domain.estimate import PrefixGroup, counts_before, estimate, priced_prefix, sample_url
from domain.pricing import DEFAULT_PRICES, PriceTable
from domain.ratio import RatioChooser

PRICES = PriceTable(DEFAULT_PRICES)


@pytest.mark.parametrize("weights", [[1], [3, 1], [2, 5, 1], [7, 7]])
def test_variant_counts_follow_the_chooser_for_any_range(weights: list[int]) -> None:
    chooser = RatioChooser(weights)
    positions = [0, 1, 5, 11, 12, 40, 41]
    before = counts_before(chooser.order, len(weights), positions)
    for position in positions:
        expected = [0] * len(weights)
        for n in range(position):
            expected[chooser.choose(n)] += 1
        assert before[position] == expected


def test_a_number_is_priced_by_the_longest_prefix_it_starts_with() -> None:
    assert priced_prefix(PRICES, "+4477009") == "447"
    assert priced_prefix(PRICES, "+4420790") == "44"
    assert priced_prefix(PRICES, "+8613800") == ""


def test_sample_links_are_as_long_as_real_ones() -> None:
    assert sample_url("go.example.com", "s") == "https://go.example.com/s/xxxxxxxxxx"
    assert sample_url(None, "o") == ""


def test_the_estimate_gives_each_variant_its_recipients_parts_and_cost() -> None:
    variants = [
        {"id": "a", "text": "Hi {first_name} " + "x" * 150 + " {short_url}", "weight": 3},
        {"id": "b", "text": "Zniżki {short_url}", "weight": 1},
    ]
    audience = [PrefixGroup("+120", 3), PrefixGroup("+447", 4)]

    result = estimate(variants, audience, PRICES, {"first_name": "Ann"}, "go.example.com", None)

    first, second = result.variants
    assert result.recipients == 7
    assert (first.encoding, first.parts, first.recipients) == ("GSM-7", 2, 5)
    assert (second.encoding, second.parts, second.recipients) == ("UCS-2", 1, 2)
    assert first.sample.startswith("Hi Ann xxx")
    # Positions 0-2 (+1, 0.0075) get a, a, b; positions 3-6 (+447, 0.0380) get a, a, a, b.
    assert first.cost == Decimal("0.0075") * 2 * 2 + Decimal("0.0380") * 2 * 3
    assert second.cost == Decimal("0.0075") + Decimal("0.0380")
    assert result.cost == first.cost + second.cost
    assert result.parts == 5 * 2 + 2


def test_an_estimate_without_variants_costs_nothing() -> None:
    result = estimate([], [PrefixGroup("+447", 5)], PRICES, {}, None, None)
    assert (result.recipients, result.parts, result.cost) == (5, 0, Decimal("0.0000"))


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "WhatsApp/2.23.20.0 A",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mimecast Security Scanner",
    ],
)
def test_link_previews_and_scanners_are_not_clicks(agent: str) -> None:
    assert is_preview_agent(agent)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile",
        "",
    ],
)
def test_phones_browsers_are_clicks(agent: str) -> None:
    assert not is_preview_agent(agent)
