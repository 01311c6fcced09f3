"""Review finding 1: a quadratic regular expression froze the gateway (`parse_url` matched a
1 MiB link target before checking its length). Every parser that tries a pattern on what a
client or a carrier sent checks the length first, so a pattern only ever sees a short text.

The patterns are replaced by recorders that match nothing: a parser that consulted one
before refusing is caught without having to time it (and without waiting for it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import domain.fields
import domain.phone
import domain.stream
import gateway.links
import projections.carrier_log
from domain.errors import ValidationFailed
from domain.fields import (
    CAMPAIGN_FIELDS,
    Invalid,
    parse_clock,
    parse_domain_name,
    parse_fields,
    parse_sender,
    parse_url,
)
from domain.phone import BadNumber, normalise
from domain.stream import parse_endpoint, parse_host, parse_stream_name
from projections.carrier_log import id_forms

MIB = 1024 * 1024
# The finding's input: many dots in the host, then a space that fails the match at the end.
SLOW_URL = "https://" + "a." * (MIB // 2) + " "


class Recorder:
    """Stands in for a compiled pattern or the `re` module: notes each use, matches nothing."""

    def __init__(self, name: str, used: list[str]) -> None:
        self.name = name
        self.used = used

    def __getattr__(self, method: str) -> Callable[..., None]:
        def use(*_args: Any, **_kwargs: Any) -> None:
            self.used.append(f"{self.name}.{method}")

        return use


MODULES = (domain.fields, domain.phone, domain.stream, gateway.links, projections.carrier_log)


@pytest.fixture
def patterns_used(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every pattern of the parsing modules (and their `re`) replaced by a recorder."""
    used: list[str] = []
    for module in MODULES:
        patch_patterns(monkeypatch, module, used)
    yield used


def patch_patterns(monkeypatch: pytest.MonkeyPatch, module: ModuleType, used: list[str]) -> None:
    for name, value in vars(module).items():
        if isinstance(value, re.Pattern) or value is re:
            monkeypatch.setattr(module, name, Recorder(f"{module.__name__}.{name}", used))


def refusing(parse: Callable[[str], Any], error: type[Exception]) -> Callable[[str], None]:
    def check(text: str) -> None:
        with pytest.raises(error):
            parse(text)

    return check


PARSERS = {
    "link target": (refusing(parse_url, Invalid), SLOW_URL),
    "sender": (refusing(parse_sender, Invalid), "A" * MIB),
    "time of day": (refusing(lambda text: parse_clock(text, "from"), Invalid), "1" * MIB),
    "domain name": (refusing(parse_domain_name, Invalid), "a" * MIB),
    "stream name": (refusing(parse_stream_name, Invalid), "a" * MIB),
    "host": (refusing(parse_host, Invalid), "a" * MIB),
    "endpoint": (refusing(parse_endpoint, Invalid), "https://" + "a" * MIB),
    "phone number": (refusing(normalise, BadNumber), "+" + "1" * MIB),
    "short link code": (lambda text: names_no_message(text), "a" * MIB),
    "carrier message id": (lambda text: only_as_given(text), "f" * MIB),
}


def names_no_message(code: str) -> None:
    assert not gateway.links.is_code(code)


def only_as_given(carrier_id: str) -> None:
    assert id_forms(carrier_id) == [carrier_id]


@pytest.mark.parametrize("kind", PARSERS)
def test_a_one_mib_input_is_refused_before_any_pattern_sees_it(
    kind: str, patterns_used: list[str]
) -> None:
    check, text = PARSERS[kind]
    check(text)
    assert patterns_used == []


def test_a_one_mib_link_target_is_refused_with_the_usual_validation_error(
    patterns_used: list[str],
) -> None:
    target = SLOW_URL[: MIB - 100]  # what a PATCH of 1 MiB (manager role) can carry
    with pytest.raises(ValidationFailed) as refused:
        parse_fields({"links": {"short": {"target": target}}}, CAMPAIGN_FIELDS)
    [problem] = refused.value.details
    assert problem["field"] == "links"
    assert "http:// or https://" in problem["message"]
    assert patterns_used == []


@pytest.mark.parametrize(
    "target",
    [
        "https://shop.example.com/spring",
        "http://a.b",
        "https://shop.example.com?utm=sms#top",
        "https://xn--bcher-kva.example/",
    ],
)
def test_a_link_target_with_a_dotted_host_is_accepted(target: str) -> None:
    assert parse_url(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "https://localhost/spring",
        "https://.example/",
        "https://example./",
        "ftp://shop.example.com/",
        "https://shop.example.com/a b",
        "https://shop.example.com/\n",
        "https://" + "a" * 1990 + ".com",  # 2,002 characters: one of the two too many
    ],
)
def test_a_link_target_without_a_dotted_host_or_too_long_is_refused(target: str) -> None:
    with pytest.raises(Invalid, match="http:// or https://"):
        parse_url(target)


def test_a_stream_name_with_a_trailing_line_break_is_refused() -> None:
    with pytest.raises(Invalid):
        parse_stream_name("demo\n")
