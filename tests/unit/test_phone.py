"""Phone numbers normalised to E.164 (F6, F16)."""

from __future__ import annotations

import pytest

from domain.phone import BadNumber, normalise


def test_a_number_in_e164_is_kept_as_it_is() -> None:
    assert normalise("+447700900123") == "+447700900123"


@pytest.mark.parametrize(
    "raw",
    [
        "+44 7700 900123",
        "+44-7700-900-123",
        "+44 (7700) 900123",
        "+44.7700.900.123",
        "  +447700900123  ",
        "+44\t7700\u00a0900123",
    ],
)
def test_spaces_dashes_dots_and_parentheses_are_ignored(raw: str) -> None:
    assert normalise(raw) == "+447700900123"


def test_a_us_number_written_the_american_way_is_normalised() -> None:
    assert normalise("+1 (212) 555-0123") == "+12125550123"


def test_the_00_international_prefix_becomes_a_plus() -> None:
    assert normalise("0044 7700 900123") == "+447700900123"


def test_digits_with_their_country_code_but_no_plus_are_accepted() -> None:
    assert normalise("447700900123") == "+447700900123"


@pytest.mark.parametrize("raw", ["07700 900123", "0 30 1234567"])
def test_a_national_number_without_country_code_is_refused_not_guessed(raw: str) -> None:
    with pytest.raises(BadNumber, match="country code"):
        normalise(raw)


def test_the_trunk_zero_in_parentheses_after_the_country_code_is_dropped() -> None:
    # "+44 (0)20 ..." is how UK and German numbers are often written: the (0) is dialled
    # only inside the country, never after the country code.
    assert normalise("+44 (0)20 7946 0000") == "+442079460000"
    assert normalise("+49 (0) 30 1234567") == "+49301234567"
    assert normalise("0049 (0)30 1234567") == "+49301234567"


def test_a_national_number_with_a_trunk_zero_in_parentheses_is_still_refused() -> None:
    with pytest.raises(BadNumber, match="country code"):
        normalise("(0)20 7946 0000")


def test_the_shortest_and_longest_numbers_e164_allows_are_accepted() -> None:
    assert normalise("+12345678") == "+12345678"  # 8 digits
    assert normalise("+123456789012345") == "+123456789012345"  # 15 digits


@pytest.mark.parametrize("raw", ["+1234567", "+1234", "+1234567890123456"])
def test_too_short_or_too_long_numbers_are_refused(raw: str) -> None:
    with pytest.raises(BadNumber, match="8 to 15 digits"):
        normalise(raw)


@pytest.mark.parametrize("raw", ["+44 77OO 900123", "call me", "+44770090012x", "+44#7700900123"])
def test_letters_and_symbols_are_refused(raw: str) -> None:
    with pytest.raises(BadNumber, match="not a phone number"):
        normalise(raw)


@pytest.mark.parametrize("raw", ["", "   ", " - ( ) "])
def test_an_empty_number_is_refused(raw: str) -> None:
    with pytest.raises(BadNumber, match="empty"):
        normalise(raw)


@pytest.mark.parametrize("raw", ["+", "00", "++447700900123"])
def test_a_plus_or_00_without_digits_is_refused(raw: str) -> None:
    with pytest.raises(BadNumber):
        normalise(raw)


def test_non_ascii_digits_are_refused() -> None:
    with pytest.raises(BadNumber, match="not a phone number"):
        normalise("+٤٤٧٧٠٠٩٠٠١٢٣")  # Arabic-Indic digits


def test_a_bad_number_is_a_value_error() -> None:
    assert issubclass(BadNumber, ValueError)
