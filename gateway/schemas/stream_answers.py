"""Answer bodies about sending streams: a stream with its settings (never its secrets), the
process that owns it and its carrier link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias

from msgspec import UNSET, Meta, UnsetType

from domain.stream import CARRIERS
from gateway.carrier_settings import secret_settings
from gateway.schemas.answers import Answer, Count, Time
from gateway.schemas.fields import one_of
from gateway.schemas.streams import Carrier, Rate, by_carrier, ref

# What a carrier link reports; `waiting` and `disabled` are the gateway's own.
LINK_STATES = ("connecting", "bound", "reconnecting", "stopped", "waiting", "disabled")
SECRETS = tuple(sorted({key for carrier in CARRIERS for key in secret_settings(carrier)}))
if TYPE_CHECKING:
    LinkState: TypeAlias = str
    Secret: TypeAlias = str
else:
    LinkState = one_of(LINK_STATES)
    Secret = one_of(SECRETS)


class StreamLink(Answer, kw_only=True):
    """A real carrier's link, as the sending process that owns the stream last reported it."""

    state: Annotated[
        LinkState,
        Meta(
            description="`disabled`: the stream is disabled. `waiting`: no sending process has "
            "reported the link in the last 10 s (none has the stream, or it stopped "
            "reporting; `error` says since when). Otherwise as the owning process reported "
            "it: `connecting`, `bound` (messages can go), `reconnecting` (after a failure, "
            "see `error`), `stopped`."
        ),
    ]
    error: Annotated[str | None, Meta(description="Why the link is not bound, when known.")]
    in_flight: Annotated[
        Count, Meta(description="Messages handed to the carrier and awaiting its answer.")
    ]
    window: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(description="How many may await their answer at most."),
    ]
    per_second: Annotated[
        float, Meta(ge=0, description="Messages handed to the carrier per second, lately.")
    ]
    since: Annotated[Time | None, Meta(description="When the link entered its state, where known.")]
    process: Annotated[
        str | None,
        Meta(description="The sending process that reported the link; null when waiting."),
    ]
    last_receipt_at: Annotated[
        Time | None, Meta(description="When the last delivery receipt came.")
    ]


class StreamOwner(Answer, kw_only=True):
    """The sending process that owns a stream, under its lease."""

    process: Annotated[
        str,
        Meta(
            description="The sending process: its command, host, PID and a random part.",
            examples=["dispatch@host-1:4242:9f3a"],
        ),
    ]
    epoch: Annotated[
        int,
        Meta(
            ge=1,
            description="Grows by one with every change of owner; every write the owner makes "
            "for the stream carries it.",
        ),
    ]
    lease_expires_at: Annotated[
        Time,
        Meta(
            description="When another process may take the stream unless the owner renews its "
            "lease first."
        ),
    ]


class Stream(Answer, kw_only=True):
    """A sending stream."""

    schema: ClassVar[dict[str, Any]] = {
        "properties": {
            "settings": by_carrier(
                "SettingsView",
                "The carrier's settings but its secrets, defaults filled in: "
                "`DemoSettingsView`, `SmppSettingsView` or `HttpSettingsView`.",
            ),
            "demo": {
                **ref("DemoSettingsView"),
                "description": "Streams on the demo carrier only: the same as `settings`.",
            },
        }
    }
    name: str
    carrier: Carrier
    rate: Rate
    enabled: bool
    version: Annotated[int, Meta(ge=1)]
    settings: dict[str, Any]
    secrets: Annotated[
        list[Secret],
        Meta(description="The names of the secrets set (e.g. `password`); never their values."),
    ]
    owner: Annotated[
        StreamOwner | None,
        Meta(
            description="The sending process that owns the stream now; null when none does "
            "(none runs, or its lease ran out)."
        ),
    ]
    link: Annotated[
        StreamLink | None, Meta(description="The carrier link; null on the demo carrier.")
    ]
    demo: dict[str, Any] | UnsetType = UNSET


class StreamList(Answer, kw_only=True):
    """Every stream, by name."""

    items: list[Stream]


STREAM_ANSWERS: tuple[type[Answer], ...] = (Stream, StreamList)
