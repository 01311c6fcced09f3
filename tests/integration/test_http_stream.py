"""A campaign sent through an HTTP carrier (a local HTTP server) on SQLite and PostgreSQL:
created through the API, sent by the engine, throttled once, one number refused, and the
carrier's signed receipts applied through the stream's receipt endpoint."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.status import Status
from domain.stream import receipt_signature
from infra.bootstrap import Platform

from .test_sending_engine import OPTOUT, SHORT, add_configured, contact_list, drive, new_campaign

SECRET = "receipts-key-1"
REFUSED = "+447700900007"


class Carrier:
    """Takes each message as `c-<message id>`, but answers the first request 429 and
    refuses one number with 400; keeps what it took."""

    def __init__(self) -> None:
        self.taken: list[dict[str, Any]] = []
        self.requests = 0
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with carrier.lock:
                    carrier.requests += 1
                    carrier.tokens.add(self.headers.get("Authorization", ""))
                    if carrier.requests == 1:
                        status, answer = 429, {"error": "slow down"}
                    elif body["to"] == REFUSED:
                        status, answer = 400, {"error": "number barred"}
                    else:
                        carrier.taken.append(body)
                        status, answer = 200, {"id": f"c-{body['id']}"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def carrier() -> Iterator[Carrier]:
    made = Carrier()
    yield made
    made.close()


def signed(client: TestClient, receipts: list[dict[str, Any]], secret: str = SECRET) -> Any:
    body = json.dumps({"receipts": receipts}).encode()
    return client.post(
        "/api/streams/carrier-x/receipts",
        content=body,
        headers={"X-Signature": receipt_signature(secret, body)},
    )


def test_a_campaign_goes_out_over_an_http_carrier_and_its_signed_receipts_count(
    platform: Platform, client: TestClient, carrier: Carrier
) -> None:
    created = client.post(
        "/api/streams",
        json={
            "name": "carrier-x",
            "carrier": "http",
            "settings": {"url": carrier.url, "token": "tok-123", "signing_secret": SECRET},
        },
    )
    assert created.status_code == 201, created.text
    assert "tok-123" not in created.text and SECRET not in created.text
    add_configured(platform, SHORT, OPTOUT)
    campaign = new_campaign(platform, [contact_list(platform, 40)], stream="carrier-x")
    platform.sending.carrier.delay_scale = 0

    drive(platform, campaign.id, Status.FINISHED, steps=5000)

    assert carrier.tokens == {"Bearer tok-123"}
    phones = Counter(body["to"] for body in carrier.taken)
    assert len(phones) == 39 and set(phones.values()) == {1}  # one refused, none twice
    statuses = Counter(
        row[9] for row in platform.activity.messages.page(str(campaign.id), 1, 100)[0]
    )
    assert statuses == {"sent": 39, "rejected": 1}

    forged = signed(client, [{"id": "c-x", "status": "delivered"}], secret="guess")
    assert forged.status_code == 401
    answer = signed(
        client,
        [{"id": f"c-{body['id']}", "status": "delivered"} for body in carrier.taken[:30]]
        + [{"id": f"c-{body['id']}", "status": "undelivered"} for body in carrier.taken[30:]]
        + [{"id": "c-never-sent", "status": "delivered"}],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["matched"] == 39 and answer.json()["waiting"] == 1

    counters = platform.activity.stats.campaign_counters(str(campaign.id))
    assert (counters["delivered"], counters["undelivered"], counters["rejected"]) == (30, 9, 1)
    page = client.get(f"/api/campaigns/{campaign.id}/messages?per_page=100").json()
    refused = next(m for m in page["items"] if m["recipient"] == REFUSED)
    assert refused["status"] == "rejected" and "HTTP 400" in refused["carrier_error"]
