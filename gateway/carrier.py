"""What carriers send us (F19, F20): delivery receipts and replies.

Receipts may arrive late, out of order and more than once: the activity store applies those
that move a message's status forwards and ignores the rest. A call's receipts are checked
first, all of them; when one is not acceptable none is applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.fields import Invalid, parse_time
from domain.phone import BadNumber, normalise
from domain.replies import opts_out
from gateway.api import call, platform_of
from gateway.errors import ApiError
from gateway.inputs import read_json_object
from projections.activity import Receipt

RECEIPT_STATUSES = ("sent", "delivered", "undelivered", "failed", "no_route", "rejected")
RECEIPT_FIELDS = ("message_id", "status", "at")
MAX_RECEIPTS = 10_000
MAX_RECEIPTS_BODY = 4 * 1024 * 1024  # room for MAX_RECEIPTS receipts with their times
MAX_ID = 200
MAX_DETAILS = 100  # problems listed in an answer; the message gives their number


def problems_error(problems: list[dict[str, str]]) -> ApiError:
    first = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return ApiError(
        "validation_failed", f"{first['field']}: {first['message']}{more}", problems[:MAX_DETAILS]
    )


def optional_time(value: Any, field: str, problems: list[dict[str, str]]) -> datetime:
    """A time a carrier gives, or now when it gives none."""
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_time(value)
    except Invalid as problem:
        problems.append({"field": field, "message": str(problem)})
        return datetime.now(UTC)


def parse_receipt(raw: Any, where: str, problems: list[dict[str, str]]) -> Receipt | None:
    if not isinstance(raw, dict):
        problems.append({"field": where or "body", "message": "must be an object"})
        return None
    prefix = f"{where}." if where else ""
    found = len(problems)
    for key in sorted(set(raw) - set(RECEIPT_FIELDS)):
        message = f"unknown field; allowed: {', '.join(RECEIPT_FIELDS)}"
        problems.append({"field": prefix + key, "message": message})
    message_id = raw.get("message_id")
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= MAX_ID:
        problems.append(
            {
                "field": f"{prefix}message_id",
                "message": f"must be a string of 1 to {MAX_ID} characters",
            }
        )
    status = raw.get("status")
    if status not in RECEIPT_STATUSES:
        problems.append(
            {"field": f"{prefix}status", "message": f"must be one of {', '.join(RECEIPT_STATUSES)}"}
        )
    at = optional_time(raw.get("at"), f"{prefix}at", problems)
    if len(problems) > found:
        return None
    return Receipt(str(message_id), str(status), at)


def parse_receipts(body: dict[str, Any]) -> list[Receipt]:
    """`{"receipts": [...]}`, or one receipt object on its own."""
    problems: list[dict[str, str]] = []
    if "receipts" not in body:
        single = parse_receipt(body, "", problems)
        if problems:
            raise problems_error(problems)
        return [single] if single else []
    unknown = sorted(set(body) - {"receipts"})
    problems += [{"field": key, "message": "unknown field; allowed: receipts"} for key in unknown]
    raw = body["receipts"]
    if not isinstance(raw, list):
        problems.append({"field": "receipts", "message": "must be a list of receipts"})
    elif len(raw) > MAX_RECEIPTS:
        problems.append(
            {"field": "receipts", "message": f"at most {MAX_RECEIPTS} receipts in one call"}
        )
    if problems:
        raise problems_error(problems)
    receipts = [parse_receipt(item, f"receipts[{i}]", problems) for i, item in enumerate(raw)]
    if problems:
        raise problems_error(problems)
    return [receipt for receipt in receipts if receipt is not None]


async def receive_receipts(request: Request) -> Response:
    body = await read_json_object(request, limit=MAX_RECEIPTS_BODY)
    receipts = parse_receipts(body)
    applied = await call(platform_of(request).activity.apply_receipts, receipts)
    return JSONResponse({"applied": applied, "ignored": len(receipts) - applied})


# Replies.

INBOUND_FIELDS = ("from", "text", "at")


def parse_inbound(body: dict[str, Any]) -> tuple[str, str, datetime]:
    problems: list[dict[str, str]] = []
    for key in sorted(set(body) - set(INBOUND_FIELDS)):
        message = f"unknown field; allowed: {', '.join(INBOUND_FIELDS)}"
        problems.append({"field": key, "message": message})
    phone = ""
    raw_phone = body.get("from")
    if not isinstance(raw_phone, str):
        problems.append({"field": "from", "message": "must be the sender's phone number"})
    else:
        try:
            phone = normalise(raw_phone)
        except BadNumber as problem:
            problems.append({"field": "from", "message": str(problem)})
    text = body.get("text")
    if not isinstance(text, str):
        problems.append({"field": "text", "message": "must be the reply's text"})
    at = optional_time(body.get("at"), "at", problems)
    if problems:
        raise problems_error(problems)
    return phone, str(text), at


async def receive_reply(request: Request) -> Response:
    phone, text, at = parse_inbound(await read_json_object(request))
    activity = platform_of(request).activity
    campaign_id, opted_out = await call(
        activity.record_reply, phone, text, at, opts_out=opts_out(text)
    )
    return JSONResponse({"campaign_id": campaign_id, "opted_out": opted_out})


routes = [
    Route("/api/carrier/receipts", receive_receipts, methods=["POST"]),
    Route("/api/inbound", receive_reply, methods=["POST"]),
]
