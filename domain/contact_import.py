"""Reading an uploaded contacts CSV (F16) line by line, without ever holding the whole file.

The first header is `phone`; the other headers name the placeholders a message may use
(`{first_name}`). Every line after the header becomes either a `Contact` (its number in E.164
and its other columns) or a `Rejection` (its line number, the phone as written, and why).
A bad header refuses the whole file; blank lines are skipped. Duplicates are not found here:
that needs every earlier line, which the contact store keeps, not this reader.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TextIO

from domain.errors import FieldProblem, ValidationFailed
from domain.fields import LINK_PLACEHOLDERS
from domain.phone import BadNumber, normalise

MAX_VALUE = 500  # characters in one field
MAX_LINE = 64 * 1024  # characters in one line of the file
MAX_COLUMNS = 100  # placeholders besides the phone
MAX_COLUMN_NAME = 64
RESERVED_COLUMNS = tuple(LINK_PLACEHOLDERS)  # every message gets these from its campaign

_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ALREADY_E164 = re.compile(r"\+[1-9][0-9]{7,14}")  # what normalise() returns unchanged
# NUL is refused by PostgreSQL text; lone surrogates are the bytes that were not UTF-8
# (the file is decoded with errors="surrogateescape").
_UNSTORABLE = re.compile("[\x00\udc80-\udcff]")


# Named tuples rather than frozen dataclasses: a 100 MB file makes millions of them, and a
# tuple is built several times faster.
class Contact(NamedTuple):
    line: int
    phone: str
    fields: dict[str, str]


class Rejection(NamedTuple):
    line: int
    value: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "value": self.value, "reason": self.reason}


def lines_of(stream: TextIO) -> Iterator[str]:
    """The lines of a text stream, each at most MAX_LINE + 2 characters: an over-long line is
    represented by its start (which the reader then rejects) and the rest of it is skipped, so
    a file that is one huge line is never held in memory."""
    while line := stream.readline(MAX_LINE + 2):
        if len(line) == MAX_LINE + 2 and not line.endswith(("\n", "\r")):
            while (rest := stream.readline(MAX_LINE)) and not rest.endswith(("\n", "\r")):
                pass
        yield line


def is_blank(row: list[str]) -> bool:
    return not row or (not row[0].strip() and not "".join(row).strip())


def column_problem(name: str, seen: set[str]) -> str | None:
    """Why a header (lower-cased, trimmed) cannot name a placeholder, or None."""
    if not name:
        return "has no name"
    if len(name) > MAX_COLUMN_NAME or not _COLUMN_NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:80] + "..."
        return (
            f"{shown!r} is not a placeholder name: use letters a-z, digits and _, not starting "
            f"with a digit, at most {MAX_COLUMN_NAME} characters (like first_name)"
        )
    if name in RESERVED_COLUMNS:
        return f"{name} is reserved: every message gets {{{name}}} from its campaign's link"
    if name in seen:
        return f"{name} is already an earlier column"
    return None


def parse_header(row: list[str]) -> list[str]:
    """The placeholder names of a header row (every column after `phone`), lower-cased."""
    names = [cell.strip().lower() for cell in row]
    problems = []
    if names[0] != "phone":
        first = row[0].strip()[:80]
        problems.append(FieldProblem("header", f"the first column must be phone, not {first!r}"))
    if len(names) > MAX_COLUMNS + 1:
        problems.append(FieldProblem("header", f"at most {MAX_COLUMNS} columns besides phone"))
    seen = {"phone"}
    for position, name in enumerate(names[1 : MAX_COLUMNS + 1], start=2):
        problem = column_problem(name, seen)
        if problem:
            problems.append(FieldProblem(f"header column {position}", problem))
        seen.add(name)
    if problems:
        raise ValidationFailed.of(problems)
    return names[1:]


def empty_file() -> ValidationFailed:
    return ValidationFailed.of(
        [FieldProblem("file", "is empty: the first line must be a header starting with phone")]
    )


class ContactFile:
    """The contacts of a CSV, read once: `columns` from its header, then each line in turn.

    Creating one reads the header (and refuses a bad one with `ValidationFailed`); iterating
    yields a `Contact` or a `Rejection` for every line that is not blank. Line numbers count
    the file's lines from 1 (the header's); a quoted field spanning lines is reported at the
    line where its row starts.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self.bad_lines: dict[int, str] = {}
        self.reader = csv.reader(self.checked(lines))
        self.columns = self.read_header()
        self.width = len(self.columns) + 1

    @classmethod
    def of_stream(cls, stream: TextIO) -> ContactFile:
        return cls(lines_of(stream))

    def checked(self, lines: Iterable[str]) -> Iterator[str]:
        """The lines for the CSV reader, noting those no contact can come from."""
        for number, line in enumerate(lines, start=1):
            if number == 1:
                line = line.removeprefix("\ufeff")
            if len(line) > MAX_LINE and len(line.rstrip("\r\n")) > MAX_LINE:
                self.bad_lines[number] = f"the line is longer than {MAX_LINE} characters"
                yield "\n"
                continue
            unstorable = _UNSTORABLE.search(line)
            if unstorable:
                self.bad_lines[number] = (
                    "contains a NUL character"
                    if unstorable.group() == "\x00"
                    else "is not UTF-8 text"
                )
            yield line

    def read_header(self) -> list[str]:
        for row in self.rows():
            _line, fields = row
            if isinstance(fields, str):
                raise ValidationFailed.of([FieldProblem("header", fields)])
            if is_blank(fields):
                continue
            return parse_header(fields)
        raise empty_file()

    def rows(self) -> Iterator[tuple[int, list[str] | str]]:
        """(line, fields) of each CSV row, or (line, why) when the row cannot be read."""
        while True:
            start = self.reader.line_num + 1
            try:
                fields = next(self.reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, f"is not valid CSV: {error}"
                continue
            problem = self.problem_between(start, self.reader.line_num) if self.bad_lines else None
            yield start, problem or fields

    def problem_between(self, first: int, last: int) -> str | None:
        """The problem noted on any line of a row (forgetting them: each is reported once)."""
        found = [self.bad_lines.pop(n) for n in range(first, last + 1) if n in self.bad_lines]
        return found[0] if found else None

    def __iter__(self) -> Iterator[Contact | Rejection]:
        for line, fields in self.rows():
            if isinstance(fields, str):
                yield Rejection(line, "", fields)
            elif not is_blank(fields):
                yield self.contact_of(line, fields)

    def contact_of(self, line: int, row: list[str]) -> Contact | Rejection:
        raw = row[0]
        if len(row) != self.width:
            return Rejection(
                line, raw[:MAX_VALUE], f"has {len(row)} columns; the header has {self.width}"
            )
        if max(map(len, row)) > MAX_VALUE:
            return Rejection(line, raw[:MAX_VALUE], self.too_long(row))
        phone = raw if _ALREADY_E164.fullmatch(raw) else None  # most lines: skip the work
        if phone is None:
            try:
                phone = normalise(raw)
            except BadNumber as error:
                reason = "no phone number" if str(error) == "empty" else f"phone: {error}"
                return Rejection(line, raw, reason)
        return Contact(line, phone, dict(zip(self.columns, map(str.strip, row[1:]), strict=True)))

    def too_long(self, row: list[str]) -> str:
        names = ["phone", *self.columns]
        column = next(
            name for name, value in zip(names, row, strict=True) if len(value) > MAX_VALUE
        )
        return f"{column} is longer than {MAX_VALUE} characters"
