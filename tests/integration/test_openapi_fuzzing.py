"""Schema-driven fuzzing: every operation of the OpenAPI document called with parameters and
bodies drawn from its own schemas (and pushed past their bounds), never a server error.

A compact generator: the document's JSON schemas become Hypothesis strategies; strings go
past `maxLength` and numbers past their bounds now and then, and any JSON may come instead
of the documented body. A few cases per operation keep it fast (a few hundred in all)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.openapi import openapi_document
from infra.bootstrap import build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

DOCUMENT = openapi_document()
METHODS = ("get", "put", "post", "delete", "patch")
CASES_PER_OPERATION = 6
Schema = dict[str, Any]

ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def resolve(schema: Schema) -> Schema:
    while "$ref" in schema:
        target: Any = DOCUMENT
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def strings(schema: Schema) -> st.SearchStrategy[str]:
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    longest = int(schema.get("maxLength", 30))
    return st.text(max_size=min(longest, 40)) | st.text(min_size=longest + 1, max_size=longest + 2)


def numbers(schema: Schema, integral: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    low = None if low is None else int(low) - 1  # one past each bound, too
    high = None if high is None else int(high) + 1
    found: st.SearchStrategy[Any] = st.integers(min_value=low, max_value=high)
    if not integral:
        found = found | st.floats(allow_nan=False, allow_infinity=False)
    return found


def objects(schema: Schema, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {
            key: from_schema(value, depth + 1)
            for key, value in properties.items()
            if key in required
        },
        optional={
            key: from_schema(value, depth + 1)
            for key, value in properties.items()
            if key not in required
        },
    )


def from_schema(schema: Schema, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the schema describes, with some that break it; any JSON past a small depth."""
    schema = resolve(schema)
    if depth > 4:
        return ANY_JSON
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) | st.text(max_size=5)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(each, depth + 1) for each in schema[key]])
    kind = schema.get("type")
    if kind == "string":
        return strings(schema)
    if kind in ("integer", "number"):
        return numbers(schema, kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=4)
    if kind == "object":
        return objects(schema, depth)
    return ANY_JSON


def parameters_of(operation: Schema) -> list[Schema]:
    return [resolve(parameter) for parameter in operation.get("parameters", [])]


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def requests(draw: st.DrawFn, path: str, operation: Schema) -> dict[str, Any]:
    """One request: the path filled in, query parameters, a body."""
    url, query = path, []
    for parameter in parameters_of(operation):
        value = draw(from_schema(parameter.get("schema", {})))
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", quote(as_text(value) or "x", safe=""))
        elif parameter["in"] == "query" and draw(st.booleans()):
            values = value if isinstance(value, list) else [value]
            query += [(parameter["name"], as_text(each)) for each in values]
    url = re.sub(r"\{\w+\}", "x", url)
    request: dict[str, Any] = {"url": url, "params": query}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        documented = from_schema(content["application/json"]["schema"])
        request["json"] = draw(documented | ANY_JSON)
    elif content:
        media = next(iter(content))
        request["content"] = draw(st.text(max_size=200)).encode()
        request["headers"] = {"content-type": media}
    return request


OPERATIONS = [
    (method.upper(), path, item[method])
    for path, item in DOCUMENT["paths"].items()
    for method in METHODS
    if method in item
]


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"), sending=False, bootstrap_token=ADMIN_TOKEN
    )
    app = create_app(build(store), own_platform=True)
    with TestClient(app, headers=ADMIN_HEADERS, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_no_input_drawn_from_the_schema_gets_a_server_error(
    admin: TestClient, method: str, path: str, operation: Schema
) -> None:
    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(path, operation))
    def call(request: dict[str, Any]) -> None:
        url = request.pop("url")
        response = admin.request(method, url, follow_redirects=False, **request)
        assert response.status_code < 500, f"{method} {url}: {response.text[:500]}"
        if 400 <= response.status_code < 500 and url.startswith("/api/"):
            assert response.json()["error"]["code"], response.text[:300]

    call()
