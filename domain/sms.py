"""SMS encoding and parts (F18): GSM-7 or UCS-2, and how many parts a text takes.

GSM-7 fits 160 characters in one part and 153 in each part of a longer message; characters
of the extension table take two septets. Anything outside GSM-7 sends the whole text as
UCS-2: 70 in one part, 67 per part; characters beyond the Basic Multilingual Plane take two
UCS-2 units.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


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
    parts = 1 if units <= encoding.single else -(-units // encoding.multi)
    return Segments(encoding.name, units, parts)


def parts(text: str) -> int:
    if text.isascii() and _ASCII_OUTSIDE_BASIC.isdisjoint(text):  # as segments, faster
        length = len(text)
        return 1 if length <= 160 else -(-length // 153)
    return segments(text).parts
