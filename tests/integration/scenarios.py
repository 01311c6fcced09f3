"""What the integration tests share: the error format, counting stored events, and campaigns
brought to any status the way the API and the sending engine would bring them there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from domain.campaign import Campaign
from infra.bootstrap import Platform

LIST_ID = "2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"
FUTURE = "2999-01-01T09:00:00Z"
LINK_DOMAINS = ("go.example.com", "out.example.com")


def stored_events(platform: Platform) -> int:
    """How many events the store holds: the position of the last one."""
    return platform.app.recorder.max_notification_id() or 0


def assert_error(response: Any, status: int, code: str, case: object = "") -> dict[str, Any]:
    """Checks the contract's error format and returns the error object."""
    where = f"{response.request.method} {response.request.url.path} {case}".strip()
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error"}, f"{where}: {body}"
    error = body["error"]
    assert error["code"] == code, f"{where}: {error}"
    assert isinstance(error["message"], str) and error["message"], f"{where}: {error}"
    return dict(error)


def complete_fields(**changes: Any) -> dict[str, Any]:
    """Every wizard step filled in: a campaign with these fields can launch."""
    fields: dict[str, Any] = {
        "name": "Spring sale",
        "description": "Twenty percent off",
        "tags": ["spring"],
        "type": "outbound",
        "stream": "demo",
        "sender": "Shop",
        "contact_lists": [LIST_ID],
        "variants": [
            {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3},
            {"text": "Sale now on {short_url} Stop: {optout_url}", "weight": 1},
        ],
        "links": {
            "short": {"target": "https://shop.example.com/spring", "domains": ["go.example.com"]},
            "optout": {"domains": ["out.example.com"]},
        },
    }
    fields.update(changes)
    return fields


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/campaigns", json=fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add_link_domains(client: TestClient) -> None:
    """Adds (as Pending) the domains `complete_fields` links name: links name known domains."""
    response = client.post("/api/domains", json={"names": list(LINK_DOMAINS)})
    assert response.status_code in (200, 201), response.text


def create_complete(client: TestClient, **changes: Any) -> dict[str, Any]:
    """A Draft with every wizard step done, its link domains added first."""
    add_link_domains(client)
    return create(client, **complete_fields(**changes))


def launched(client: TestClient, **changes: Any) -> dict[str, Any]:
    """A complete campaign, launched through the API: Processing."""
    campaign = create_complete(client, **changes)
    response = client.post(f"/api/campaigns/{campaign['id']}/launch")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "Processing"
    return body


# What the sending engine does, in order, to bring a campaign to each status.
SYSTEM_STEPS: dict[str, tuple[str, ...]] = {
    "Processing": (),
    "Scheduled": ("prepare",),
    "Ready": ("prepare",),
    "Started": ("prepare", "start"),
    "Sending": ("prepare", "start", "begin_sending"),
    "Suspended": ("prepare", "start", "begin_sending", "suspend"),
    "Finished": ("prepare", "start", "begin_sending", "finish"),
    "Rejected": ("reject",),
}


def system_step(campaign: Campaign, step: str) -> None:
    now = datetime.now(UTC)
    if step == "prepare":
        campaign.prepare(12, now)
    elif step == "start":
        campaign.start("the demo stream took it")
    elif step == "begin_sending":
        campaign.begin_sending("inside the sending window")
    elif step == "suspend":
        campaign.suspend(
            "auto-pause: CTR 0.5% below 1.5% after 200 delivered",
            {"kind": "rule", "metric": "ctr", "value": 0.5, "below": 1.5, "after": 200},
        )
    elif step == "finish":
        campaign.finish("every recipient attempted")
    elif step == "reject":
        campaign.reject("no usable recipient after suppression")
    else:
        raise AssertionError(f"no system step {step!r}")


def drive(platform: Platform, campaign_id: str, *steps: str) -> None:
    """Runs system transitions on a campaign through the application, as the engine would."""
    campaign = platform.app.get_campaign(uuid.UUID(campaign_id))
    for step in steps:
        system_step(campaign, step)
    platform.app.save(campaign)


def campaign_in(client: TestClient, platform: Platform, status: str, **changes: Any) -> str:
    """The id of a launched campaign brought to `status` by the system's transitions."""
    if status == "Scheduled":
        changes = {"start_at": FUTURE, **changes}
    campaign = launched(client, **changes)
    if status == "Paused":
        drive(platform, campaign["id"], *SYSTEM_STEPS["Sending"])
        response = client.post(f"/api/campaigns/{campaign['id']}/pause")
        assert response.status_code == 200, response.text
    else:
        drive(platform, campaign["id"], *SYSTEM_STEPS[status])
    current = client.get(f"/api/campaigns/{campaign['id']}").json()
    assert current["status"] == status, current
    return str(campaign["id"])


LIST_KEYS = (
    "id",
    "version",
    "name",
    "description",
    "status",
    "status_reason",
    "tags",
    "type",
    "stream",
    "sender",
    "created_at",
    "recipients",
    "cost",
    "ctr",
)


def assert_list_agrees_with_campaigns(client: TestClient) -> None:
    """Every row of the list (a read model) shows what its campaign (the aggregate) says."""
    rows = client.get("/api/campaigns?per_page=100").json()["items"]
    for row in rows:
        campaign = client.get(f"/api/campaigns/{row['id']}").json()
        mismatched = {k: (row[k], campaign[k]) for k in LIST_KEYS if row[k] != campaign[k]}
        assert not mismatched, f"{row['name']}: list vs campaign {mismatched}"
