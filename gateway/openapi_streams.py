"""The sending streams' part of the OpenAPI document: adding and changing streams with each
carrier's settings (gateway.carrier_settings), the stream as answers show it (its link
included), and the receipts an HTTP carrier posts for its stream."""

from __future__ import annotations

from typing import Any

from domain.stream import CARRIERS, STREAM_NAME
from gateway.carrier import MAX_ERROR, MAX_ID, MAX_RECEIPTS, RECEIPT_STATUSES
from gateway.carrier_settings import (
    CARRIER_NAMES,
    options_schema,
    secret_settings,
    settings_schema,
)

Schema = dict[str, Any]
OUTCOMES_REF: Schema = {"$ref": "#/components/schemas/Outcomes"}
LINK_STATES = ("connecting", "bound", "reconnecting", "stopped", "waiting", "disabled")
RATE: Schema = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
COMMAND_ID: Schema = {
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": 200}, {"type": "null"}],
    "description": "Makes the command idempotent: a repeat returns the first answer and "
    "changes nothing.",
}
EXPECTED_VERSION: Schema = {
    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
    "description": "Refuse with 409 `version_conflict` unless the stream is at this version.",
}
REASON: Schema = {
    "anyOf": [{"type": "string", "maxLength": 1000}, {"type": "null"}],
    "description": "Accepted; no effect here.",
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def schema_name(carrier: str, suffix: str) -> str:
    return f"{CARRIER_NAMES[carrier].capitalize()}{suffix}"  # SmppSettings, HttpSettingsView


def by_carrier(suffix: str, description: str) -> Schema:
    """One of the carriers' schemas: the stream's carrier says which."""
    return {"anyOf": [ref(schema_name(c, suffix)) for c in CARRIERS], "description": description}


def carrier_settings_schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for carrier in CARRIERS:
        schemas[schema_name(carrier, "Settings")] = settings_schema(
            carrier, creating=True, outcomes=OUTCOMES_REF
        )
        schemas[schema_name(carrier, "SettingsChange")] = settings_schema(
            carrier, creating=False, outcomes=OUTCOMES_REF
        )
        schemas[schema_name(carrier, "SettingsView")] = options_schema(
            carrier, outcomes=OUTCOMES_REF
        )
    return schemas


def settings_by_carrier() -> list[Schema]:
    """On creation: the settings schema of the `carrier` given."""
    return [
        {
            "if": {"properties": {"carrier": {"const": carrier}}, "required": ["carrier"]},
            "then": {"properties": {"settings": ref(schema_name(carrier, "Settings"))}},
        }
        for carrier in CARRIERS
    ]


def stream_create() -> Schema:
    return {
        "type": "object",
        "description": "A new stream; a name in use is refused (422). Every problem with the "
        "settings is named in one `details` entry whose `field` is `settings`.",
        "properties": {
            "name": {
                "type": "string",
                "description": "1 to 63 lower-case letters, digits, `-` or `_`.",
                "pattern": STREAM_NAME.pattern,
                "examples": ["backup"],
            },
            "carrier": {
                "type": "string",
                "enum": list(CARRIERS),
                "description": "`demo` simulates a carrier; `smpp` binds to an SMSC; `http` "
                "posts to a carrier's HTTP API.",
            },
            "rate": {**RATE, "description": "Messages per second, 0 for unlimited (the default)."},
            "settings": by_carrier(
                "Settings",
                "The carrier's settings: `DemoSettings`, `SmppSettings` or `HttpSettings`. "
                "Those left out take their defaults; unknown ones are refused. Secrets "
                "(`password`, `token`, `signing_secret`) are write-only: kept by the sending "
                "tier, never returned, never in events (only their names).",
            ),
            "command_id": COMMAND_ID,
            "reason": REASON,
            "expected_version": {**EXPECTED_VERSION, "description": "Accepted; no effect here."},
        },
        "required": ["name", "carrier"],
        "additionalProperties": False,
        "allOf": settings_by_carrier(),
    }


def stream_change() -> Schema:
    demo = "Demo streams only (the same as in `settings`): "
    return {
        "type": "object",
        "description": "The fields to change; the others stay as they are.",
        "properties": {
            "rate": {**RATE, "description": "Messages per second, 0 for unlimited."},
            "enabled": {
                "type": "boolean",
                "description": "A disabled stream sends nothing; campaigns on it are suspended.",
            },
            "settings": by_carrier(
                "SettingsChange",
                "Some of the stream's carrier's settings (`DemoSettingsChange`, "
                "`SmppSettingsChange` or `HttpSettingsChange`); the others stay. A secret "
                "given is set (the event records its name, never its value); one left out "
                "stays as it is. Settings of another carrier are refused (422, `settings`).",
            ),
            "seed": {"type": "integer", "description": demo + "the random seed."},
            "click_rate": share(demo + "share of delivered messages clicked."),
            "optout_rate": share(demo + "share of delivered messages opted out."),
            "reply_rate": share(demo + "share of delivered messages replied to."),
            "outcomes": {**OUTCOMES_REF, "description": demo + "the outcomes' shares."},
            "expected_version": EXPECTED_VERSION,
            "command_id": COMMAND_ID,
            "reason": REASON,
        },
        "additionalProperties": False,
    }


def share(description: str) -> Schema:
    return {"type": "number", "minimum": 0, "maximum": 1, "description": description}


def nullable(schema: Schema, description: str) -> Schema:
    return {"anyOf": [schema, {"type": "null"}], "description": description}


def stream_link() -> Schema:
    time = ref("Time")
    properties: dict[str, Schema] = {
        "state": {
            "type": "string",
            "enum": list(LINK_STATES),
            "description": "`disabled`: the stream is disabled. `waiting`: no sending process "
            "has reported the link in the last 10 s (none has the stream, or it stopped "
            "reporting; `error` says since when). Otherwise as the owning process reported "
            "it: `connecting`, `bound` (messages can go), `reconnecting` (after a failure, "
            "see `error`), `stopped`.",
        },
        "error": nullable({"type": "string"}, "Why the link is not bound, when known."),
        "in_flight": {
            "type": "integer",
            "minimum": 0,
            "description": "Messages handed to the carrier and awaiting its answer.",
        },
        "window": nullable(
            {"type": "integer", "minimum": 1}, "How many may await their answer at most."
        ),
        "per_second": {
            "type": "number",
            "minimum": 0,
            "description": "Messages handed to the carrier per second, lately.",
        },
        "last_receipt_at": nullable(time, "When the last delivery receipt came."),
        "since": nullable(time, "When the link entered its state, where known."),
        "process": nullable(
            {"type": "string"}, "The sending process that reported the link; null when waiting."
        ),
    }
    return {
        "type": "object",
        "description": "A real carrier's link, as the sending process that owns the stream "
        "last reported it.",
        "properties": properties,
        "required": list(properties),
    }


def stream() -> Schema:
    secrets = sorted({key for carrier in CARRIERS for key in secret_settings(carrier)})
    properties: dict[str, Schema] = {
        "name": {"type": "string"},
        "carrier": {"type": "string", "enum": list(CARRIERS)},
        "rate": {
            "type": "integer",
            "minimum": 0,
            "description": "Messages per second, 0 for unlimited.",
        },
        "enabled": {"type": "boolean"},
        "version": {"type": "integer", "minimum": 1},
        "settings": by_carrier(
            "SettingsView",
            "The carrier's settings but its secrets, defaults filled in: "
            "`DemoSettingsView`, `SmppSettingsView` or `HttpSettingsView`.",
        ),
        "secrets": {
            "type": "array",
            "items": {"type": "string", "enum": secrets},
            "description": "The names of the secrets set (e.g. `password`); never their values.",
        },
        "owner": nullable(
            {
                "type": "object",
                "properties": {
                    "process": {
                        "type": "string",
                        "description": "The sending process: its command, host, PID and a "
                        "random part.",
                        "examples": ["dispatch@host-1:4242:9f3a"],
                    },
                    "epoch": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Grows by one with every change of owner; every write "
                        "the owner makes for the stream carries it.",
                    },
                    "lease_expires_at": {
                        **ref("Time"),
                        "description": "When another process may take the stream unless the "
                        "owner renews its lease first.",
                    },
                },
                "required": ["process", "epoch", "lease_expires_at"],
            },
            "The sending process that owns the stream now; null when none does (none runs, "
            "or its lease ran out).",
        ),
        "link": nullable(ref("StreamLink"), "The carrier link; null on the demo carrier."),
        "demo": {
            **ref("DemoSettingsView"),
            "description": "Streams on the demo carrier only: the same as `settings`.",
        },
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key != "demo"],
    }


def stream_receipt_schemas() -> dict[str, Schema]:
    receipt = {
        "type": "object",
        "description": "One delivery receipt, by the carrier's own message id.",
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_ID,
                "description": "The carrier's message id, as its answer to the submit gave it.",
            },
            "status": {"type": "string", "enum": list(RECEIPT_STATUSES)},
            "error": nullable(
                {"type": "string", "maxLength": MAX_ERROR}, "The carrier's reason, if any."
            ),
            "at": {
                "type": "string",
                "format": "date-time",
                "description": "When the carrier saw it; must carry a zone. Default: when it "
                "arrives.",
            },
        },
        "required": ["id", "status"],
        "additionalProperties": False,
    }
    return {
        "StreamReceipt": receipt,
        "StreamReceiptBatch": {
            "type": "object",
            "properties": {
                "receipts": {
                    "type": "array",
                    "items": ref("StreamReceipt"),
                    "maxItems": MAX_RECEIPTS,
                }
            },
            "required": ["receipts"],
            "additionalProperties": False,
        },
        "StreamReceiptsTaken": {
            "type": "object",
            "properties": {
                "matched": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Receipts whose carrier id named one of our messages.",
                },
                "waiting": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Receipts naming a carrier id not known yet: kept for a "
                    "day, and applied when the submit's answer names it.",
                },
                "applied": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Matched receipts that moved a message's status forwards.",
                },
            },
            "required": ["matched", "waiting", "applied"],
        },
    }


def stream_schemas() -> dict[str, Schema]:
    return {
        **carrier_settings_schemas(),
        "StreamCreate": stream_create(),
        "StreamChange": stream_change(),
        "StreamLink": stream_link(),
        "Stream": stream(),
        **stream_receipt_schemas(),
    }


RECEIPTS_DESCRIPTION = f"""\
For streams on the `http` carrier: the receipts the carrier posts, by its own message ids.
The request is signed instead of carrying a token: `X-Signature: sha256=<hex>`, the
HMAC-SHA256 of the raw body keyed by the stream's `signing_secret`. A missing or wrong
signature is 401 `unauthorized` and nothing is taken; an unknown stream, or one on another
carrier, is 404. At most {MAX_RECEIPTS} receipts a call; every receipt is checked first, and
when one is not acceptable (422, `details` names each) none is taken. A receipt naming a
carrier id whose submit has not been answered yet waits (`waiting`) and is applied once the
answer names it. Receipts may come late, out of order and more than once: a message's status
only moves forwards."""
