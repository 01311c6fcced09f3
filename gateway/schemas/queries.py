"""The query parameters each JSON operation takes, declared once: the gateway reads a request's
query with its declaration, and the document describes each field as a parameter.

A list field is a repeatable parameter; an empty value is one not given; parameters a
declaration does not name are ignored. Whole numbers are read by `parse_whole_number`
within the bounds their field declares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar

import msgspec
from msgspec import Meta, Struct
from starlette.datastructures import QueryParams

from domain.errors import FieldProblem
from domain.fields import CAMPAIGN_TYPES, MAX_NAME, Invalid, parse_whole_number
from domain.status import Status
from gateway.errors import ApiError
from gateway.schemas.campaign_answers import MAX_PER_PAGE
from gateway.schemas.decoding import field_problems, unwrapped
from gateway.schemas.fields import NOT_ONLY_SPACES, CommandId, Text, one_of
from gateway.schemas.moments import DATE_OR_TIME

Q = TypeVar("Q", bound="Query")


if TYPE_CHECKING:
    StatusName: TypeAlias = str
    CampaignType: TypeAlias = str
    FormatName: TypeAlias = str
else:
    StatusName = one_of(tuple(status.value for status in Status))
    CampaignType = one_of(CAMPAIGN_TYPES)
    FormatName = one_of(("json", "csv"))

# A date or a time: the form is the pattern's; the calendar is checked by `as_time`.
Moment = Annotated[str, Meta(pattern=DATE_OR_TIME, examples=["2026-03-01", "2026-03-01T09:00:00Z"])]
Since = Annotated[Moment, Meta(description="At or after this date or time.")]
Until = Annotated[Moment, Meta(description="At or before this time; a date means through its end.")]
Page = Annotated[int, Meta(ge=1, le=1_000_000, description="From 1.")]
PerPage = Annotated[int, Meta(ge=1, le=MAX_PER_PAGE, description="Items per page.")]


class Query(Struct, kw_only=True, frozen=True):
    """A set of query parameters, each a field."""


class CampaignListQuery(Query, kw_only=True, frozen=True):
    name: (
        Annotated[Text, Meta(description="Campaigns whose name contains this, ignoring case.")]
        | None
    ) = None
    status: Annotated[list[StatusName], Meta(description="Any of these statuses.")] = []
    tag: Annotated[list[Text], Meta(description="Campaigns with any of these tags.")] = []
    type: Annotated[CampaignType, Meta(description="Campaigns of this type.")] | None = None
    stream: Annotated[Text, Meta(description="Campaigns on this stream.")] | None = None
    created_from: Annotated[Moment, Meta(description="Created at or after this.")] | None = None
    created_to: (
        Annotated[
            Moment, Meta(description="Created at or before this; a date means through its end.")
        ]
        | None
    ) = None
    page: Page = 1
    per_page: PerPage = 20


class CampaignQuery(Query, kw_only=True, frozen=True):
    version: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=10**9,
                description="As it was at this version, its sent count, CTR and cost as of the "
                "moment it reached it (to the minute); one it has not reached: 404.",
            ),
        ]
        | None
    ) = None
    as_of: (
        Annotated[
            Moment,
            Meta(
                description="As it was at this time (a date means its start), its sent count, CTR "
                "and cost to the minute (see the stats); cannot be combined with `version`. Before "
                "its creation: 404.",
            ),
        ]
        | None
    ) = None


class HistoryQuery(Query, kw_only=True, frozen=True):
    actor: Annotated[Text, Meta(description="Only this actor's events.")] | None = None
    type: (
        Annotated[
            Text,
            Meta(
                description="Only this event type (with or without `Campaign.`).",
                examples=["Paused", "Campaign.Paused"],
            ),
        ]
        | None
    ) = None
    since: Since | None = msgspec.field(default=None, name="from")
    until: Until | None = msgspec.field(default=None, name="to")
    format: (
        Annotated[
            FormatName,
            Meta(description="`csv` for CSV (also chosen by `Accept: text/csv`); default JSON."),
        ]
        | None
    ) = None


class DisclosuresQuery(Query, kw_only=True, frozen=True):
    actor: Annotated[Text, Meta(description="Only this actor's reads.")] | None = None
    since: Since | None = msgspec.field(default=None, name="from")
    until: Until | None = msgspec.field(default=None, name="to")
    page: Page = 1
    per_page: PerPage = 20
    format: (
        Annotated[
            FormatName,
            Meta(
                description="`csv` for CSV of every match (also chosen by `Accept: text/csv`); "
                "default JSON, a page."
            ),
        ]
        | None
    ) = None


class PageQuery(Query, kw_only=True, frozen=True):
    page: Page = 1
    per_page: PerPage = 20


class StatsQuery(Query, kw_only=True, frozen=True):
    as_of: (
        Annotated[
            Moment,
            Meta(
                description="Minute-precise: the counts up to the end of the minute holding this "
                "time (a date means its start). Before the campaign's creation: 404.",
                examples=["2026-03-01T09:30:00Z"],
            ),
        ]
        | None
    ) = None
    known_at: (
        Annotated[
            Moment,
            Meta(
                description="The stats as they were known at this time (to the second): what was "
                "recorded later, such as a late delivery receipt for an earlier minute, is left "
                "out, so a report taken then comes out again. With `as_of` too: what had happened "
                "by `as_of`, as known at `known_at`.",
                examples=["2026-03-01T10:00:00Z"],
            ),
        ]
        | None
    ) = None


class EventsQuery(Query, kw_only=True, frozen=True):
    after: Annotated[int, Meta(ge=0, le=2**62, description="Events after this position.")] = 0
    limit: Annotated[int, Meta(ge=1, le=100_000, description="At most this many lines.")] = 1000
    type: (
        Annotated[
            Text,
            Meta(
                description="Only this event type (full, or its own name).",
                examples=["Campaign.Paused", "Paused"],
            ),
        ]
        | None
    ) = None


class ContactImportQuery(Query, kw_only=True, frozen=True):
    name: (
        Annotated[
            str,
            Meta(
                max_length=MAX_NAME,
                pattern=NOT_ONLY_SPACES,
                description="The list's name (a multipart `name` part wins); empty or left out: "
                "the uploaded file's name, or `Contacts <UTC time>`.",
            ),
        ]
        | None
    ) = None
    command_id: (
        Annotated[
            CommandId,
            Meta(
                description="Makes the import idempotent: a repeat answers the first import's "
                "result and imports nothing."
            ),
        ]
        | None
    ) = None


# Reading.


def bounds(info: Any) -> tuple[int, int] | None:
    """The bounds of a whole-number type, or None for another type."""
    info = unwrapped(info)
    if not isinstance(info, msgspec.inspect.IntType):
        return None
    assert info.ge is not None and info.le is not None, "a whole-number parameter is bounded"
    return info.ge, info.le


def refused(problems: list[FieldProblem]) -> ApiError:
    first = problems[0]
    return ApiError(
        "validation_failed",
        f"{first.field} {first.message}",
        [{"field": p.field, "message": p.message} for p in problems],
    )


def read_query(params: QueryParams, declaration: type[Q]) -> Q:
    """A request's query as its declaration; refused: 422 naming every refused parameter."""
    raw: dict[str, Any] = {}
    problems = []
    for field in msgspec.structs.fields(declaration):
        name = field.encode_name
        values = [value for value in params.getlist(name) if value]
        if not values:
            continue
        info = unwrapped(msgspec.inspect.type_info(field.type))
        repeatable = isinstance(info, msgspec.inspect.ListType)
        limits = bounds(info.item_type if repeatable else info)
        if limits is not None:
            try:
                numbers = [parse_whole_number(value, *limits) for value in values]
            except Invalid as problem:
                problems.append(FieldProblem(name, str(problem)))
                continue
            raw[name] = numbers if repeatable else numbers[-1]
        else:
            raw[name] = values if repeatable else values[-1]
    try:
        if not problems:
            return msgspec.convert(raw, declaration)
    except msgspec.ValidationError:
        pass
    order = [field.encode_name for field in msgspec.structs.fields(declaration)]
    every = problems + field_problems(raw, declaration)
    raise refused(sorted(every, key=lambda problem: order.index(problem.field)))
