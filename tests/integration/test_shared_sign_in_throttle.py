"""Review finding 11 (issue 15): failed sign-ins are counted per visitor address in the
store, so every gateway refuses an address that failed at another; behind a proxy the
server trusts (CAMPAIGNS_FORWARDED_ALLOW_IPS) the address is the forwarded one, and a
forwarded address from anyone else is not believed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.app import create_app
from infra.bootstrap import Platform, build
from infra.settings import Settings
from projections.sign_in_failures import FIRST_WAIT, FORGET_AFTER, FREE_FAILURES, SignInFailures

PROXY = "127.0.0.1"  # the trusted proxy of the tests' settings (the default)
VISITOR = "203.0.113.7"
OTHER_VISITOR = "198.51.100.9"
STRANGER = "192.0.2.50"  # a peer that is no trusted proxy


def gateway(store: Settings, peer: str = PROXY) -> TestClient:
    """A gateway process of its own on the store, wrapped as `campaigns serve` has uvicorn
    wrap it (proxy headers from CAMPAIGNS_FORWARDED_ALLOW_IPS), reached from `peer`."""
    # Any: uvicorn and starlette each type an ASGI app their own way.
    app: Any = create_app(build(store), own_platform=True)
    proxied: Any = ProxyHeadersMiddleware(app, trusted_hosts=store.forwarded_allow_ips)
    return TestClient(proxied, client=(peer, 40000))


@pytest.fixture
def gateways(store: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    with gateway(store) as first, gateway(store) as second:
        yield first, second


def sign_in(client: TestClient, secret: str, forwarded_for: str) -> Any:
    """Posts the sign-in form as the proxy does for a visitor at `forwarded_for`."""
    headers = {"X-Forwarded-For": forwarded_for}
    client.get("/sign-in", headers=headers)
    csrf = client.cookies.get("campaigns_csrf", "")
    return client.post(
        "/sign-in",
        data={"token": secret, "csrf_token": csrf},
        headers=headers,
        follow_redirects=False,
    )


def viewer_token(client: TestClient, name: str = "Vic") -> str:
    platform: Platform = client.app.app.state.platform  # type: ignore[attr-defined]
    return platform.tokens.create(name, "viewer")[1]


def test_failures_at_one_gateway_make_another_refuse_that_visitor_only(
    gateways: tuple[TestClient, TestClient],
) -> None:
    first, second = gateways
    secret = viewer_token(first)
    failures = [sign_in(first, "cmp_wrong", VISITOR).status_code for _ in range(FREE_FAILURES)]

    refused = sign_in(second, secret, VISITOR)  # even the right token waits its turn
    other = sign_in(second, secret, OTHER_VISITOR)  # through the same proxy

    assert failures == [401] * FREE_FAILURES
    assert refused.status_code == 429, refused.text
    assert 0 < int(refused.headers["retry-after"]) <= FIRST_WAIT
    assert other.status_code == 303


def test_a_forwarded_address_from_an_untrusted_peer_is_not_the_key(store: Settings) -> None:
    with gateway(store, STRANGER) as first, gateway(store, STRANGER) as second:
        secret = viewer_token(first)
        for number in range(FREE_FAILURES):  # a new forged address each time
            assert sign_in(first, "cmp_wrong", f"203.0.113.{number}").status_code == 401

        refused = sign_in(second, secret, OTHER_VISITOR)

    assert refused.status_code == 429, refused.text


def test_a_sign_in_that_works_forgets_the_failures_at_every_gateway(
    gateways: tuple[TestClient, TestClient],
) -> None:
    first, second = gateways
    secret = viewer_token(first)
    for _ in range(FREE_FAILURES - 1):
        sign_in(first, "cmp_wrong", VISITOR)

    assert sign_in(second, secret, VISITOR).status_code == 303
    for _ in range(FREE_FAILURES - 1):
        sign_in(second, "cmp_wrong", VISITOR)
    assert sign_in(first, secret, VISITOR).status_code == 303


def test_failures_counted_at_once_by_two_gateways_all_count(store: Settings) -> None:
    def fail_ten_times(failures: SignInFailures) -> None:
        for _ in range(10):
            failures.failed(VISITOR)

    with build(store) as one, build(store) as other:
        threads = [
            threading.Thread(target=fail_ten_times, args=(platform.sign_in_failures,))
            for platform in (one, other, one, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        with one.database.read() as cursor:
            cursor.execute("SELECT failures FROM sign_in_failures WHERE address = ?", (VISITOR,))
            counted = cursor.fetchone()

    assert counted is not None and counted[0] == 40


def test_an_address_quiet_for_an_hour_starts_afresh_and_old_rows_go(store: Settings) -> None:
    now = [1_000_000.0]
    with build(store) as platform:
        failures = SignInFailures(platform.database, clock=lambda: now[0])
        for _ in range(FREE_FAILURES + 2):
            failures.failed(VISITOR)
        failures.failed(OTHER_VISITOR)
        waited = failures.wait(VISITOR)
        now[0] += FORGET_AFTER + 1
        after_an_hour = failures.wait(VISITOR)
        failures.failed(VISITOR)  # counts from one; the forgotten rows are deleted
        with platform.database.read() as cursor:
            cursor.execute("SELECT address, failures FROM sign_in_failures")
            rows = [tuple(row) for row in cursor.fetchall()]

    assert (waited, after_an_hour) == (FIRST_WAIT * 4, 0)
    assert rows == [(VISITOR, 1)]
