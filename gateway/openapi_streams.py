"""The sending streams' part of the OpenAPI document: each carrier's settings
(gateway.carrier_settings) as requests give them and answers show them, and the receipts an
HTTP carrier posts for its stream."""

from __future__ import annotations

from typing import Any

from domain.stream import CARRIERS
from gateway.carrier import MAX_ERROR
from gateway.carrier_settings import (
    options_schema,
    settings_schema,
)
from gateway.schemas.carrier import MAX_ID, MAX_RECEIPTS, RECEIPT_STATUSES
from gateway.schemas.streams import schema_name

Schema = dict[str, Any]
OUTCOMES_REF: Schema = {"$ref": "#/components/schemas/Outcomes"}


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


def nullable(schema: Schema, description: str) -> Schema:
    return {"anyOf": [schema, {"type": "null"}], "description": description}


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
