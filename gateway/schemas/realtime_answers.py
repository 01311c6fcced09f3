"""The messages of `WS /ws/realtime` and `WS /ws/replay`: campaigns' live rows, snapshots of
them, their updates, heartbeats and a replay's end."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from gateway.schemas.answers import Answer, Count, Id, Time
from gateway.schemas.campaign_answers import CampaignStatus

Position = Annotated[int, Meta(ge=0)]


class RealtimeDomain(Answer, kw_only=True):
    """A link domain a campaign uses, with its status and usage."""

    name: str
    status: str
    usage: Count


class RealtimeRow(Answer, kw_only=True):
    """A campaign's live row."""

    id: Id
    name: str
    status: CampaignStatus
    status_reason: str
    tags: list[str]
    type: str
    stream: str | None
    created_at: Time
    recipients: Count
    sent: Count
    delivered: Count
    failed: Annotated[Count, Meta(description="Undelivered, failed, no route, rejected.")]
    clicks: Count
    unique_clicks: Count
    ctr: Annotated[float | None, Meta(description="Percent.")]
    opt_outs: Count
    replies: Count
    cost: Annotated[str, Meta(examples=["12.3400"])]
    send_rate: Annotated[float, Meta(description="Messages/s over the last minute.")]
    domains: list[RealtimeDomain]
    active_domains: list[str]
    updated_at: Time


class ReplayMarker(Answer, kw_only=True, rename={"start": "from", "end": "to"}):
    """Marks a replay's message: the range played, its speed, and the moment it shows."""

    start: Annotated[Time, Meta(description="The range's start.")]
    end: Annotated[Time, Meta(description="The range's end.")]
    speed: Annotated[float, Meta(gt=0, description="Seconds of history per second.")]
    at: Annotated[Time, Meta(description="The moment of the history the message shows.")]


class RealtimeMessage(Answer, kw_only=True, tag_field="type"):
    """A message of the wall's feed; a replay's carry `replay`."""

    position: Position
    replay: ReplayMarker | UnsetType = UNSET


class RealtimeSnapshot(RealtimeMessage, kw_only=True, tag="snapshot"):
    """Every matching campaign's row (newest first) and the position they reflect."""

    at: Time
    rows: list[RealtimeRow]


class RealtimeUpdate(RealtimeMessage, kw_only=True, tag="update"):
    """The rows that changed and now match, and the ids of rows that no longer match."""

    at: Time
    rows: list[RealtimeRow]
    removed: list[Id]


class RealtimeHeartbeat(RealtimeMessage, kw_only=True, tag="heartbeat"):
    """Sent after 5 s without another message."""

    at: Time


class RealtimeEnd(RealtimeMessage, kw_only=True, tag="end"):
    """A replay reached the end of its range; the server then closes."""


REALTIME_ANSWERS: tuple[type[Answer], ...] = (
    RealtimeSnapshot,
    RealtimeUpdate,
    RealtimeHeartbeat,
    RealtimeEnd,
)
