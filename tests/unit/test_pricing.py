"""Prices per SMS part by destination prefix (F18): the longest prefix wins."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.fields import Invalid
from domain.pricing import DEFAULT_PRICES, PriceTable, money, parse_prices

TABLE = {"": "0.0500", "44": "0.0400", "447": "0.0380", "4477": "0.0300", "1": "0.0075"}


def test_the_longest_matching_prefix_sets_the_price() -> None:
    prices = PriceTable(TABLE)
    assert prices.price_per_part("+447700900123") == Decimal("0.0300")
    assert prices.price_per_part("+447900900123") == Decimal("0.0380")
    assert prices.price_per_part("+442079460000") == Decimal("0.0400")


def test_a_number_no_prefix_matches_pays_the_default_price() -> None:
    assert PriceTable(TABLE).price_per_part("+8613800138000") == Decimal("0.0500")


def test_a_shorter_prefix_does_not_catch_numbers_of_another_country() -> None:
    # "1" is North America; "+12..." is, "+21..." is not.
    prices = PriceTable(TABLE)
    assert prices.price_per_part("+12125550123") == Decimal("0.0075")
    assert prices.price_per_part("+21612345678") == Decimal("0.0500")


def test_the_price_is_the_same_with_or_without_the_plus() -> None:
    prices = PriceTable(TABLE)
    assert prices.price_per_part("447700900123") == prices.price_per_part("+447700900123")


def test_repeated_lookups_give_the_same_price_for_different_numbers() -> None:
    # The cache is keyed by the leading digits: each number still gets its own prefix's price.
    prices = PriceTable(TABLE)
    for _ in range(2):
        assert prices.price_per_part("+447700900123") == Decimal("0.0300")
        assert prices.price_per_part("+4470") == Decimal("0.0380")
        assert prices.price_per_part("+44") == Decimal("0.0400")


def test_the_cost_is_the_price_per_part_times_the_parts_to_four_places() -> None:
    prices = PriceTable(TABLE)
    assert prices.cost("+447700900123", 3) == Decimal("0.0900")
    assert prices.cost("+12125550123", 1) == Decimal("0.0075")
    assert str(prices.cost("+8613800138000", 2)) == "0.1000"


def test_a_price_table_without_a_default_is_refused() -> None:
    with pytest.raises(Invalid, match="default"):
        PriceTable({"44": "0.04"})


def test_prices_are_exact_decimals_not_floats() -> None:
    prices = PriceTable({"": Decimal("0.1"), "33": "0.2"})
    assert prices.cost("+33612345678", 3) == Decimal("0.6000")


def test_the_sample_table_prices_uk_mobiles_below_uk_landlines() -> None:
    prices = PriceTable(DEFAULT_PRICES)
    assert prices.price_per_part("+447700900123") == Decimal("0.0380")
    assert prices.price_per_part("+442079460000") == Decimal("0.0400")
    assert prices.price_per_part("+4915112345678") == Decimal("0.0750")
    assert prices.price_per_part("+999") == Decimal("0.0500")


def test_money_is_written_with_four_places() -> None:
    assert money(Decimal("1.5")) == "1.5000"
    assert money(Decimal("0")) == "0.0000"


def test_a_price_table_is_parsed_to_four_place_prices_by_prefix() -> None:
    assert parse_prices({"": 0.05, "44": "0.04", "447": "0.038"}) == {
        "": "0.0500",
        "44": "0.0400",
        "447": "0.0380",
    }


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"44": "0.04"}, "default price"),
        ({"": "0.05", "+44": "0.04"}, "up to 7 digits"),
        ({"": "0.05", "12345678": "0.04"}, "up to 7 digits"),
        ({"": "-0.01"}, "at least 0"),
        ({"": "0.00001"}, "at most 4 decimals"),
        ({"": "cheap"}, "decimal amount"),
        ({"": True}, "decimal amount"),
        ({"": "NaN"}, "at least 0"),
        ([], "must be an object"),
    ],
)
def test_a_bad_price_table_is_refused_saying_why(table: object, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_prices(table)
    assert message in str(refused.value)
