"""SMS encoding and parts (F18): GSM-7 160/153, UCS-2 70/67."""

from __future__ import annotations

import pytest

from domain.sms import parts, segments


def test_plain_text_is_sent_in_gsm7_one_septet_per_character() -> None:
    result = segments("Hello, world! 20% off today.")
    assert result.encoding == "GSM-7"
    assert result.units == len("Hello, world! 20% off today.")
    assert result.parts == 1


def test_exactly_160_gsm_characters_fit_in_one_part() -> None:
    assert segments("a" * 160).parts == 1


def test_161_gsm_characters_take_two_parts() -> None:
    assert segments("a" * 161).parts == 2


@pytest.mark.parametrize(
    ("length", "expected"),
    [(306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_long_gsm_texts_are_counted_in_parts_of_153(length: int, expected: int) -> None:
    assert parts("a" * length) == expected


@pytest.mark.parametrize("char", ["€", "[", "]", "{", "}", "^", "~", "|", "\\", "\f"])
def test_an_extension_character_takes_two_septets_and_stays_in_gsm7(char: str) -> None:
    result = segments("a" + char)
    assert result.encoding == "GSM-7"
    assert result.units == 3


def test_extension_characters_push_a_text_of_159_characters_into_two_parts() -> None:
    text = "a" * 158 + "€"  # 159 characters but 160 septets
    assert segments(text).parts == 1
    assert segments(text + "a").parts == 2
    assert segments("a" * 159 + "[").units == 161


@pytest.mark.parametrize(
    "char", ["£", "¥", "è", "é", "Ä", "ñ", "ü", "§", "¿", "¡", "Δ", "Ω", "ß", "@"]
)
def test_accented_and_greek_letters_of_the_gsm_alphabet_count_once(char: str) -> None:
    result = segments(char * 160)
    assert result.encoding == "GSM-7"
    assert (result.units, result.parts) == (160, 1)


def test_newlines_are_gsm_characters() -> None:
    assert segments("line one\nline two\r\n").encoding == "GSM-7"


def test_a_single_non_gsm_character_sends_the_whole_text_as_ucs2() -> None:
    text = "a" * 100 + "ç"  # lower-case c with cedilla is not in the GSM alphabet
    result = segments(text)
    assert result.encoding == "UCS-2"
    assert result.units == 101
    assert result.parts == 2


def test_a_backtick_is_not_gsm_and_switches_to_ucs2() -> None:
    assert segments("code `x`").encoding == "UCS-2"


def test_exactly_70_ucs2_characters_fit_in_one_part() -> None:
    result = segments("Ж" * 70)
    assert (result.encoding, result.units, result.parts) == ("UCS-2", 70, 1)


def test_71_ucs2_characters_take_two_parts() -> None:
    assert segments("Ж" * 71).parts == 2


@pytest.mark.parametrize(("length", "expected"), [(134, 2), (135, 3), (201, 3), (202, 4)])
def test_long_ucs2_texts_are_counted_in_parts_of_67(length: int, expected: int) -> None:
    assert parts("你" * length) == expected


def test_an_emoji_takes_two_ucs2_units() -> None:
    result = segments("Hi 😀")
    assert result.encoding == "UCS-2"
    assert result.units == 5


def test_emoji_beyond_the_basic_plane_can_tip_a_text_into_two_parts() -> None:
    assert segments("a" * 68 + "😀").parts == 1  # 70 units
    assert segments("a" * 69 + "😀").parts == 2  # 71 units


def test_extension_characters_count_once_in_ucs2() -> None:
    # Once the text is UCS-2, "€" is one 16-bit unit like any other character.
    result = segments("€Ж")
    assert (result.encoding, result.units) == ("UCS-2", 2)


def test_an_empty_text_is_one_gsm_part() -> None:
    result = segments("")
    assert (result.encoding, result.units, result.parts) == ("GSM-7", 0, 1)
