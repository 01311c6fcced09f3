"""Validation of the fields a campaign is created and edited with.

Each `parse_*` function takes the JSON value a client sent and returns the normalised value
that events store (plain JSON types only), or raises `Invalid` with a message for a person.
"""

from __future__ import annotations

import math
import re
import string
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import FieldProblem, ValidationFailed

CAMPAIGN_TYPES = ("outbound", "two_way", "transactional")
WEEK_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PAUSE_METRICS = ("ctr", "failure_rate", "optout_rate", "cost")
LINK_PLACEHOLDERS = {"short_url": "short", "optout_url": "optout"}  # placeholder -> link
LINK_LABELS = {"short": "Short URL", "optout": "Opt-out URL"}  # what people call each link

MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_TAGS = 20
MAX_TAG = 50
MAX_VARIANTS = 10
MAX_TEXT = 1600
MAX_WEIGHT = 1_000_000
MAX_LIST_IDS = 50
MAX_DOMAINS = 100
MAX_RULES = 20
MAX_URL = 2000
MAX_SENDER = 16  # `+` and 15 digits

# Every pattern below is tried only on a text whose length was checked first: no pattern
# ever sees more than the longest value it can accept.
_SENDER_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
_SENDER_NUMERIC = re.compile(r"^\+?[0-9]{1,15}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# The host is one run of characters that cannot start the path, so the match cannot
# backtrack through it; that it has a dot inside is checked apart (a pattern for "a dot
# between two runs of the same characters" is quadratic).
_URL = re.compile(r"https?://([^\s/?#]+)([/?#]\S*)?")


class Invalid(Exception):
    """One field's value is not acceptable; the message says why."""


def is_non_bool_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_whole_number(text: str, low: int, high: int) -> int:
    """A whole number from `low` to `high` (both at least 0) written in ASCII digits: every
    number that arrives as text (a query parameter, a header, a socket's parameter) is read
    here. `str.isdigit` alone is not enough (`²` is a digit to it, not to `int`), and the
    length is bounded before `int` sees the text (`int` is slow on, then refuses, thousands
    of digits)."""
    if not 0 < len(text) <= len(str(high)) or not text.isascii() or not text.isdigit():
        raise Invalid(f"must be a whole number from {low} to {high}")
    number = int(text)
    if not low <= number <= high:
        raise Invalid(f"must be a whole number from {low} to {high}")
    return number


def expect_str(value: Any, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be {what}")
    return value


def expect_list(value: Any, what: str = "a list") -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"must be {what}")
    return value


def expect_object(value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid("must be an object")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r}; allowed: {', '.join(keys)}")
    return value


def parse_name(value: Any) -> str:
    name = expect_str(value)
    if not name.strip():
        raise Invalid("must not be empty")
    if len(name) > MAX_NAME:
        raise Invalid(f"must be at most {MAX_NAME} characters (got {len(name)})")
    return name


def parse_description(value: Any) -> str:
    if value is None:
        return ""
    text = expect_str(value)
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"must be at most {MAX_DESCRIPTION} characters")
    return text


def parse_tags(value: Any) -> list[str]:
    if value is None:
        return []
    tags: list[str] = []
    for item in expect_list(value, "a list of strings"):
        tag = expect_str(item, "a list of strings").strip()
        if not tag or len(tag) > MAX_TAG:
            raise Invalid(f"each tag must be 1 to {MAX_TAG} characters")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags")
    return tags


def parse_type(value: Any) -> str:
    kind = expect_str(value)
    if kind not in CAMPAIGN_TYPES:
        raise Invalid(f"must be one of {', '.join(CAMPAIGN_TYPES)}")
    return kind


def parse_sender(value: Any) -> str | None:
    if value is None:
        return None
    sender = expect_str(value)
    if len(sender) <= MAX_SENDER and (
        _SENDER_ALPHANUMERIC.fullmatch(sender) or _SENDER_NUMERIC.fullmatch(sender)
    ):
        return sender
    raise Invalid(
        "must be alphanumeric (letters and digits, at least one letter) up to 11 characters, "
        "or digits up to 15"
    )


def parse_uuid(value: Any) -> str:
    text = expect_str(value, "an id (UUID string)")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise Invalid(f"{text!r} is not a valid id") from None


def parse_contact_lists(value: Any) -> list[str]:
    if value is None:
        return []
    ids: list[str] = []
    for item in expect_list(value, "a list of list ids"):
        list_id = parse_uuid(item)
        if list_id not in ids:
            ids.append(list_id)
    if len(ids) > MAX_LIST_IDS:
        raise Invalid(f"at most {MAX_LIST_IDS} contact lists")
    return ids


def placeholders_in(text: str) -> list[str]:
    """The placeholder names a message text uses, in order; raises on malformed braces."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise Invalid(f"malformed placeholder: {error}") from None
    names = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise Invalid(f"placeholder {{{field}}} must be a plain name like {{first_name}}")
        names.append(field)
    return names


def parse_variant_text(text: Any, where: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Invalid(f"{where}: text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise Invalid(f"{where}: text must be at most {MAX_TEXT} characters")
    try:
        placeholders_in(text)
    except Invalid as error:
        raise Invalid(f"{where}: {error}") from None
    return text


def parse_variants(value: Any) -> list[dict[str, Any]]:
    items = expect_list(value, "a list of variants")  # empty while a draft is incomplete
    if len(items) > MAX_VARIANTS:
        raise Invalid(f"at most {MAX_VARIANTS} variants")
    variants: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        variant = expect_object(item, ("id", "text", "weight"))
        where = f"variant {index + 1}"
        variant_id = variant.get("id")
        variant_id = parse_uuid(variant_id) if variant_id is not None else None
        if variant_id is not None and variant_id in (v["id"] for v in variants):
            raise Invalid(f"{where}: id {variant_id} is given to an earlier variant too")
        text = variant.get("text")
        # A variant named by its id may leave out its text: a change of ratio only.
        if text is not None or variant_id is None:
            text = parse_variant_text(text, where)
        weight = variant.get("weight", 1)
        if not is_non_bool_int(weight) or not 1 <= weight <= MAX_WEIGHT:
            raise Invalid(f"{where}: weight must be a whole number from 1 to {MAX_WEIGHT}")
        variants.append({"id": variant_id, "text": text, "weight": weight})
    return variants


def parse_domain_name(value: Any) -> str:
    name = expect_str(value, "a domain name").strip().lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(x) for x in labels):
        raise Invalid(f"{value!r} is not a valid domain name")
    if labels[-1].isdigit():
        raise Invalid(f"{value!r} is not a valid domain name")
    return name


def parse_domain_names(value: Any) -> list[str]:
    names: list[str] = []
    for item in expect_list(value, "a list of domain names"):
        name = parse_domain_name(item)
        if name not in names:
            names.append(name)
    if len(names) > MAX_DOMAINS:
        raise Invalid(f"at most {MAX_DOMAINS} domains")
    return names


def parse_url(value: Any) -> str:
    url = expect_str(value, "a URL")
    found = _URL.fullmatch(url) if len(url) <= MAX_URL else None
    if found is None or "." not in found.group(1)[1:-1]:  # a dot inside the host name
        raise Invalid(
            f"must be an http:// or https:// address with a host name, at most {MAX_URL} characters"
        )
    return url


def parse_link(value: Any, *, with_target: bool) -> dict[str, Any]:
    keys = ("target", "pool", "domains") if with_target else ("pool", "domains")
    link = expect_object(value, keys)
    parsed: dict[str, Any] = {
        "pool": parse_uuid(link["pool"]) if link.get("pool") is not None else None,
        "domains": parse_domain_names(link.get("domains") or []),
    }
    if with_target:
        parsed["target"] = parse_url(link["target"]) if link.get("target") is not None else None
    return parsed


def parse_links(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    links = expect_object(value, ("short", "optout"))
    parsed = {}
    for kind in ("short", "optout"):
        if links.get(kind) is not None:
            try:
                parsed[kind] = parse_link(links[kind], with_target=kind == "short")
            except Invalid as error:
                raise Invalid(f"{kind}: {error}") from None
    return parsed


def parse_time(value: Any) -> datetime:
    text = expect_str(value, "a time (ISO 8601)")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Invalid("must carry a time zone (e.g. 2026-12-01T09:00:00Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last UTC time
        raise Invalid(f"{text!r} is outside the times that can be stored") from None


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, at microsecond precision: sortable as text."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is much faster than strftime, and this runs once per message and receipt.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_start_at(value: Any) -> str | None:
    return None if value is None else format_time(parse_time(value))


def parse_clock(value: Any, what: str) -> str:
    text = expect_str(value, f"{what}: a time of day HH:MM")
    if len(text) != len("HH:MM") or not _CLOCK.fullmatch(text):
        raise Invalid(f"{what} must be a time of day HH:MM (got {text!r})")
    return text


def parse_sending_schedule(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    schedule = expect_object(value, ("days", "from", "to", "time_zone"))
    days = expect_list(schedule.get("days"), "days: a list of week days")
    if not days or any(day not in WEEK_DAYS for day in days):
        raise Invalid(f"days must be a non-empty list of {', '.join(WEEK_DAYS)}")
    start = parse_clock(schedule.get("from"), "from")
    end = parse_clock(schedule.get("to"), "to")
    if start == end:
        raise Invalid("from and to must differ")
    zone = expect_str(schedule.get("time_zone", "UTC"), "time_zone: an IANA zone name")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{zone!r} is not a known time zone") from None
    ordered = [day for day in WEEK_DAYS if day in days]
    return {"days": ordered, "from": start, "to": end, "time_zone": zone}


def parse_pause_rules(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    rules = []
    items = expect_list(value, "a list of rules")
    if len(items) > MAX_RULES:
        raise Invalid(f"at most {MAX_RULES} rules")
    for index, item in enumerate(items):
        rule = expect_object(item, ("metric", "below", "above", "after"))
        where = f"rule {index + 1}"
        metric = rule.get("metric")
        if metric not in PAUSE_METRICS:
            raise Invalid(f"{where}: metric must be one of {', '.join(PAUSE_METRICS)}")
        bounds = [key for key in ("below", "above") if key in rule]
        if len(bounds) != 1:
            raise Invalid(f"{where}: give exactly one of below or above")
        bound = rule[bounds[0]]
        if not is_number(bound) or not math.isfinite(bound) or bound < 0:
            raise Invalid(f"{where}: {bounds[0]} must be a number at least 0")
        after = rule.get("after", 0)
        if not is_non_bool_int(after) or after < 0:
            raise Invalid(f"{where}: after must be a whole number of messages, at least 0")
        rules.append({"metric": metric, bounds[0]: bound, "after": after})
    return rules


def parse_ctr_indicators(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    indicators = expect_object(value, ("red_below", "green_from"))
    parsed: dict[str, float] = {}
    for key in ("red_below", "green_from"):
        number: Any = indicators.get(key)
        if not is_number(number) or not 0 <= float(number) <= 100:
            raise Invalid(f"{key} must be a percentage from 0 to 100")
        parsed[key] = float(number)
    if parsed["red_below"] > parsed["green_from"]:
        raise Invalid("red_below must not be above green_from")
    return parsed


def parse_money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Invalid("must be a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise Invalid("must be a decimal amount at least 0")
    return f"{amount:.4f}"


CAMPAIGN_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": parse_name,
    "description": parse_description,
    "tags": parse_tags,
    "type": parse_type,
    "stream": lambda value: expect_str(value) if value is not None else None,
    "sender": parse_sender,
    "contact_lists": parse_contact_lists,
    "variants": lambda value: [] if value is None else parse_variants(value),
    "links": parse_links,
    "start_at": parse_start_at,
    "sending_schedule": parse_sending_schedule,
    "pause_rules": parse_pause_rules,
    "ctr_indicators": parse_ctr_indicators,
}

CAMPAIGN_DEFAULTS: dict[str, Any] = {
    "description": "",
    "tags": [],
    "type": "outbound",
    "stream": "demo",
    "sender": None,
    "contact_lists": [],
    "variants": [],
    "links": {},
    "start_at": None,
    "sending_schedule": None,
    "pause_rules": [],
    "ctr_indicators": None,
}


def parse_fields(
    raw: Mapping[str, Any],
    parsers: Mapping[str, Callable[[Any], Any]],
    *,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Parses every field of `raw`; collects every problem before refusing."""
    problems = [
        FieldProblem(key, f"unknown field; allowed: {', '.join(parsers)}")
        for key in raw
        if key not in parsers
    ]
    problems += [FieldProblem(key, "is required") for key in required if key not in raw]
    parsed = {}
    for key, value in raw.items():
        if key not in parsers:
            continue
        try:
            parsed[key] = parsers[key](value)
        except Invalid as error:
            problems.append(FieldProblem(key, str(error)))
    if problems:
        raise ValidationFailed.of(problems)
    return parsed
