"""Review finding 10, "sockets outlive their access": an open wall or replay socket is closed
(an `error`, then 1008) once its token is revoked, its session signed out or expired, here
or on another gateway, within the authenticator's 5 s cache and a check."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import Platform
from tests.credentials import ADMIN_HEADERS
from tests.integration.test_access import ORIGIN, bearer, sign_in
from tests.integration.test_replay import stamp

WITHIN = 10.0  # seconds: the 5 s cache, a check a second, and room for a slow machine


@pytest.fixture
def gateway(platform: Platform) -> Iterator[TestClient]:
    """A client with no token of its own: each request says who it is."""
    with TestClient(create_app(platform, own_platform=True)) as client:
        yield client


def token_for(platform: Platform, role: str, name: str) -> tuple[str, str]:
    """A new token's id and secret."""
    token, secret = platform.tokens.create(name, role)
    return token.id, secret


def closing_of(socket: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages the server sends until it closes the socket (at most WITHIN seconds:
    the wall's heartbeats and a replay's end keep a socket that stays open from blocking)."""
    deadline = time.monotonic() + WITHIN
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        message = socket.receive()
        if message["type"] == "websocket.close":
            return seen, message
        seen.append(json.loads(message["text"]))
    pytest.fail(f"still open {WITHIN} s later; it sent {[m['type'] for m in seen]}")


def assert_closed_for_access(socket: Any) -> None:
    seen, closing = closing_of(socket)
    assert closing["code"] == 1008, (closing, seen)
    assert seen and seen[-1]["type"] == "error", seen
    assert seen[-1]["error"]["code"] == "unauthorized"


def replay_query() -> str:
    """Six seconds of history at real speed: the replay stays open for longer than a close
    for access here takes (and then ends, with 1000, were it not closed)."""
    start = datetime.now(UTC) - timedelta(minutes=1)
    return f"from={stamp(start)}&to={stamp(start + timedelta(seconds=6))}&speed=1"


def test_a_wall_socket_is_closed_when_its_token_is_revoked_through_the_api(
    platform: Platform, gateway: TestClient
) -> None:
    token_id, secret = token_for(platform, "viewer", "Kiosk")
    with gateway.websocket_connect("/ws/realtime", headers=bearer(secret)) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        revoked = gateway.delete(f"/api/tokens/{token_id}", headers=ADMIN_HEADERS)
        assert revoked.status_code == 200, revoked.text

        assert_closed_for_access(socket)


def test_a_wall_socket_is_closed_when_its_token_is_revoked_elsewhere(
    platform: Platform, gateway: TestClient
) -> None:
    _, secret = token_for(platform, "viewer", "Kiosk")
    with gateway.websocket_connect("/ws/realtime", headers=bearer(secret)) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        platform.tokens.revoke("Kiosk")  # as another gateway or the command line would

        assert_closed_for_access(socket)


def test_a_wall_socket_is_closed_when_its_session_signs_out(
    platform: Platform, gateway: TestClient
) -> None:
    sign_in(gateway, token_for(platform, "viewer", "Ann")[1])
    with gateway.websocket_connect("/ws/realtime", headers=ORIGIN) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        csrf = gateway.cookies.get("campaigns_csrf", "")
        gateway.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)

        assert_closed_for_access(socket)


def test_a_wall_socket_is_closed_when_its_session_expires(
    platform: Platform, gateway: TestClient
) -> None:
    sign_in(gateway, token_for(platform, "viewer", "Ann")[1])
    with gateway.websocket_connect("/ws/realtime", headers=ORIGIN) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        with platform.database.transaction() as cursor:
            cursor.execute(
                "UPDATE sign_in_sessions SET expires_at = ?", ("2000-01-01T00:00:00.000000Z",)
            )

        assert_closed_for_access(socket)


def test_a_wall_socket_with_a_live_token_stays_open(
    platform: Platform, gateway: TestClient
) -> None:
    _, secret = token_for(platform, "viewer", "Kiosk")
    with gateway.websocket_connect("/ws/realtime", headers=bearer(secret)) as socket:
        assert socket.receive_json()["type"] == "snapshot"
        platform.tokens.revoke(token_for(platform, "viewer", "Other")[0])

        assert socket.receive_json()["type"] == "heartbeat"  # 5 s on, after several checks


def test_a_replay_socket_is_closed_when_its_token_is_revoked(
    platform: Platform, gateway: TestClient
) -> None:
    token_id, secret = token_for(platform, "analyst", "Ana")
    with gateway.websocket_connect(f"/ws/replay?{replay_query()}", headers=bearer(secret)) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        revoked = gateway.delete(f"/api/tokens/{token_id}", headers=ADMIN_HEADERS)
        assert revoked.status_code == 200, revoked.text

        assert_closed_for_access(ws)


def test_a_replay_socket_is_closed_when_its_session_signs_out(
    platform: Platform, gateway: TestClient
) -> None:
    sign_in(gateway, token_for(platform, "analyst", "Ana")[1])
    with gateway.websocket_connect(f"/ws/replay?{replay_query()}", headers=ORIGIN) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        csrf = gateway.cookies.get("campaigns_csrf", "")
        gateway.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)

        assert_closed_for_access(ws)
