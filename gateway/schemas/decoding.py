"""Reading a request body with its declaration: a refused body is 422 `validation_failed`
whose `details` name every refused field at once, as the domain's own refusals do."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from domain.errors import FieldProblem, ValidationFailed
from gateway.inputs import MAX_BODY, json_object, read_body
from gateway.schemas.fields import ENUM_ORDER, PATTERN_PROBLEMS

T = TypeVar("T")

# msgspec says where a problem is as a JSONPath (`$[0].text`) after " - at ".
_WHERE = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATTERN = re.compile(r"^Expected `str` matching regex (?P<pattern>'.*')$", re.DOTALL)
PATTERN_WORDS = {repr(pattern): words for pattern, words in PATTERN_PROBLEMS.items()}


def problem_text(error: msgspec.ValidationError, field: str) -> str:
    """msgspec's message (a pattern's in words), saying where inside the field it is."""
    found = _WHERE.match(str(error))
    assert found is not None  # the pattern matches every text
    path, message = found["path"] or "", found["message"]
    pattern = _PATTERN.match(message)
    words = PATTERN_WORDS.get(pattern["pattern"]) if pattern else None
    if words is not None:
        return f"{field}{path} {words}" if path else words
    return f"{field}{path}: {message}" if path else message


def unwrapped(info: Any) -> Any:
    """A field's type (as `msgspec.inspect` describes it) without `| None` and without its
    metadata."""
    if isinstance(info, msgspec.inspect.UnionType):
        info = next(t for t in info.types if not isinstance(t, msgspec.inspect.NoneType))
    return info.type if isinstance(info, msgspec.inspect.Metadata) else info


def choices_of(kind: Any, value: Any) -> str | None:
    """The values a field of choices takes, written out, when `value` is not one of them (a
    list of choices: when an item is not)."""
    info = unwrapped(msgspec.inspect.type_info(kind))
    values = value if isinstance(info, msgspec.inspect.ListType) else [value]
    if isinstance(info, msgspec.inspect.ListType):
        info = info.item_type
    if not isinstance(info, msgspec.inspect.LiteralType) or not isinstance(values, list):
        return None
    if all(isinstance(item, str) and item in info.values for item in values):
        return None
    written = [str(choice) for choice in info.values]
    return ", ".join(ENUM_ORDER.get(frozenset(written), written))


def field_problems(raw: dict[str, Any], declaration: type[Any]) -> list[FieldProblem]:
    """Every top-level field of `raw` its declaration refuses, and every missing one."""
    fields = {field.encode_name: field for field in msgspec.structs.fields(declaration)}
    problems = []
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            problems.append(FieldProblem(key, f"unknown field; allowed: {', '.join(fields)}"))
            continue
        try:
            msgspec.convert(value, field.type)
        except msgspec.ValidationError as error:
            choices = choices_of(field.type, value)
            message = problem_text(error, key) if choices is None else f"must be one of {choices}"
            problems.append(FieldProblem(key, message))
    missing = [name for name, field in fields.items() if field.required and name not in raw]
    return problems + [FieldProblem(name, "is required") for name in missing]


def decoded(raw: dict[str, Any], declaration: type[T]) -> T:
    """A parsed JSON object checked against its declaration."""
    try:
        return msgspec.convert(raw, declaration)
    except msgspec.ValidationError as error:
        problems = field_problems(raw, declaration) or [
            FieldProblem("body", problem_text(error, "body"))
        ]
        raise ValidationFailed.of(problems) from None


async def read_as(
    request: Request, declaration: type[T], *, empty_ok: bool = False, limit: int = MAX_BODY
) -> T:
    """The request's JSON body as its declaration (an empty body as `{}` with `empty_ok`)."""
    return decoded(json_object(await read_body(request, limit), empty_ok=empty_ok), declaration)
