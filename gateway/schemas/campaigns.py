"""The campaign commands' bodies: create, edit, the lifecycle commands and duplicate."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias
from zoneinfo import available_timezones

from msgspec import UNSET, Meta, UnsetType

from domain.campaign import EDITABLE_WHILE_LIVE
from domain.fields import (
    CAMPAIGN_TYPES,
    MAX_DESCRIPTION,
    MAX_DOMAINS,
    MAX_LIST_IDS,
    MAX_NAME,
    MAX_RULES,
    MAX_TAG,
    MAX_TAGS,
    MAX_TEXT,
    MAX_VARIANTS,
    MAX_WEIGHT,
    PAUSE_METRICS,
    WEEK_DAYS,
)
from gateway.schemas.fields import (
    CLOCK,
    NOT_ONLY_SPACES,
    SENDER,
    TIME_EXAMPLE,
    Body,
    CommandOptions,
    DomainName,
    Id,
    Text,
    Url,
    one_of,
)

if TYPE_CHECKING:
    CampaignType: TypeAlias = str
    WeekDay: TypeAlias = str
    PauseMetric: TypeAlias = str
    TimeZone: TypeAlias = str
else:
    CampaignType = one_of(CAMPAIGN_TYPES)
    WeekDay = one_of(WEEK_DAYS)
    PauseMetric = one_of(PAUSE_METRICS)
    TimeZone = one_of(tuple(sorted(available_timezones())))

Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_NAME,
        pattern=NOT_ONLY_SPACES,
        description=f"Any letters, digits and symbols, 1 to {MAX_NAME} characters, not only "
        "spaces.",
    ),
]
Tag = Annotated[str, Meta(min_length=1, max_length=MAX_TAG, pattern=NOT_ONLY_SPACES)]
Sender = Annotated[
    str,
    Meta(
        pattern=SENDER,
        description="Alphanumeric (letters and digits, at least one letter) up to 11 "
        "characters, or digits up to 15 (a leading `+` allowed).",
        examples=["Shop", "+4915112345678"],
    ),
]
Percent = Annotated[float, Meta(ge=0, le=100, description="Percent.")]
Bound = Annotated[float, Meta(ge=0)]
Domains = Annotated[list[DomainName], Meta(max_length=MAX_DOMAINS)]
Clock = Annotated[str, Meta(pattern=CLOCK, description="HH:MM")]
# A placeholder is a name in braces; `{{` and `}}` are braces written out.
VARIANT_TEXT = "^(?:[^{}\\x00]|\\{\\{|\\}\\}|\\{[A-Za-z_][A-Za-z0-9_]*\\})*$(?!\\n)"


class VariantInput(Body, kw_only=True, forbid_unknown_fields=True):
    """A message text and its share of the ratio."""

    schema: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": ["text"], "properties": {"text": {"type": "string"}}},
            {"required": ["id"], "properties": {"id": {"type": "string"}}},
        ],
        "examples": [
            {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3}
        ],
    }
    id: (
        Annotated[Id, Meta(description="One of the campaign's variants; omit for a new one.")]
        | UnsetType
        | None
    ) = UNSET
    text: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=MAX_TEXT,
                pattern=VARIANT_TEXT,
                description=f"1 to {MAX_TEXT} characters, not only spaces. Placeholders in "
                "braces: a contact's CSV columns (`{first_name}`) and `{short_url}`, "
                "`{optout_url}`; `{{` and `}}` write a brace. A variant given by id may leave "
                "it out (or null) to change only its weight.",
            ),
        ]
        | UnsetType
        | None
    ) = UNSET
    weight: Annotated[int, Meta(ge=1, le=MAX_WEIGHT, description="Its share of the ratio.")] = 1


class ShortLink(Body, kw_only=True, forbid_unknown_fields=True):
    """The `{short_url}` link; it uses a pool, chosen domains, or both."""

    target: Url | UnsetType | None = UNSET
    pool: Id | UnsetType | None = UNSET
    domains: Domains | UnsetType | None = UNSET


class OptoutLink(Body, kw_only=True, forbid_unknown_fields=True):
    """The `{optout_url}` link; it uses a pool, chosen domains, or both."""

    pool: Id | UnsetType | None = UNSET
    domains: Domains | UnsetType | None = UNSET


class Links(Body, kw_only=True, forbid_unknown_fields=True):
    """Each link uses a pool (its domains), chosen domains (used first), or both; the pool
    and the domains must exist (added first), or the link is refused (422)."""

    short: ShortLink | UnsetType | None = UNSET
    optout: OptoutLink | UnsetType | None = UNSET


class SendingSchedule(
    Body, kw_only=True, forbid_unknown_fields=True, rename={"start": "from", "end": "to"}
):
    """The hours sending may happen in; `from` and `to` differ (not expressible in JSON
    Schema: a schedule with equal times is refused with 422). Days are stored in week order
    without repeats; `time_zone` is an IANA zone name."""

    days: Annotated[list[WeekDay], Meta(min_length=1)]
    start: Clock
    end: Clock
    time_zone: Annotated[TimeZone, Meta(examples=["Europe/Berlin"])] = "UTC"


class PauseRule(Body, kw_only=True, forbid_unknown_fields=True):
    """Pauses the campaign when a metric crosses a bound; exactly one of below or above."""

    schema: ClassVar[dict[str, Any]] = {"oneOf": [{"required": ["below"]}, {"required": ["above"]}]}
    metric: PauseMetric
    below: Bound | UnsetType = UNSET
    above: Bound | UnsetType = UNSET
    after: Annotated[int, Meta(ge=0, description="Only after this many messages.")] = 0


class CtrIndicators(Body, kw_only=True, forbid_unknown_fields=True):
    """Colours for the click-through rate, in percent; `red_below` is not above
    `green_from` (not expressible in JSON Schema: 422 otherwise)."""

    red_below: Percent
    green_from: Percent


class CampaignFields(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """The fields create and edit take, and the command's options; null sets a field back to
    its default."""

    description: Annotated[Text, Meta(max_length=MAX_DESCRIPTION)] | UnsetType | None = UNSET
    tags: Annotated[list[Tag], Meta(max_length=MAX_TAGS)] | UnsetType | None = UNSET
    type: CampaignType | UnsetType = UNSET
    stream: Annotated[Text, Meta(min_length=1)] | UnsetType | None = UNSET
    sender: Sender | UnsetType | None = UNSET
    contact_lists: Annotated[list[Id], Meta(max_length=MAX_LIST_IDS)] | UnsetType | None = UNSET
    variants: Annotated[list[VariantInput], Meta(max_length=MAX_VARIANTS)] | UnsetType | None = (
        UNSET
    )
    links: Links | UnsetType | None = UNSET
    start_at: Annotated[datetime, Meta(tz=True, examples=[TIME_EXAMPLE])] | UnsetType | None = UNSET
    sending_schedule: SendingSchedule | UnsetType | None = UNSET
    pause_rules: Annotated[list[PauseRule], Meta(max_length=MAX_RULES)] | UnsetType | None = UNSET
    ctr_indicators: CtrIndicators | UnsetType | None = UNSET


class CampaignCreate(CampaignFields, kw_only=True, forbid_unknown_fields=True):
    """A new Draft. Omitted fields take their defaults: `type` `outbound`, `stream` `demo`,
    empty lists and texts. Tags are trimmed and their duplicates dropped, as are duplicate
    contact lists and domains. A `stream` that does not exist is refused (422)."""

    name: Name


class CampaignEdit(CampaignFields, kw_only=True, forbid_unknown_fields=True):
    __doc__ = (
        "The fields to change. A Draft may change every field; from launch on until the "
        "campaign is final only "
        + ", ".join(f"`{field}`" for field in sorted(EDITABLE_WHILE_LIVE))
        + " (the others may be sent back unchanged), and its links must stay complete; a "
        "final campaign nothing (409 `illegal_transition`). A `stream` that does not exist, "
        "and a variant id that is not one of the campaign's, are refused (422)."
    )

    name: Name | UnsetType = UNSET


class CampaignCommand(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """A lifecycle command's options."""


class DuplicateCommand(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """Duplicating takes a `command_id`; the other options have no effect here."""
