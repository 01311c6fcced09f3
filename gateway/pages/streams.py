"""The Streams page (F17): every sending stream with its owner and carrier link, refreshed
from GET /api/streams, and, for the roles that may, the forms to add a stream and to change
one. The settings' fields are built from gateway.carrier_settings, so they take what the
API takes; secrets are password fields that are never filled in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.stream import CARRIER_SETTINGS, CARRIERS
from gateway.api import stream_answers
from gateway.carrier_settings import CARRIER_NAMES, SETTINGS
from gateway.pages.rendering import render
from gateway.services import Services

FORM_CARRIERS = ("smpp", "http", "demo")  # the add form's choices, the usual first


@dataclass(frozen=True)
class SettingField:
    """One setting as a form field."""

    key: str
    label: str
    hint: str
    kind: str  # text, password, number, select or checkbox
    required: bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: str | None = None
    max_length: int | None = None
    choices: tuple[str, ...] = ()


def setting_field(carrier: str, key: str) -> SettingField:
    schema, setting = SETTINGS[carrier][key], CARRIER_SETTINGS[carrier][key]
    kind = {"integer": "number", "number": "number", "boolean": "checkbox"}.get(
        schema["type"], "text"
    )
    if "enum" in schema:
        kind = "select"
    if setting.secret:
        kind = "password"
    return SettingField(
        key=key,
        label=schema["title"],
        hint=schema["description"].replace("`", ""),  # the document's Markdown, as text
        kind=kind,
        required=setting.default is None,
        default=None if setting.secret else setting.default,
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        step="1" if schema["type"] == "integer" else "any" if kind == "number" else None,
        max_length=schema.get("maxLength"),
        choices=tuple(schema.get("enum", ())),
    )


def setting_fields() -> dict[str, list[SettingField]]:
    """Each carrier's fields; the demo carrier's outcome shares stay as they are (the API
    sets them)."""
    return {
        carrier: [setting_field(carrier, key) for key in SETTINGS[carrier] if key != "outcomes"]
        for carrier in CARRIERS
    }


def read_streams(platform: Services) -> list[dict[str, Any]]:
    return stream_answers(platform, platform.app.list_streams())


async def streams_page(request: Request) -> Response:
    platform: Services = request.app.state.platform
    streams = await run_in_threadpool(read_streams, platform)
    return render(
        "streams.html",
        request,
        active="streams",
        streams=streams,
        carriers=FORM_CARRIERS,
        carrier_names=CARRIER_NAMES,
        fields=setting_fields(),
    )
