"""Every operation the app serves, called by every role and with no token: refused (401,
or a redirect to the sign-in page; 403) or let through exactly as its rule says, and as
the OpenAPI document states it. A route added without a rule fails here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from domain.roles import ROLES
from gateway.access import NO_RULE, RULES, WEBSOCKET, Rule, operations
from gateway.app import create_app
from gateway.openapi import openapi_document
from gateway.services import Services
from infra.bootstrap import Platform, build
from infra.settings import Settings

NOBODY = "no token"
CALLERS = (*ROLES, NOBODY)
SOME_ID = str(uuid.UUID(int=7))
PATH_VALUES = {"id": SOME_ID, "name": "demo", "code": "unknown-code"}
COMMANDS = {"/api/campaigns/{id}/{command}": "pause", "/api/domains/{name}/{command}": "block"}


def every_operation() -> list[tuple[str, str]]:
    """From the app's own routes (no platform is needed to list them)."""
    return operations(create_app(cast(Services, object())).routes)


OPERATIONS = every_operation()


@pytest.fixture(scope="module")
def matrix_platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """One platform for the whole matrix (SQLite): the rules do not depend on the store."""
    return build(Settings(data_dir=tmp_path_factory.mktemp("matrix"), sending=False))


@pytest.fixture(scope="module")
def tokens(matrix_platform: Platform) -> dict[str, str]:
    return {role: matrix_platform.tokens.create(f"the {role}", role)[1] for role in ROLES}


@pytest.fixture(scope="module")
def matrix_client(matrix_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(matrix_platform, own_platform=True)) as client:
        yield client


def concrete(path: str) -> str:
    path = path.replace("{command}", COMMANDS.get(path, "x"))
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def headers_of(caller: str, tokens: dict[str, str]) -> dict[str, str]:
    return {} if caller == NOBODY else {"Authorization": f"Bearer {tokens[caller]}"}


def refusal(response: httpx.Response) -> str | None:
    """What access control said: `unauthorized`, `forbidden`, or None (let through)."""
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/sign-in?next="):
        return "unauthorized"
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            code = response.json().get("error", {}).get("code")
        except (ValueError, AttributeError):
            return None
        if code in ("unauthorized", "forbidden"):
            return str(code)
    return None


def expected(rule: Rule, caller: str) -> str | None:
    if rule.public:
        return None
    if caller == NOBODY:
        return "unauthorized"
    return None if rule.allows(caller) else "forbidden"


def test_every_operation_has_a_rule() -> None:
    missing = [f"{method} {path}" for method, path in OPERATIONS if (method, path) not in RULES]
    assert not missing, f"operations without an access rule: {missing}"


def test_every_rule_belongs_to_an_operation() -> None:
    assert set(RULES) <= set(OPERATIONS), set(RULES) - set(OPERATIONS)


def test_the_openapi_document_states_each_rule() -> None:
    paths = openapi_document()["paths"]
    for method, path in OPERATIONS:
        if path == "/static":
            continue  # files, not operations
        rule = RULES[(method, path)]
        item = paths[path]
        stated = item if method == WEBSOCKET else item[method.lower()]
        assert stated["x-roles"] == list(rule.roles), f"{method} {path}"
        assert rule.sentence in stated["description"], f"{method} {path}"


def test_a_route_without_a_rule_is_closed_to_all_but_admin() -> None:
    assert NO_RULE.roles == ("admin",) and not NO_RULE.public


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "operation", [op for op in OPERATIONS if op[0] != WEBSOCKET], ids=lambda op: " ".join(op)
)
def test_each_role_is_refused_or_let_through_as_documented(
    matrix_client: TestClient, tokens: dict[str, str], operation: tuple[str, str], caller: str
) -> None:
    method, path = operation
    url = concrete(path) + ("/app.css" if path == "/static" else "")
    body: dict[str, Any] = {} if method in ("GET", "DELETE") else {"json": {}}
    response = matrix_client.request(
        method, url, headers=headers_of(caller, tokens), follow_redirects=False, **body
    )

    assert refusal(response) == expected(RULES[operation], caller), response.text[:300]
    assert response.status_code < 500, response.text[:300]
    if refusal(response) == "unauthorized" and path.startswith("/api/"):
        assert response.status_code == 401
    if refusal(response) == "forbidden":
        assert response.status_code == 403


@pytest.mark.parametrize("caller", CALLERS)
def test_the_wall_feed_lets_in_the_roles_that_read(
    matrix_client: TestClient, tokens: dict[str, str], caller: str
) -> None:
    with matrix_client.websocket_connect(
        "/ws/realtime", headers=headers_of(caller, tokens)
    ) as socket:
        first = socket.receive_json()

    wanted = expected(RULES[(WEBSOCKET, "/ws/realtime")], caller)
    if wanted is None:
        assert first["type"] == "snapshot"
    else:
        assert first == {**first, "type": "error"} and first["error"]["code"] == wanted


def test_a_route_added_later_without_a_rule_lets_only_admin_in(
    matrix_platform: Platform, tokens: dict[str, str]
) -> None:
    async def secret_page(_request: Request) -> Response:
        return PlainTextResponse("inside")

    app = create_app(matrix_platform)
    app.router.routes.insert(0, Route("/api/forgotten", secret_page, methods=["GET"]))
    with TestClient(app) as client:
        answers = {
            caller: client.get("/api/forgotten", headers=headers_of(caller, tokens)).status_code
            for caller in CALLERS
        }

    assert answers == {**dict.fromkeys(ROLES, 403), "admin": 200, NOBODY: 401}
