"""Tokens, signing in, CSRF, the wall's WebSocket and the actor recorded: access control as
people and scripts meet it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import Platform, build
from infra.demo import demo_sign_in_token
from infra.settings import Settings
from projections.sign_in_failures import (
    FIRST_WAIT,
    FREE_FAILURES,
    LONGEST_WAIT,
    SignInFailures,
    wait_after,
)
from tests.credentials import ADMIN_HEADERS

ORIGIN = {"origin": "http://testserver"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_token(platform: Platform, role: str, name: str | None = None) -> str:
    return platform.tokens.create(name or f"a {role}", role)[1]


def sign_in(client: TestClient, secret: str, **form: str) -> Any:
    """Signs the client's cookie jar in through the form; returns the form's answer."""
    client.get("/sign-in")
    csrf = client.cookies.get("campaigns_csrf", "")
    return client.post(
        "/sign-in",
        data={"token": secret, "csrf_token": csrf, **form},
        follow_redirects=False,
    )


@pytest.fixture
def browser(platform: Platform) -> Any:
    """A client with no token of its own: a browser that signs in with cookies."""
    with TestClient(create_app(platform, own_platform=True)) as client:
        yield client


def test_without_a_token_the_api_answers_401_in_the_error_format(browser: TestClient) -> None:
    response = browser.get("/api/campaigns")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_unknown_or_malformed_token_is_401(browser: TestClient) -> None:
    for value in ("Bearer cmp_nonsense", "Basic dXNlcjpwYXNz", "Bearer", "Bearer  "):
        response = browser.get("/api/campaigns", headers={"Authorization": value})
        assert response.status_code == 401, value


def test_a_page_without_a_sign_in_redirects_to_the_sign_in_page(browser: TestClient) -> None:
    response = browser.get("/campaigns?status=Draft", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fcampaigns%3Fstatus%3DDraft"


def test_a_viewer_reads_but_may_not_command(platform: Platform, browser: TestClient) -> None:
    viewer = bearer(new_token(platform, "viewer"))

    assert browser.get("/api/campaigns", headers=viewer).status_code == 200
    refused = browser.post("/api/campaigns", json={"name": "No"}, headers=viewer)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_the_actor_in_the_history_is_the_tokens_name(
    platform: Platform, browser: TestClient
) -> None:
    manager = bearer(new_token(platform, "manager", "Ann Manager"))
    support = bearer(new_token(platform, "support", "Sam Support"))
    created = browser.post("/api/campaigns", json={"name": "Hers"}, headers=manager).json()
    browser.patch(f"/api/campaigns/{created['id']}", json={"tags": ["x"]}, headers=manager)

    history = browser.get(f"/api/campaigns/{created['id']}/history", headers=support).json()

    assert [row["actor"] for row in history] == ["Ann Manager", "Ann Manager"]


def test_signing_in_sets_an_httponly_lax_session_cookie_and_goes_to_next(
    platform: Platform, browser: TestClient
) -> None:
    answer = sign_in(browser, new_token(platform, "manager", "Mo"), next="/domains")

    assert answer.status_code == 303 and answer.headers["location"] == "/domains"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("campaigns_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session and "Secure" not in session
    page = browser.get("/domains")
    assert page.status_code == 200 and "Mo" in page.text and 'id="sign-out"' in page.text


def test_over_https_the_cookies_are_secure(platform: Platform) -> None:
    with TestClient(create_app(platform, own_platform=True), base_url="https://testserver") as c:
        answer = sign_in(c, new_token(platform, "viewer"))

    assert all("Secure" in cookie for cookie in answer.headers.get_list("set-cookie"))


def test_next_never_leads_to_another_site(platform: Platform, browser: TestClient) -> None:
    secret = new_token(platform, "viewer")
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        answer = sign_in(browser, secret, next=target)
        assert answer.headers["location"] == "/campaigns", target


def test_a_cookie_request_that_changes_something_needs_the_csrf_header(
    platform: Platform, browser: TestClient
) -> None:
    sign_in(browser, new_token(platform, "manager"))
    csrf = browser.cookies["campaigns_csrf"]

    without = browser.post("/api/campaigns", json={"name": "Forged"})
    wrong = browser.post("/api/campaigns", json={"name": "Forged"}, headers={"X-CSRF-Token": "x"})
    right = browser.post("/api/campaigns", json={"name": "Mine"}, headers={"X-CSRF-Token": csrf})

    assert without.status_code == 403 and without.json()["error"]["code"] == "forbidden"
    assert wrong.status_code == 403
    assert right.status_code == 201
    listed = browser.get("/api/campaigns").json()
    assert [item["name"] for item in listed["items"]] == ["Mine"]


def test_a_sign_in_form_without_its_csrf_field_is_refused(
    platform: Platform, browser: TestClient
) -> None:
    browser.get("/sign-in")
    answer = browser.post(
        "/sign-in", data={"token": new_token(platform, "viewer")}, follow_redirects=False
    )

    assert answer.status_code == 403
    assert "campaigns_session" not in browser.cookies


def test_repeated_failed_sign_ins_are_slowed_down(platform: Platform, browser: TestClient) -> None:
    now = [1000.0]
    platform.sign_in_failures = SignInFailures(platform.database, clock=lambda: now[0])
    secret = new_token(platform, "viewer")
    failures = [sign_in(browser, "cmp_wrong").status_code for _ in range(FREE_FAILURES)]

    refused = sign_in(browser, secret)  # even the right token waits its turn
    now[0] += FIRST_WAIT + 1
    later = sign_in(browser, secret)

    assert failures == [401] * FREE_FAILURES
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == FIRST_WAIT
    assert later.status_code == 303


def test_each_further_failure_doubles_the_wait_up_to_the_longest() -> None:
    assert wait_after(FREE_FAILURES - 1, 0.0, 0.0) == 0
    assert wait_after(FREE_FAILURES + 2, 0.0, 0.0) == FIRST_WAIT * 4
    assert wait_after(FREE_FAILURES + 20, 0.0, 1.0) == LONGEST_WAIT - 1
    assert wait_after(FREE_FAILURES, 100.0, 0.0) == FIRST_WAIT  # the clock stepped back


def test_signing_out_ends_the_session(platform: Platform, browser: TestClient) -> None:
    sign_in(browser, new_token(platform, "viewer"))
    session = browser.cookies["campaigns_session"]
    out = browser.post(
        "/sign-out", data={"csrf_token": browser.cookies["campaigns_csrf"]}, follow_redirects=False
    )

    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    browser.cookies.set("campaigns_session", session)  # a copy kept by someone
    assert browser.get("/campaigns", follow_redirects=False).status_code == 303


def test_a_machine_token_cannot_sign_in_to_the_pages(
    platform: Platform, browser: TestClient
) -> None:
    assert sign_in(browser, new_token(platform, "carrier")).status_code == 401


def test_a_revoked_token_stops_working_and_its_sign_ins_end(browser: TestClient) -> None:
    made = browser.post(
        "/api/tokens", json={"name": "Temp", "role": "manager"}, headers=ADMIN_HEADERS
    ).json()
    sign_in(browser, made["token"])
    assert browser.get("/campaigns", follow_redirects=False).status_code == 200

    revoked = browser.delete(f"/api/tokens/{made['id']}", headers=ADMIN_HEADERS)

    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert browser.get("/api/me", headers=bearer(made["token"])).status_code == 401
    assert browser.get("/campaigns", follow_redirects=False).status_code == 303


def test_me_says_who_the_caller_is(platform: Platform, browser: TestClient) -> None:
    answer = browser.get("/api/me", headers=bearer(new_token(platform, "analyst", "Ana")))

    assert answer.json() == {"name": "Ana", "role": "analyst", "signed_in": False}


def test_two_live_tokens_cannot_share_a_name(client: TestClient) -> None:
    assert client.post("/api/tokens", json={"name": "Zed", "role": "viewer"}).status_code == 201
    again = client.post("/api/tokens", json={"name": "Zed", "role": "admin"})

    assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"


def test_an_unknown_role_is_refused(client: TestClient) -> None:
    answer = client.post("/api/tokens", json={"name": "Who", "role": "root"})

    assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_failed"


# The wall's WebSocket.


def test_the_wall_without_a_token_is_refused_with_1008(browser: TestClient) -> None:
    with browser.websocket_connect("/ws/realtime") as socket:
        message = socket.receive_json()
        closing = socket.receive()

    assert message["type"] == "error" and message["error"]["code"] == "unauthorized"
    assert closing["type"] == "websocket.close" and closing["code"] == 1008


def test_the_wall_signed_in_by_cookie_needs_its_own_origin(
    platform: Platform, browser: TestClient
) -> None:
    sign_in(browser, new_token(platform, "viewer"))

    with browser.websocket_connect("/ws/realtime", headers=ORIGIN) as socket:
        same = socket.receive_json()
    with browser.websocket_connect(
        "/ws/realtime", headers={"origin": "https://evil.example"}
    ) as socket:
        foreign = socket.receive_json()
    with browser.websocket_connect("/ws/realtime") as socket:
        missing = socket.receive_json()

    assert same["type"] == "snapshot"
    assert foreign["type"] == "error" and foreign["error"]["code"] == "forbidden"
    assert missing["type"] == "error"


def test_the_wall_with_a_bearer_token_needs_no_origin(
    platform: Platform, browser: TestClient
) -> None:
    secret = new_token(platform, "viewer")
    with browser.websocket_connect(
        "/ws/realtime", headers={**bearer(secret), "origin": "https://kiosk.example"}
    ) as socket:
        assert socket.receive_json()["type"] == "snapshot"


# Storage.


def every_stored_byte(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def stored_text(platform: Platform) -> str:
    """Every row of the token tables, as text."""
    with platform.database.read() as cursor:
        cursor.execute("SELECT * FROM access_tokens")
        tokens = cursor.fetchall()
        cursor.execute("SELECT * FROM sign_in_sessions")
        sessions = cursor.fetchall()
    return repr(tokens) + repr(sessions)


def test_tokens_and_sessions_are_stored_as_digests_only(
    store: Settings, platform: Platform, browser: TestClient
) -> None:
    secret = new_token(platform, "manager", "Hashed")
    sign_in(browser, secret)
    session = browser.cookies["campaigns_session"]

    text = stored_text(platform)
    assert secret not in text and session not in text
    assert "Hashed" in text
    if store.postgres is None:  # every file of the SQLite store, write-ahead logs included
        raw = every_stored_byte(store.data_dir)
        assert secret.encode() not in raw and session.encode() not in raw


def test_the_bootstrap_token_is_an_admin_named_bootstrap_and_can_be_changed(
    store: Settings, client: TestClient
) -> None:
    assert client.get("/api/me").json() == {
        "name": "bootstrap",
        "role": "admin",
        "signed_in": False,
    }
    changed = store.with_changes(bootstrap_token="cmp_another-bootstrap-value")
    with build(changed) as again:
        old = again.tokens.find(str(store.bootstrap_token))
        new = again.tokens.find("cmp_another-bootstrap-value")

    assert old is None and new is not None and new.name == "bootstrap"


def test_the_demo_token_is_made_once_per_data_directory(platform: Platform) -> None:
    first = demo_sign_in_token(platform)
    second = demo_sign_in_token(platform)

    assert first == second
    found = platform.tokens.find(first)
    assert found is not None and found.role == "admin"
    token_file = platform.settings.data_dir / "demo-admin-token"
    assert token_file.stat().st_mode & 0o077 == 0


def test_an_oversized_or_overfull_sign_in_form_is_refused_without_a_server_error(
    browser: TestClient,
) -> None:
    browser.get("/sign-in")
    huge = browser.post("/sign-in", content=b"token=" + b"a" * 100_000)
    many = browser.post("/sign-in", content="&".join(f"f{n}=1" for n in range(50)).encode())

    assert huge.status_code == 413
    assert many.status_code == 403  # no field read, so no CSRF token either


def test_a_viewer_reads_no_full_phone_number_nor_working_link_in_the_message_log(
    platform: Platform, browser: TestClient
) -> None:
    """Finding 6: below support, numbers are masked and the links left out; support and
    up read them whole."""
    from domain.status import Status

    from .test_sending_engine import OPTOUT, SHORT, add_configured, contact_list, drive
    from .test_sending_engine import new_campaign as launched_campaign

    add_configured(platform, SHORT, OPTOUT)
    platform.sending.carrier.delay_scale = 0
    campaign = launched_campaign(platform, [contact_list(platform, 5)])
    drive(platform, campaign.id, Status.FINISHED)
    path = f"/api/campaigns/{campaign.id}/messages"
    for role in ("viewer", "analyst"):
        items = browser.get(path, headers=bearer(new_token(platform, role))).json()["items"]
        assert items and all(m["short_url"] is None and m["optout_url"] is None for m in items)
        assert all(m["recipient"].startswith("+44") and "•" in m["recipient"] for m in items)
        assert "+447700900001" not in str(items)
    for role in ("support", "manager", "admin"):
        items = browser.get(path, headers=bearer(new_token(platform, role))).json()["items"]
        assert {m["recipient"] for m in items} >= {"+447700900001"}
        assert all(m["short_url"] and m["optout_url"] for m in items)
