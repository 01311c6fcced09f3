"""Phone numbers in E.164: `+` and 8 to 15 digits, the first not 0."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
_E164_DIGITS = re.compile(r"[1-9][0-9]{7,14}")
MAX_WRITTEN = 100  # characters: 15 digits with all the spaces and brackets one may write


class BadNumber(ValueError):
    """Not a phone number we can send to; the message says why."""


def normalise(raw: str) -> str:
    """The E.164 form of a number written with a `+` or `00` and its country code.

    Spaces, dashes, dots and parentheses are ignored; a number without its country code
    cannot be placed, so it is refused rather than guessed.
    """
    text = raw.strip()
    if len(text) > MAX_WRITTEN:  # before any pattern sees it
        raise BadNumber("not a phone number")
    if text.startswith(("+", "00")):
        # "+44 (0)20 ...": the trunk zero is dialled only inside the country, never after
        # the country code, so keeping it would make another (wrong) number.
        text = _TRUNK_ZERO.sub("", text, count=1)
    text = _SEPARATORS.sub("", text)
    if not text:
        raise BadNumber("empty")
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    else:
        digits = text
    if not digits.isascii() or not digits.isdigit():
        raise BadNumber("not a phone number")
    if not _E164_DIGITS.fullmatch(digits):
        if digits.startswith("0"):
            raise BadNumber("no country code (write it as +<country code><number>)")
        raise BadNumber("must have 8 to 15 digits with its country code")
    return "+" + digits


def masked(phone: str) -> str:
    """`+447700900123` as `+44••••••0123`: enough for its owner to recognise it, not
    enough for anyone else to call it."""
    digits = phone.removeprefix("+")
    if len(digits) <= 6:
        return "+" + "•" * len(digits)
    return f"+{digits[:2]}{'•' * (len(digits) - 6)}{digits[-4:]}"
