"""Reading what clients send: JSON bodies (at most 1 MiB) and query parameters."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request

from domain.fields import Invalid, parse_whole_number
from gateway.errors import ApiError
from gateway.schemas.moments import as_time

MAX_BODY = 1024 * 1024
MAX_DECLARED = 2**63 - 1  # a Content-Length no body reaches


def declared_length(request: Request) -> int | None:
    """The body's length as the client declared it; None when it declared none or wrote it
    unreadably (the body is counted as it arrives anyway)."""
    try:
        return parse_whole_number(request.headers.get("content-length", ""), 0, MAX_DECLARED)
    except Invalid:
        return None


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> ApiError:
    return ApiError("payload_too_large", f"the request body is over {limit // 1024} KiB")


async def read_json_object(
    request: Request, *, empty_ok: bool = False, limit: int = MAX_BODY
) -> dict[str, Any]:
    return json_object(await read_body(request, limit), empty_ok=empty_ok)


def json_object(body: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    """A body read already (e.g. to check its signature first) as a JSON object."""
    if not body.strip():
        if empty_ok:
            return {}
        raise body_refused("a JSON object is required in the body")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError("malformed_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise ApiError("malformed_json", "the body's JSON nests too deeply") from None
    if not isinstance(value, dict):
        raise body_refused("the body must be a JSON object")
    refuse_unstorable_text(value)
    return value


def body_refused(message: str) -> ApiError:
    return ApiError("validation_failed", message, [{"field": "body", "message": message}])


def is_storable(text: str) -> bool:
    """Text every store takes: no NUL (PostgreSQL text refuses it, which would stop the read
    models there) and encodable as UTF-8 (a lone surrogate from a `\\ud800` escape is not)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def unstorable_texts(body: dict[str, Any]) -> list[str]:
    """The field paths (`tags[1]`) of a JSON body whose texts or keys are not storable."""
    found = []
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:  # not recursive: a body may nest as deep as the JSON parser allows
        path, value = pending.pop()
        if isinstance(value, str) and not is_storable(value):
            found.append(path)
        elif isinstance(value, list):
            pending += [(f"{path}[{index}]", item) for index, item in enumerate(value)]
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{printable(key)}" if path else printable(key)
                if is_storable(key):
                    pending.append((child, item))
                else:
                    found.append(child)
    return sorted(found)


def refuse_unstorable_text(body: dict[str, Any]) -> None:
    paths = unstorable_texts(body)
    if paths:
        message = "must be valid Unicode text without NUL (\\u0000) characters"
        raise ApiError(
            "validation_failed",
            f"{paths[0]}: {message}",
            [{"field": path, "message": message} for path in paths],
        )


def pop_command_options(body: dict[str, Any]) -> tuple[str, int | None, str | None]:
    """Takes `reason`, `expected_version` and `command_id` out of a command's body."""
    reason = body.pop("reason", "") or ""
    expected = body.pop("expected_version", None)
    command_id = body.pop("command_id", None)
    problems = []
    if not isinstance(reason, str) or len(reason) > 1000:
        problems.append(
            {"field": "reason", "message": "must be a string of at most 1000 characters"}
        )
    if expected is not None and (
        not isinstance(expected, int) or isinstance(expected, bool) or expected < 1
    ):
        problems.append({"field": "expected_version", "message": "must be a whole number from 1"})
    if command_id is not None and (
        not isinstance(command_id, str) or not 1 <= len(command_id) <= 200
    ):
        problems.append(
            {"field": "command_id", "message": "must be a string of 1 to 200 characters"}
        )
    if problems:
        first = problems[0]
        raise ApiError("validation_failed", f"{first['field']}: {first['message']}", problems)
    return str(reason), expected, command_id


def refuse_unknown_fields(body: dict[str, Any], allowed: str) -> None:
    """Refuses what is left of a body once its known fields were taken out."""
    if body:
        unknown = sorted(body)
        raise ApiError(
            "validation_failed",
            f"unknown field {unknown[0]!r}; allowed: {allowed}",
            [{"field": key, "message": "unknown field"} for key in unknown],
        )


def query_int(request: Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return parse_whole_number(raw, low, high)
    except Invalid as problem:
        raise ApiError(
            "validation_failed", f"{key} {problem}", [{"field": key, "message": str(problem)}]
        ) from None


def query_time(request: Request, key: str, *, end_of_day: bool = False) -> datetime | None:
    """A time, or a date (its start, or with `end_of_day` its last instant)."""
    return as_time(request.query_params.get(key), key, end_of_day=end_of_day)
