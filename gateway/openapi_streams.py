"""The sending streams' part of the OpenAPI document: adding and changing streams with each
carrier's settings (gateway.carrier_settings), the stream as answers show it (its link
included), and the receipts an HTTP carrier posts for its stream."""

from __future__ import annotations

from typing import Any

from domain.stream import CARRIERS
from gateway.carrier import MAX_ERROR
from gateway.carrier_settings import (
    options_schema,
    secret_settings,
    settings_schema,
)
from gateway.schemas.carrier import MAX_ID, MAX_RECEIPTS, RECEIPT_STATUSES
from gateway.schemas.streams import by_carrier, schema_name

Schema = dict[str, Any]
OUTCOMES_REF: Schema = {"$ref": "#/components/schemas/Outcomes"}
LINK_STATES = ("connecting", "bound", "reconnecting", "stopped", "waiting", "disabled")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


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
    }


def stream_schemas() -> dict[str, Schema]:
    return {
        **carrier_settings_schemas(),
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
