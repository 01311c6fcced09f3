"""Answer bodies about campaigns: a campaign, the list's rows and pages, the history's
entries and the stored events' lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from msgspec import UNSET, Meta, UnsetType

from domain.status import USER_COMMANDS, Status
from gateway.schemas.answers import Answer, Count, Id, Money, Time
from gateway.schemas.campaigns import (
    CampaignType,
    CtrIndicators,
    Links,
    PauseRule,
    SendingSchedule,
)
from gateway.schemas.fields import one_of

if TYPE_CHECKING:
    CampaignStatus: TypeAlias = str
    UserCommand: TypeAlias = str
else:
    CampaignStatus = one_of(tuple(status.value for status in Status))
    UserCommand = one_of(USER_COMMANDS)

MAX_PER_PAGE = 100  # items a page of a list holds at most
Version = Annotated[int, Meta(ge=1)]
Page = Annotated[int, Meta(ge=1)]
PerPage = Annotated[int, Meta(ge=1, le=MAX_PER_PAGE)]
Ctr = Annotated[
    float | None, Meta(description="Click-through rate in percent; null while not known.")
]


class Variant(Answer, kw_only=True):
    """A message text and its share of the ratio."""

    id: Id
    text: str
    weight: Annotated[int, Meta(ge=1)]


class Recipients(Answer, kw_only=True):
    """The audience fixed at preparation, and how many of it were sent to."""

    total: Count
    sent: Count


class CampaignListItem(Answer, kw_only=True):
    """A row of the campaigns list."""

    id: Id
    version: Version
    name: str
    description: str
    status: CampaignStatus
    status_reason: Annotated[str, Meta(description="Why it entered its status.")]
    tags: list[str]
    type: CampaignType
    stream: str | None
    sender: str | None
    created_at: Time
    updated_at: Time
    recipients: Recipients
    cost: Money
    ctr: Ctr


class Campaign(Answer, kw_only=True):
    """A campaign, with its sent count, CTR and cost."""

    id: Id
    version: Version
    name: str
    description: str
    status: CampaignStatus
    status_reason: Annotated[str, Meta(description="Why it entered its status.")]
    suspension: Annotated[
        dict[str, Any] | None,
        Meta(description="What suspended the campaign (its `kind`), if anything."),
    ]
    tags: list[str]
    type: CampaignType
    stream: str | None
    sender: str | None
    created_at: Time
    updated_at: Time
    created_by: str
    duplicated_from: Id | None
    contact_lists: list[Id]
    variants: list[Variant]
    ratio_epoch: Annotated[int, Meta(ge=0, description="How often the ratio changed after launch.")]
    links: Annotated[Links, Meta(description="Each link with `pool` and `domains` filled.")]
    start_at: Time | None
    sending_schedule: SendingSchedule | None
    pause_rules: list[PauseRule]
    ctr_indicators: CtrIndicators | None
    recipients: Recipients
    ctr: Ctr
    cost: Money
    started_at: Time | None
    finished_at: Time | None
    allowed_commands: Annotated[
        list[UserCommand],
        Meta(description="The commands the campaign accepts in its status."),
    ]
    missing_steps: Annotated[
        list[str], Meta(description="What a Draft still needs before launch; empty when ready.")
    ]


class ListPage(Answer, kw_only=True):
    """One page of the campaigns list, newest first."""

    items: list[CampaignListItem]
    total: Annotated[int, Meta(ge=0, description="Matching campaigns on all pages.")]
    page: Page
    per_page: PerPage


class HistoryEntry(Answer, kw_only=True):
    """One event of a campaign's audit trail."""

    position: Annotated[int, Meta(ge=1, description="The event's position in the store.")]
    at: Time
    type: Annotated[str, Meta(description="The event type.", examples=["Campaign.Paused"])]
    actor: Annotated[str, Meta(examples=["Ann Manager", "system"])]
    from_status: Annotated[CampaignStatus | None, Meta(description="Null for the creation.")]
    to_status: CampaignStatus
    reason: str
    version: Annotated[int, Meta(ge=1, description="The campaign's version after the event.")]
    command_id: str | None
    changed: (
        Annotated[list[str], Meta(description="Edits only: the fields that changed.")] | UnsetType
    ) = UNSET
    cause: (
        Annotated[
            dict[str, Any],
            Meta(
                description="Suspensions only: the cause. `kind` `domains`: `links` (per link "
                "kind, each domain with its status and usage) and `limit`; `rule`: the "
                "`rule`, the `value` measured, and the count it was `measured_over` "
                "(`base`); `stream`: the disabled `stream`."
            ),
        ]
        | UnsetType
    ) = UNSET
    details: Annotated[
        str,
        Meta(
            description="The event's facts in words (empty when it has none): which domains "
            "reached which limit, which rule fired on which values, what an edit set.",
            examples=[
                "auto-pause rule CTR below 1.5% after 100; measured 0.80% over 200 delivered"
            ],
        ),
    ]
    facts: Annotated[
        dict[str, Any],
        Meta(
            description="The same facts as data: `changed` and `changes` (edits), `cause` "
            "(suspensions), `recipients`, `start_at`, `duplicated_from`."
        ),
    ]


class EventMessage(Answer, kw_only=True):
    """One stored event: one line of the NDJSON stream."""

    position: Annotated[int, Meta(ge=1)]
    at: Time
    aggregate_id: Id
    version: Version
    type: Annotated[str, Meta(examples=["Campaign.Created"])]
    data: dict[str, Any]


CAMPAIGN_ANSWERS: tuple[type[Answer], ...] = (
    Campaign,
    CampaignListItem,
    ListPage,
    HistoryEntry,
    EventMessage,
)
