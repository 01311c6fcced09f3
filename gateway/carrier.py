"""What carriers send us (F19, F20): delivery receipts and replies, and the receipts an
HTTP carrier posts for its stream (signed with the stream's signing secret).

Receipts may arrive late, out of order and more than once: the activity store applies those
that move a message's status forwards and ignores the rest. A call's receipts are checked
first, all of them; when one is not acceptable none is applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.fields import Invalid, parse_time
from domain.phone import BadNumber, normalise
from domain.replies import opts_out
from domain.stream import signature_matches
from gateway.api import call, platform_of
from gateway.errors import ApiError
from gateway.inputs import json_object, read_body, read_json_object
from gateway.schemas.answers import ReceiptsApplied, ReplyRecorded, StreamReceiptsTaken, answer
from gateway.schemas.carrier import (
    MAX_ID,
    MAX_RECEIPTS,
    RECEIPT_STATUSES,
    InboundReply,
    ReceiptBatch,
)
from gateway.schemas.carrier import Receipt as ReceiptDeclaration
from gateway.schemas.decoding import decoded
from projections.activity import Receipt
from projections.carrier_log import CarrierReceipt

RECEIPT_FIELDS = ("message_id", "status", "at")
MAX_RECEIPTS_BODY = 4 * 1024 * 1024  # room for MAX_RECEIPTS receipts with their times
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
    """`{"receipts": [...]}`, or one receipt object on its own, as their declarations take
    them; a refused call's problems are every refused receipt's."""
    batch = "receipts" in body
    declaration: type[ReceiptBatch | ReceiptDeclaration] = (
        ReceiptBatch if batch else ReceiptDeclaration
    )
    try:
        declared = msgspec.convert(body, declaration)
    except msgspec.ValidationError:
        explain_receipts(body)
        decoded(body, declaration)  # what the explanation did not find
        raise
    now = datetime.now(UTC)
    try:
        return [
            Receipt(each.message_id, each.status, utc(each.at) if each.at else now)
            for each in (declared.receipts if isinstance(declared, ReceiptBatch) else [declared])
        ]
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last UTC time
        raise ApiError("validation_failed", "at: outside the times that can be stored") from None


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def explain_receipts(body: dict[str, Any]) -> None:
    """Refuses a receipts body naming every problem of every receipt."""
    problems: list[dict[str, str]] = []
    if "receipts" not in body:
        parse_receipt(body, "", problems)
        if problems:
            raise problems_error(problems)
        return
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
    for index, item in enumerate(raw):
        parse_receipt(item, f"receipts[{index}]", problems)
    if problems:
        raise problems_error(problems)


async def receive_receipts(request: Request) -> Response:
    body = await read_json_object(request, limit=MAX_RECEIPTS_BODY)
    receipts = parse_receipts(body)
    applied = await call(platform_of(request).activity.receipts.apply_receipts, receipts)
    return answer(ReceiptsApplied(applied=applied, ignored=len(receipts) - applied))


# Receipts an HTTP carrier posts for one stream, by its own message ids.

STREAM_RECEIPT_FIELDS = ("id", "status", "error", "at")
MAX_ERROR = 200
SIGNATURE_HEADER = "x-signature"


def parse_stream_receipt(
    raw: Any, where: str, problems: list[dict[str, str]]
) -> CarrierReceipt | None:
    if not isinstance(raw, dict):
        problems.append({"field": where, "message": "must be an object"})
        return None
    found = len(problems)
    for key in sorted(set(raw) - set(STREAM_RECEIPT_FIELDS)):
        message = f"unknown field; allowed: {', '.join(STREAM_RECEIPT_FIELDS)}"
        problems.append({"field": f"{where}.{key}", "message": message})
    carrier_id = raw.get("id")
    if not isinstance(carrier_id, str) or not 1 <= len(carrier_id) <= MAX_ID:
        message = f"must be the carrier's message id, a string of 1 to {MAX_ID} characters"
        problems.append({"field": f"{where}.id", "message": message})
    status = raw.get("status")
    if status not in RECEIPT_STATUSES:
        message = f"must be one of {', '.join(RECEIPT_STATUSES)}"
        problems.append({"field": f"{where}.status", "message": message})
    error = raw.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR):
        message = f"must be a string of at most {MAX_ERROR} characters"
        problems.append({"field": f"{where}.error", "message": message})
    at = optional_time(raw.get("at"), f"{where}.at", problems)
    if len(problems) > found:
        return None
    return CarrierReceipt(str(carrier_id), str(status), error, at)


def parse_stream_receipts(body: dict[str, Any]) -> list[CarrierReceipt]:
    """`{"receipts": [...]}`: every receipt checked before any is taken."""
    problems = [
        {"field": key, "message": "unknown field; allowed: receipts"}
        for key in sorted(set(body) - {"receipts"})
    ]
    raw = body.get("receipts")
    if not isinstance(raw, list):
        problems.append({"field": "receipts", "message": "must be a list of receipts"})
        raise problems_error(problems)
    if len(raw) > MAX_RECEIPTS:
        message = f"at most {MAX_RECEIPTS} receipts in one call"
        problems.append({"field": "receipts", "message": message})
    if problems:
        raise problems_error(problems)
    receipts = [
        parse_stream_receipt(item, f"receipts[{i}]", problems) for i, item in enumerate(raw)
    ]
    if problems:
        raise problems_error(problems)
    return [receipt for receipt in receipts if receipt is not None]


def signed(secret: str | None, body: bytes, given: str | None) -> bool:
    # compare_digest takes ASCII text only; a header may hold anything.
    if not secret or given is None or not given.isascii():
        return False
    return signature_matches(secret, body, given)


async def receive_stream_receipts(request: Request) -> Response:
    """Receipts for an HTTP-carrier stream, signed with its signing secret: matched to our
    messages by the carrier's ids (those naming no message yet wait for the submit's
    answer), then applied like any receipts."""
    name = request.path_params["name"]
    platform = platform_of(request)
    stream = await call(platform.app.find_stream, name)
    if stream is None or stream.carrier != "http":
        raise ApiError("not_found", f"no stream {name!r} on the http carrier")
    body = await read_body(request, MAX_RECEIPTS_BODY)
    carrier_log = platform.carrier_log()
    secrets = await call(carrier_log.secrets_of, name)
    if not signed(secrets.get("signing_secret"), body, request.headers.get(SIGNATURE_HEADER)):
        raise ApiError(
            "unauthorized",
            "missing or wrong X-Signature: it must be sha256= and the hex HMAC-SHA256 of the "
            "raw body, keyed by the stream's signing secret",
        )
    receipts = parse_stream_receipts(json_object(body))

    def apply() -> StreamReceiptsTaken:
        matched = carrier_log.match(name, receipts, {})
        applied = platform.activity.receipts.apply_receipts(
            [Receipt(m.message_id, m.status, m.at) for m in matched]
        )
        if receipts:
            carrier_log.receipt_seen(name, datetime.now(UTC))
        return StreamReceiptsTaken(
            matched=len(matched), waiting=len(receipts) - len(matched), applied=applied
        )

    return answer(await call(apply))


# Replies.


def parse_inbound(body: dict[str, Any]) -> tuple[str, str, datetime]:
    reply = decoded(body, InboundReply)
    try:
        phone = normalise(reply.sender)
    except BadNumber as problem:
        raise problems_error([{"field": "from", "message": str(problem)}]) from None
    try:
        return phone, reply.text, utc(reply.at) if reply.at else datetime.now(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last UTC time
        raise ApiError("validation_failed", "at: outside the times that can be stored") from None


async def receive_reply(request: Request) -> Response:
    phone, text, at = parse_inbound(await read_json_object(request))
    activity = platform_of(request).activity
    campaign_id, opted_out = await call(
        activity.engagement.record_reply, phone, text, at, opts_out=opts_out(text)
    )
    return answer(ReplyRecorded(campaign_id=campaign_id, opted_out=opted_out))


routes = [
    Route("/api/carrier/receipts", receive_receipts, methods=["POST"]),
    Route("/api/inbound", receive_reply, methods=["POST"]),
    Route("/api/streams/{name}/receipts", receive_stream_receipts, methods=["POST"]),
]
