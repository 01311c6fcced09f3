"""Findings 3 and 13 of the review, through the gateway: a revoked bootstrap token stays
revoked across restarts, and the actor a token's changes record tells it from the platform
and from an earlier token of the same name."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.cli import main
from infra.bootstrap import build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_revoked_bootstrap_token_stays_revoked_after_a_restart(
    store: Settings, client: TestClient
) -> None:
    me = client.get("/api/tokens").json()["items"]
    (bootstrap,) = [token for token in me if token["name"] == "bootstrap"]
    assert client.delete(f"/api/tokens/{bootstrap['id']}").status_code == 200

    # The next start, with CAMPAIGNS_BOOTSTRAP_TOKEN unchanged.
    with TestClient(create_app(build(store), own_platform=True)) as restarted:
        answer = restarted.get("/api/campaigns", headers=ADMIN_HEADERS)

    assert answer.status_code == 401, answer.text


def test_the_history_tells_a_reused_token_name_from_the_revoked_one(client: TestClient) -> None:
    first = client.post("/api/tokens", json={"name": "Ann", "role": "manager"}).json()
    created = client.post(
        "/api/campaigns", json={"name": "Hers"}, headers=bearer(first["token"])
    ).json()
    client.delete(f"/api/tokens/{first['id']}")
    second = client.post("/api/tokens", json={"name": "Ann", "role": "manager"}).json()
    client.patch(
        f"/api/campaigns/{created['id']}", json={"tags": ["x"]}, headers=bearer(second["token"])
    )

    history = client.get(f"/api/campaigns/{created['id']}/history").json()

    assert [row["actor"] for row in history] == ["Ann", f"Ann#{second['id'][:8]}"]


def test_the_api_refuses_a_token_named_like_an_actor_of_the_platform(
    client: TestClient,
) -> None:
    for name in ("system", "demo", "anonymous", "bootstrap", "x#1a2b3c4d"):
        answer = client.post("/api/tokens", json={"name": name, "role": "admin"})

        assert answer.status_code == 422, name
        assert answer.json()["error"]["code"] == "validation_failed"


def test_the_cli_refuses_a_token_named_system(
    store: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("CAMPAIGNS_DATABASE_URL", "CAMPAIGNS_DATABASE_SCHEMA"):
        monkeypatch.delenv(key, raising=False)
    if store.postgres is not None:
        monkeypatch.setenv("CAMPAIGNS_DATABASE_URL", store.postgres.url)
        monkeypatch.setenv("CAMPAIGNS_DATABASE_SCHEMA", store.postgres.schema)
    options = ["--data-dir", str(store.data_dir)]

    code = main(["token", "create", "--role", "admin", "--name", "system", *options])

    assert code == 2 and "the platform's own actor" in capsys.readouterr().err
