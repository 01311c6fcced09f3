"""SMS encoding and parts (F18): GSM-7 or UCS-2, and how many parts a text takes.

GSM-7 fits 160 characters in one part and 153 in each part of a longer message; characters
of the extension table take two septets. Anything outside GSM-7 sends the whole text as
UCS-2: 70 in one part, 67 per part; characters beyond the Basic Multilingual Plane take two
UCS-2 units. A long text is cut between characters, never inside one (`split`): the parts
counted and priced are the parts a carrier is handed.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38: the default alphabet by septet (0x1B escapes to the extension table), and the
# extension table's characters by septet.
GSM7_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
GSM7_BASIC = frozenset(GSM7_ALPHABET) - {"\x1b"}
GSM7_EXTENSION = frozenset(GSM7_EXTENDED)


@dataclass(frozen=True)
class Encoding:
    name: str
    single: int
    multi: int


GSM7 = Encoding("GSM-7", 160, 153)
UCS2 = Encoding("UCS-2", 70, 67)


@dataclass(frozen=True)
class Segments:
    encoding: str
    units: int  # septets for GSM-7, 16-bit units for UCS-2
    parts: int


_ASCII_OUTSIDE_BASIC = frozenset(chr(c) for c in range(128)) - GSM7_BASIC


def gsm7_units(text: str) -> int | None:
    """Septets the text takes in GSM-7, or None when it cannot be sent in GSM-7."""
    if text.isascii() and _ASCII_OUTSIDE_BASIC.isdisjoint(text):
        return len(text)  # the common case, without a loop in Python
    units = 0
    for char in text:
        if char in GSM7_BASIC:
            units += 1
        elif char in GSM7_EXTENSION:
            units += 2
        else:
            return None
    return units


def segments(text: str) -> Segments:
    units = gsm7_units(text)
    encoding = GSM7
    if units is None:
        encoding = UCS2
        units = sum(2 if ord(char) > 0xFFFF else 1 for char in text)
    if units <= encoding.single:
        parts = 1
    elif units == len(text):  # one unit per character: cuts fall anywhere
        parts = -(-units // encoding.multi)
    else:
        parts = len(split(text).parts)
    return Segments(encoding.name, units, parts)


@dataclass(frozen=True)
class Split:
    """A text as the parts a carrier is handed, in one encoding."""

    encoding: str  # GSM-7 or UCS-2
    parts: tuple[str, ...]


def split(text: str) -> Split:
    """The text in parts of at most 153 septets (GSM-7) or 67 UCS-2 units, cut between
    characters: a two-unit character that would straddle a cut starts the next part."""
    if gsm7_units(text) is None:
        encoding, width = UCS2, _ucs2_width
    else:
        encoding, width = GSM7, _gsm7_width
    if sum(map(width, text)) <= encoding.single:
        return Split(encoding.name, (text,))
    parts: list[str] = []
    start = used = 0
    for index, char in enumerate(text):
        units = width(char)
        if used + units > encoding.multi:
            parts.append(text[start:index])
            start, used = index, 0
        used += units
    parts.append(text[start:])
    return Split(encoding.name, tuple(parts))


def _gsm7_width(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def parts(text: str) -> int:
    if text.isascii() and _ASCII_OUTSIDE_BASIC.isdisjoint(text):  # as segments, faster
        length = len(text)
        return 1 if length <= 160 else -(-length // 153)
    return segments(text).parts
