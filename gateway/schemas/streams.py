"""The bodies that add and change sending streams. A stream's `settings` are its carrier's
(gateway.carrier_settings describes each carrier's); the domain reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias

import msgspec
from msgspec import UNSET, Meta, UnsetType

from domain.stream import CARRIERS, OUTCOMES, STREAM_NAME
from gateway.carrier_settings import CARRIER_NAMES, settings_schema
from gateway.schemas.fields import Body, CommandOptions, one_of

MAX_RATE = 1_000_000
if TYPE_CHECKING:
    Carrier: TypeAlias = str
else:
    Carrier = one_of(CARRIERS)

Rate = Annotated[int, Meta(ge=0, le=MAX_RATE, description="Messages per second, 0 for unlimited.")]
Share = Annotated[float, Meta(ge=0, le=1)]
StreamName = Annotated[
    str,
    Meta(
        pattern=STREAM_NAME.pattern + "(?!\\n)",
        description="1 to 63 lower-case letters, digits, `-` or `_`.",
        examples=["backup"],
    ),
]
DEMO = "Demo streams only (the same as in `settings`): "
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def schema_name(carrier: str, suffix: str) -> str:
    return f"{CARRIER_NAMES[carrier].capitalize()}{suffix}"  # SmppSettings, HttpSettingsView


def by_carrier(suffix: str, description: str) -> Schema:
    """One of the carriers' schemas: the stream's carrier says which."""
    return {"anyOf": [ref(schema_name(c, suffix)) for c in CARRIERS], "description": description}


def settings_by_carrier() -> list[Schema]:
    """On creation: the settings schema of the `carrier` given, and `settings` required
    where that carrier has settings without defaults."""
    rules = []
    for carrier in CARRIERS:
        then: Schema = {"properties": {"settings": ref(schema_name(carrier, "Settings"))}}
        if settings_schema(carrier, creating=True).get("required"):
            then["required"] = ["settings"]
        rules.append(
            {
                "if": {"properties": {"carrier": {"const": carrier}}, "required": ["carrier"]},
                "then": then,
            }
        )
    return rules


Outcomes = msgspec.defstruct(
    "Outcomes",
    [
        (
            key,
            Annotated[Share, Meta(description=f"Share of `{key}`; default 0.")] | UnsetType,
            UNSET,
        )
        for key in OUTCOMES
    ],
    bases=(Body,),
    kw_only=True,
    forbid_unknown_fields=True,
    module=__name__,
)
Outcomes.__doc__ = "Delivery outcome shares of the demo carrier; they sum to 1 (422 otherwise)."


class StreamCreate(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """A new stream; a name in use is refused (422). Every problem with the settings is
    named in one `details` entry whose `field` is `settings`."""

    schema: ClassVar[dict[str, Any]] = {
        "allOf": settings_by_carrier(),
        "properties": {
            "settings": by_carrier(
                "Settings",
                "The carrier's settings: `DemoSettings`, `SmppSettings` or `HttpSettings`. "
                "Those left out take their defaults; unknown ones are refused. Secrets "
                "(`password`, `token`, `signing_secret`) are write-only: kept by the sending "
                "tier, never returned, never in events (only their names).",
            )
        },
    }
    name: StreamName
    carrier: Annotated[
        Carrier,
        Meta(
            description="`demo` simulates a carrier; `smpp` binds to an SMSC; `http` posts to "
            "a carrier's HTTP API."
        ),
    ]
    rate: Rate = 0
    settings: Any = UNSET  # the domain reads them by the stream's carrier


class StreamChange(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; the others stay as they are."""

    schema: ClassVar[dict[str, Any]] = {
        "properties": {
            "settings": by_carrier(
                "SettingsChange",
                "Some of the stream's carrier's settings (`DemoSettingsChange`, "
                "`SmppSettingsChange` or `HttpSettingsChange`); the others stay. A secret "
                "given is set (the event records its name, never its value); one left out "
                "stays as it is. Settings of another carrier are refused (422, `settings`).",
            )
        },
    }
    rate: Rate | UnsetType = UNSET
    enabled: (
        Annotated[
            bool,
            Meta(description="A disabled stream sends nothing; campaigns on it are suspended."),
        ]
        | UnsetType
    ) = UNSET
    settings: Any = UNSET  # the domain reads them by the stream's carrier
    seed: Annotated[int, Meta(description=DEMO + "the random seed.")] | UnsetType = UNSET
    click_rate: (
        Annotated[Share, Meta(description=DEMO + "share of delivered messages clicked.")]
        | UnsetType
    ) = UNSET
    optout_rate: (
        Annotated[Share, Meta(description=DEMO + "share of delivered messages opted out.")]
        | UnsetType
    ) = UNSET
    reply_rate: (
        Annotated[Share, Meta(description=DEMO + "share of delivered messages replied to.")]
        | UnsetType
    ) = UNSET
    outcomes: Outcomes | UnsetType = UNSET  # type: ignore[valid-type]
