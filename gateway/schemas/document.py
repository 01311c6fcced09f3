"""The declared bodies' part of the OpenAPI document (requests and answers), generated from
their declarations."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from gateway.schemas.activity_answers import ACTIVITY_ANSWERS
from gateway.schemas.answers import ANSWERS, Answer
from gateway.schemas.campaign_answers import CAMPAIGN_ANSWERS
from gateway.schemas.campaigns import (
    CampaignCommand,
    CampaignCreate,
    CampaignEdit,
    DuplicateCommand,
)
from gateway.schemas.carrier import InboundReply, Receipt, ReceiptBatch
from gateway.schemas.catalogue import (
    DomainCommand,
    DomainLimitChange,
    DomainsAdd,
    PoolCreate,
    PoolEdit,
    PricesChange,
)
from gateway.schemas.contact_list_answers import CONTACT_LIST_ANSWERS
from gateway.schemas.fields import ENUM_ORDER, Body
from gateway.schemas.operations_answers import OPERATIONS_ANSWERS
from gateway.schemas.queries import Query
from gateway.schemas.realtime_answers import REALTIME_ANSWERS
from gateway.schemas.stream_answers import STREAM_ANSWERS
from gateway.schemas.streams import StreamChange, StreamCreate
from gateway.schemas.tokens import TokenCreate

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"

# Every body a route decodes; the bodies they nest are found from these.
REQUESTS: tuple[type[Body], ...] = (
    CampaignCreate,
    CampaignEdit,
    CampaignCommand,
    DuplicateCommand,
    DomainsAdd,
    DomainCommand,
    PricesChange,
    DomainLimitChange,
    PoolCreate,
    PoolEdit,
    StreamCreate,
    StreamChange,
    TokenCreate,
    Receipt,
    ReceiptBatch,
    InboundReply,
)
# Every answer a route encodes; the answers they nest are found from these.
EVERY_ANSWER: tuple[type[Answer], ...] = (
    ANSWERS
    + CAMPAIGN_ANSWERS
    + ACTIVITY_ANSWERS
    + STREAM_ANSWERS
    + CONTACT_LIST_ANSWERS
    + REALTIME_ANSWERS
    + OPERATIONS_ANSWERS
)


def declarations(root: type[Any]) -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    for child in root.__subclasses__():
        found[child.__name__] = child
        found.update(declarations(child))
    return found


def merged(schema: Schema, more: Schema) -> Schema:
    """`schema` with `more` added, objects merged key by key."""
    result = dict(schema)
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def tidied(value: Any) -> Any:
    """Descriptions on one line (docstrings are indented), enums in the order they are
    declared in, titles (each is the component's name) and empty lists of required fields
    left out."""
    if isinstance(value, dict) and isinstance(value.get("enum"), list):
        value = {**value, "enum": ENUM_ORDER.get(frozenset(value["enum"]), value["enum"])}
    if isinstance(value, dict):
        return {
            key: " ".join(item.split())
            if key == "description" and isinstance(item, str)
            else tidied(item)
            for key, item in value.items()
            if key != "title" and not (key == "required" and item == [])
        }
    if isinstance(value, list):
        return [tidied(item) for item in value]
    return value


def declared_components() -> dict[str, Schema]:
    """Each declared body's JSON Schema, and those of the bodies they nest, by name."""
    _refs, components = msgspec.json.schema_components(REQUESTS + EVERY_ANSWER, ref_template=REF)
    declared = {**declarations(Body), **declarations(Answer)}
    return {
        name: tidied(merged(components[name], getattr(declared[name], "schema", {})))
        for name in sorted(components)
    }


def takes_empty(schema: Schema) -> bool:
    """Whether a parameter's schema accepts the empty text (a value not given)."""
    if schema.get("type") != "string" or schema.get("minLength") or "enum" in schema:
        return False
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, "") is not None


def with_empty(schema: Schema) -> Schema:
    """A parameter's schema, the empty text (a value not given) allowed."""
    return (
        schema if takes_empty(schema) else {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
    )


def query_parameters(declaration: type[Query]) -> list[Schema]:
    """Each field of a query declaration as a query parameter: its description lifted from
    its schema, a list field repeatable, every one also taking the empty text."""
    _refs, components = msgspec.json.schema_components([declaration], ref_template=REF)
    parameters = []
    for name, schema in components[declaration.__name__]["properties"].items():
        schema = tidied(schema)
        default = schema.pop("default", None)
        if "anyOf" in schema:  # `| None`: a parameter may always be left out
            (schema,) = [choice for choice in schema["anyOf"] if choice != {"type": "null"}]
        description = schema.pop("description")
        parameter: Schema = {"name": name, "in": "query", "description": description}
        if schema.get("type") == "array":
            schema = {**schema, "items": with_empty(schema["items"])}
            parameter.update(style="form", explode=True)
        else:
            schema = with_empty(schema)
        if default not in (None, []):
            schema = {**schema, "default": default}
        parameters.append({**parameter, "schema": schema})
    return parameters
