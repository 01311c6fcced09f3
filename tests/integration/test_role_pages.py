"""The pages as each role receives them: only the controls its role may use are in the
HTML, and a page it may not open is a page saying so (403), not an error document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from domain.roles import PEOPLE
from gateway.app import create_app
from infra.bootstrap import Platform, build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

MANAGERS = ("manager", "admin")
AUDITORS = ("analyst", "support", "manager", "admin")
# What each page holds only for the roles that may use it.
COMMAND_MARKS = {
    "/campaigns": ('id="new-campaign"', 'href="/campaigns/new"', 'data-command="duplicate"'),
    "/domains": ('id="add-domains-form"', 'id="limit-form"', 'data-command="block"'),
    "/pools": ('id="create-pool-form"', 'class="add-domain"', "data-remove="),
    "/contact-lists": ('id="upload-form"',),
}


@pytest.fixture(scope="module")
def role_platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    folder: Path = tmp_path_factory.mktemp("roles")
    return build(Settings(data_dir=folder, sending=False, bootstrap_token=ADMIN_TOKEN))


@pytest.fixture(scope="module")
def app_client(role_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(role_platform, own_platform=True)) as client:
        for path, body in (
            ("/api/domains", {"names": ["go.example.com"]}),
            ("/api/domain-pools", {"name": "Main", "domains": ["go.example.com"]}),
            ("/api/campaigns", {"name": "Spring"}),
        ):
            assert client.post(path, json=body, headers=ADMIN_HEADERS).is_success
        yield client


@pytest.fixture(scope="module")
def tokens(role_platform: Platform) -> dict[str, str]:
    return {role: role_platform.tokens.create(f"the {role}", role)[1] for role in PEOPLE}


def page_for(client: TestClient, token: str, path: str) -> str:
    answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text[:300]
    return answer.text


@pytest.mark.parametrize("role", PEOPLE)
@pytest.mark.parametrize("path", list(COMMAND_MARKS))
def test_a_page_holds_the_commands_only_for_the_roles_that_may_use_them(
    app_client: TestClient, tokens: dict[str, str], role: str, path: str
) -> None:
    html = page_for(app_client, tokens[role], path)

    present = {mark: mark in html for mark in COMMAND_MARKS[path]}
    assert present == dict.fromkeys(COMMAND_MARKS[path], role in MANAGERS)


@pytest.mark.parametrize("role", PEOPLE)
def test_the_body_states_what_the_role_may_do_and_the_history_tab_follows(
    app_client: TestClient, tokens: dict[str, str], role: str
) -> None:
    html = page_for(app_client, tokens[role], "/campaigns")

    manage, audit = str(role in MANAGERS).lower(), str(role in AUDITORS).lower()
    assert f'data-role="{role}" data-may-manage="{manage}" data-may-audit="{audit}"' in html
    assert ('id="tab-button-history"' in html) == (role in AUDITORS)
    assert ('class="col-action"' in html) == (role in MANAGERS)


def test_a_signed_in_viewer_opening_the_wizard_gets_a_page_saying_it_is_not_for_them(
    app_client: TestClient, tokens: dict[str, str]
) -> None:
    app_client.get("/sign-in")
    csrf = app_client.cookies.get("campaigns_csrf", "")
    form = {"token": tokens["viewer"], "csrf_token": csrf}
    assert app_client.post("/sign-in", data=form, follow_redirects=False).status_code == 303
    try:
        refused = app_client.get("/campaigns/new")
        listed = app_client.get("/campaigns")
    finally:
        app_client.cookies.clear()

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Not for your role" in refused.text
    assert "the viewer role, which may not open this page" in refused.text
    assert "Access: roles manager, admin" in refused.text
    assert 'id="signed-in-as"' in refused.text  # the usual page, with its nav
    assert listed.status_code == 200


def test_a_script_with_a_viewer_token_gets_the_error_format_for_the_wizard(
    app_client: TestClient, tokens: dict[str, str]
) -> None:
    refused = app_client.get(
        "/campaigns/new", headers={"Authorization": f"Bearer {tokens['viewer']}"}
    )

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
