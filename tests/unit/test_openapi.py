"""The OpenAPI document and the routes the server really has cannot drift apart."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from starlette.routing import Route

from gateway import api
from gateway.app import create_app
from gateway.openapi import openapi_document
from gateway.services import Services

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def documented_methods(path: str) -> set[str]:
    item = openapi_document()["paths"].get(path, {})
    return {key for key in item if key in HTTP_METHODS}


def served_routes() -> list[Route]:
    """Every route of the whole application (no platform is needed to list them)."""
    app = create_app(cast(Services, object()))
    return [route for route in app.routes if isinstance(route, Route)]


def methods_of(route: Route) -> set[str]:
    # Starlette adds HEAD to every GET route by itself; it is not an operation of its own.
    return {method.lower() for method in route.methods or ()} - {"head"}


@pytest.mark.parametrize("route", api.routes, ids=lambda r: f"{sorted(r.methods)} {r.path}")
def test_every_api_route_is_documented_with_its_method(route: Route) -> None:
    missing = methods_of(route) - documented_methods(route.path)
    assert not missing, f"{route.path}: {sorted(missing)} not in the OpenAPI document"


def test_every_route_of_the_app_is_documented() -> None:
    missing = [
        f"{method.upper()} {route.path}"
        for route in served_routes()
        for method in sorted(methods_of(route) - documented_methods(route.path))
    ]
    assert not missing, f"served but not documented: {missing}"


def test_every_documented_operation_is_served() -> None:
    served: dict[str, set[str]] = {}
    for route in served_routes():
        served.setdefault(route.path, set()).update(methods_of(route))
    extra = [
        f"{method.upper()} {path}"
        for path in openapi_document()["paths"]
        for method in sorted(documented_methods(path) - served.get(path, set()))
    ]
    assert not extra, f"documented but not served: {extra}"


def test_the_document_is_json_and_every_reference_resolves() -> None:
    document = json.loads(json.dumps(openapi_document()))
    assert document["openapi"].startswith("3.1")

    def references(value: Any) -> list[str]:
        if isinstance(value, dict):
            found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
            return found + [r for item in value.values() for r in references(item)]
        if isinstance(value, list):
            return [r for item in value for r in references(item)]
        return []

    for reference in set(references(document)):
        assert reference.startswith("#/components/"), reference
        target: Any = document
        for part in reference.removeprefix("#/").split("/"):
            assert part in target, f"{reference} does not resolve"
            target = target[part]


def test_operation_ids_are_unique() -> None:
    ids = [
        operation["operationId"]
        for item in openapi_document()["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids))


def test_the_document_describes_both_ways_of_authenticating() -> None:
    document = openapi_document()
    schemes = document["components"]["securitySchemes"]

    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["cookie"]["in"] == "cookie"
    assert document["security"] == [{"bearer": []}, {"cookie": []}]
    assert "X-CSRF-Token" in document["info"]["description"]


def test_every_operation_states_who_may_call_it() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                assert "x-roles" in operation, f"{method.upper()} {path}"
                assert "Access: " in operation["description"], f"{method.upper()} {path}"
                if operation["x-roles"]:
                    assert "401" in operation["responses"] and "403" in operation["responses"]
                else:
                    assert operation["security"] == [], f"{method.upper()} {path} is public"
