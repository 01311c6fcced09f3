"""Data the browser journeys set up over the JSON API before they open a page."""

from __future__ import annotations

import time
from typing import Any

import httpx

SHORT, OPTOUT = "go.example.com", "out.example.com"
TARGET = "https://shop.example.com/spring"
TEXT = "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}"
# Every message delivered, no simulated clicks, opt-outs or replies.
QUIET = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def configured_domains(api: httpx.Client, *names: str) -> None:
    ok(api.post("/api/domains", json={"names": list(names)}))
    for name in names:
        ok(api.post(f"/api/domains/{name}/configure"))


def pool(api: httpx.Client, name: str, domains: list[str], description: str = "") -> str:
    answer = ok(
        api.post(
            "/api/domain-pools",
            json={"name": name, "description": description, "domains": domains},
        )
    )
    return str(answer["id"])


def contact_list(api: httpx.Client, size: int, name: str = "Customers") -> str:
    text = "phone,first_name\n" + "".join(f"+4915112345{n:03d},Person{n}\n" for n in range(size))
    answer = ok(
        api.post(
            "/api/contact-lists",
            params={"name": name},
            content=text.encode(),
            headers={"content-type": "text/csv"},
        )
    )
    return str(answer["id"])


def demo_stream(api: httpx.Client, **options: Any) -> None:
    ok(api.patch("/api/streams/demo", json={**QUIET, **options}))


def campaign(api: httpx.Client, lists: list[str], **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Spring sale",
        "sender": "Shop",
        "contact_lists": lists,
        "variants": [{"text": TEXT, "weight": 1}],
        "links": {"short": {"target": TARGET, "domains": [SHORT]}, "optout": {"domains": [OPTOUT]}},
        **changes,
    }
    answer: dict[str, Any] = ok(api.post("/api/campaigns", json=fields))
    return answer


def launched(api: httpx.Client, campaign_id: str, *statuses: str) -> dict[str, Any]:
    """Launches the campaign and waits until it reaches one of `statuses`."""
    ok(api.post(f"/api/campaigns/{campaign_id}/launch"))
    return reached(api, campaign_id, *statuses)


def reached(api: httpx.Client, campaign_id: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        found: dict[str, Any] = ok(api.get(f"/api/campaigns/{campaign_id}"))
        if found["status"] in statuses:
            return found
        assert time.monotonic() < deadline, f"still {found['status']}, not {statuses}"
        time.sleep(0.05)
