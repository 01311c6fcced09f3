"""Field types the request bodies share, with their constraints, and the options every
command takes (`reason`, `expected_version`, `command_id`)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from domain.fields import _SENDER_ALPHANUMERIC, _SENDER_NUMERIC, MAX_URL
from gateway.schemas.moments import DATE_OR_TIME

# Python's `str.strip` and JSON Schema's `\s` disagree on a few characters, so the
# characters the domain trims are listed one by one: the same class in both dialects.
SPACES = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
# No text may hold NUL (`\u0000`): PostgreSQL's text refuses it.
TEXT = "^[^\\x00]*$"
NOT_ONLY_SPACES = f"^[^\\x00]*[^{SPACES}\\x00][^\\x00]*$"


def with_python_spaces(pattern: str) -> str:
    """A Python pattern whose `\\s` (in a negated class) and `\\S` match in JSON Schema what
    they match in Python, NUL left out (no text may hold it)."""
    return pattern.replace("[^\\s", f"[^{SPACES}\\x00").replace("\\S", f"[^{SPACES}\\x00]")


UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$(?!\\n)"
# A host name of two labels or more, the last not all digits, with an optional final dot;
# `(?!\n)` keeps Python's `$` from matching before a final newline, as JSON Schema's does not.
_LABEL = "(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
DOMAIN_NAME = f"^(?=.{{1,253}}$|.{{1,253}}\\.$)(?:{_LABEL}\\.)+(?![0-9]+\\.?$){_LABEL}\\.?$(?!\\n)"
SENDER = f"{_SENDER_ALPHANUMERIC.pattern}(?!\\n)|{_SENDER_NUMERIC.pattern}(?!\\n)"
_HOST = f"[^{SPACES}\\x00/?#]"
URL = f"^https?://{_HOST}+\\.{_HOST}+(?:[/?#][^{SPACES}\\x00]*)?$(?!\\n)"
CLOCK = "^([01][0-9]|2[0-3]):[0-5][0-9]$(?!\\n)"
TIME_EXAMPLE = "2026-12-01T09:00:00Z"


# The order each enum is written in: msgspec sorts the values of a Literal.
ENUM_ORDER: dict[frozenset[str], list[str]] = {}


def one_of(values: tuple[str, ...]) -> Any:
    """The type of a text that is one of `values` (a JSON Schema `enum`, in their order)."""
    ENUM_ORDER[frozenset(values)] = list(values)
    return Literal[values]


Text = Annotated[str, Meta(pattern=TEXT)]
Id = Annotated[
    str,
    Meta(pattern=UUID, extra_json_schema={"examples": ["2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"]}),
]
DomainName = Annotated[
    str,
    Meta(
        pattern=DOMAIN_NAME,
        description="A host name of at least two labels (letters, digits and inner hyphens, 1 "
        "to 63 each; the last not all digits), at most 253 characters. It is stored in lower "
        "case without a trailing dot.",
        examples=["go.example.com"],
    ),
]
Url = Annotated[str, Meta(max_length=MAX_URL, pattern=URL)]
Reason = Annotated[
    Text, Meta(max_length=1000, description="Why; recorded in the history. Default empty.")
]
Version = Annotated[
    int,
    Meta(
        ge=1,
        description="Refuse with 409 `version_conflict` unless the resource is at this version.",
    ),
]
CommandId = Annotated[
    Text,
    Meta(
        min_length=1,
        max_length=200,
        description="Makes the command idempotent: a repeat returns the first answer and "
        "changes nothing.",
    ),
]


# What a refusal by each pattern says, for a person.
PATTERN_PROBLEMS = {
    TEXT: "must not contain NUL characters",
    NOT_ONLY_SPACES: "must not be empty or only spaces, nor contain NUL characters",
    UUID: "is not a valid id",
    DOMAIN_NAME: "is not a valid domain name",
    SENDER: "must be alphanumeric (letters and digits, at least one letter) up to 11 "
    "characters, or digits up to 15",
    URL: f"must be an http:// or https:// address with a host name, at most {MAX_URL} characters",
    CLOCK: "must be a time of day HH:MM",
    DATE_OR_TIME: "must be an ISO 8601 date or time",
}


class Body(Struct, kw_only=True, forbid_unknown_fields=True):
    """A request body: the declared fields only. `schema` adds what JSON Schema says beyond
    the fields' own types (rules between fields)."""

    schema: ClassVar[dict[str, Any]] = {}


class CommandOptions(Body, kw_only=True, forbid_unknown_fields=True):
    """The options every command takes; where one has no effect it is checked all the same."""

    reason: Reason | UnsetType | None = UNSET
    expected_version: Version | UnsetType | None = UNSET
    command_id: CommandId | UnsetType | None = UNSET


OPTIONS = ("reason", "expected_version", "command_id")


def fields_of(body: Body) -> dict[str, Any]:
    """The fields a client sent besides the command's options, as JSON values under their
    JSON names (unset ones left out), for the domain's own parsing."""
    sent: dict[str, Any] = msgspec.to_builtins(body)
    return {key: value for key, value in sent.items() if key not in OPTIONS}


def options(body: CommandOptions) -> tuple[str, int | None, str | None]:
    """The reason (empty when not given), the expected version and the command id."""
    reason = body.reason if isinstance(body.reason, str) else ""
    expected = body.expected_version if isinstance(body.expected_version, int) else None
    command_id = body.command_id if isinstance(body.command_id, str) else None
    return reason, expected, command_id
