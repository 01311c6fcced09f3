"""Prices (F18): a price per SMS part by destination prefix, the longest prefix winning."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.fields import Invalid

FOUR_PLACES = Decimal("0.0001")

# A sample table in EUR per part; the platform's own table is a setting.
DEFAULT_PRICES: dict[str, str] = {
    "": "0.0500",
    "1": "0.0075",
    "33": "0.0650",
    "34": "0.0600",
    "39": "0.0620",
    "44": "0.0400",
    "447": "0.0380",
    "49": "0.0750",
    "61": "0.0450",
    "91": "0.0020",
}


class PriceTable:
    """Looks up the price of one part to a number in E.164 (`+447700900123`)."""

    def __init__(self, prices: Mapping[str, str | Decimal]) -> None:
        self.source = dict(prices)
        self.prices = {prefix: Decimal(price) for prefix, price in prices.items()}
        if "" not in self.prices:
            raise Invalid("a price table needs a default price (the empty prefix)")
        self.longest = max(len(prefix) for prefix in self.prices)
        self.cache: dict[str, Decimal] = {}

    def price_per_part(self, number: str) -> Decimal:
        digits = number.lstrip("+")
        key = digits[: self.longest]
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        for length in range(len(key), -1, -1):
            price = self.prices.get(key[:length])
            if price is not None:
                self.cache[key] = price
                return price
        raise AssertionError("unreachable: the empty prefix always matches")

    def cost(self, number: str, parts: int) -> Decimal:
        return (self.price_per_part(number) * parts).quantize(FOUR_PLACES)


def money(amount: Decimal) -> str:
    """Money as the contract writes it: a decimal string with four places."""
    return str(amount.quantize(FOUR_PLACES))


MAX_PREFIXES = 2000


def parse_prices(value: Any) -> dict[str, str]:
    """A price table as clients send it: `{"": "0.0500", "44": "0.0400", ...}`, prices per
    part as decimal strings or numbers; the empty prefix is the default and is required."""
    if not isinstance(value, dict):
        raise Invalid("must be an object of destination prefix to price per part")
    if "" not in value:
        raise Invalid('needs a default price under the empty prefix ""')
    if len(value) > MAX_PREFIXES:
        raise Invalid(f"at most {MAX_PREFIXES} prefixes")
    table = {}
    for prefix, price in value.items():
        if not (prefix == "" or (prefix.isascii() and prefix.isdigit() and len(prefix) <= 7)):
            raise Invalid(f"prefix {prefix!r} must be up to 7 digits (country and network code)")
        if isinstance(price, bool) or not isinstance(price, str | int | float):
            raise Invalid(f"the price for {prefix!r} must be a decimal amount")
        try:
            amount = Decimal(str(price))
        except InvalidOperation:
            raise Invalid(f"the price for {prefix!r} must be a decimal amount") from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(FOUR_PLACES):
            raise Invalid(f"the price for {prefix!r} must be at least 0, with at most 4 decimals")
        table[prefix] = money(amount)
    return dict(sorted(table.items()))
