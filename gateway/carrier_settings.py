"""Each carrier's settings as JSON Schema: domain/stream.py's CARRIER_SETTINGS in the terms
its parsers check. The OpenAPI document describes stream settings with these, and the Streams
page builds its form fields from them. Defaults, which settings are required and which are
secrets come from CARRIER_SETTINGS itself; tests/unit/test_streams_api.py holds the ranges
to the parsers."""

from __future__ import annotations

from typing import Any

from domain.stream import (
    BIND_MODES,
    CARRIER_SETTINGS,
    ENDPOINT_PATTERN,  # the patterns the parsers themselves use
    HOST_PATTERN,
    LONG_MESSAGES,
    OUTCOMES,
)
from gateway.schemas.fields import with_python_spaces

Schema = dict[str, Any]

PRINTABLE_ASCII = "^[ -~]*$"  # SMPP's C-octet strings: printable ASCII only
CARRIER_NAMES = {"demo": "Demo", "smpp": "SMPP", "http": "HTTP"}


def text(title: str, description: str, longest: int, *, shortest: int = 0) -> Schema:
    schema: Schema = {
        "type": "string",
        "title": title,
        "description": description,
        "maxLength": longest,
        "pattern": PRINTABLE_ASCII,
    }
    return {**schema, "minLength": shortest} if shortest else schema


def whole(title: str, description: str, low: int | None = None, high: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "title": title, "description": description}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    return schema


def choice(title: str, description: str, values: tuple[str, ...]) -> Schema:
    return {"type": "string", "title": title, "description": description, "enum": list(values)}


def share(title: str, description: str) -> Schema:
    return {
        "type": "number",
        "title": title,
        "description": description,
        "minimum": 0,
        "maximum": 1,
    }


# What each parser accepts. The demo carrier's `outcomes` is the OpenAPI `Outcomes` schema.
SETTINGS: dict[str, dict[str, Schema]] = {
    "demo": {
        "seed": whole("Seed", "The random seed of the simulated carrier."),
        "click_rate": share("Click rate", "Share of delivered messages clicked."),
        "optout_rate": share("Opt-out rate", "Share of delivered messages opted out."),
        "reply_rate": share("Reply rate", "Share of delivered messages replied to."),
        "outcomes": {
            "type": "object",
            "title": "Outcomes",
            "description": "Delivery outcome shares of the simulated carrier; they sum to 1.",
            "properties": {key: {"type": "number", "minimum": 0, "maximum": 1} for key in OUTCOMES},
            "additionalProperties": False,
        },
    },
    "smpp": {
        "host": {
            "type": "string",
            "title": "Host",
            "description": "The SMSC's host name or IP address (IPv6 in brackets).",
            "minLength": 1,
            "maxLength": 253,
            "pattern": f"^(?:{HOST_PATTERN.pattern})$",
        },
        "port": whole("Port", "The SMSC's TCP port.", 1, 65535),
        "system_id": text("System ID", "The account the link binds as.", 15, shortest=1),
        "password": text("Password", "The account's password.", 8),
        "system_type": text("System type", "Sent in the bind; most SMSCs want it empty.", 12),
        "bind": choice(
            "Bind",
            "One transceiver session, or a transmitter and a receiver session.",
            BIND_MODES,
        ),
        "window": whole("Window", "Submits awaiting their answer at most.", 1, 1000),
        "source_ton": whole("Source TON", "The sender's type of number.", 0, 6),
        "source_npi": whole("Source NPI", "The sender's numbering plan.", 0, 18),
        "long_messages": choice(
            "Long messages",
            "How a message of several parts is sent: concatenated with a UDH, or whole in "
            "the message_payload option.",
            LONG_MESSAGES,
        ),
        "tls": {"type": "boolean", "title": "TLS", "description": "Connect over TLS."},
    },
    "http": {
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Where messages are posted: an http:// or https:// address.",
            "maxLength": 2000,
            "pattern": f"^(?:{with_python_spaces(ENDPOINT_PATTERN.pattern)})$(?!\\n)",
        },
        "token": text("Token", "Sent as `Authorization: Bearer <token>`; none when empty.", 500),
        "signing_secret": text(
            "Signing secret",
            "Keys the HMAC-SHA256 `X-Signature` of the receipts the carrier posts to "
            "`/api/streams/{name}/receipts`.",
            500,
            shortest=1,
        ),
        "window": whole("Window", "Requests under way at most.", 1, 100),
        "timeout": {
            "type": "number",
            "title": "Timeout",
            "description": "Seconds a request may take.",
            "minimum": 0.1,
            "maximum": 120,
        },
    },
}


def setting_schema(carrier: str, key: str, *, outcomes: Schema | None = None) -> Schema:
    """One setting: what its parser takes, its default, whether it is a secret, and which
    carrier it belongs to."""
    setting = CARRIER_SETTINGS[carrier][key]
    schema = dict(outcomes if key == "outcomes" and outcomes else SETTINGS[carrier][key])
    notes = [f"{CARRIER_NAMES[carrier]} carrier:", SETTINGS[carrier][key].get("description", "")]
    if setting.default is None:
        notes.append("Required when the stream is added.")
    else:
        schema["default"] = setting.default
    if setting.secret:
        schema["writeOnly"] = True
        notes.append("A secret: write-only, never returned nor stored in events.")
    schema["description"] = " ".join(notes)
    return schema


def required_settings(carrier: str) -> list[str]:
    return [key for key, s in CARRIER_SETTINGS[carrier].items() if s.default is None]


def secret_settings(carrier: str) -> list[str]:
    return [key for key, s in CARRIER_SETTINGS[carrier].items() if s.secret]


def settings_schema(carrier: str, *, creating: bool, outcomes: Schema | None = None) -> Schema:
    """The settings a request may give for a stream on `carrier`: on creation the
    required ones, and the defaults fill the rest; on a change any of them."""
    schema: Schema = {
        "type": "object",
        "title": f"{CARRIER_NAMES[carrier]} settings",
        "properties": {
            key: setting_schema(carrier, key, outcomes=outcomes) for key in SETTINGS[carrier]
        },
        "additionalProperties": False,
    }
    if creating and required_settings(carrier):
        schema["required"] = required_settings(carrier)
    return schema


def options_schema(carrier: str, *, outcomes: Schema | None = None) -> Schema:
    """A stream's settings as answers show them: every one but the secrets."""
    secrets = set(secret_settings(carrier))
    properties = {
        key: setting_schema(carrier, key, outcomes=outcomes)
        for key in SETTINGS[carrier]
        if key not in secrets
    }
    for schema in properties.values():
        schema.pop("writeOnly", None)
    return {
        "type": "object",
        "title": f"{CARRIER_NAMES[carrier]} settings",
        "properties": properties,
        "required": list(properties),
    }
