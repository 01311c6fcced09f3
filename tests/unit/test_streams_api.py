"""Sending streams through the gateway: each carrier's settings (secrets write-only), the
carrier link as answers show it, an HTTP carrier's signed receipts, and the Streams page.

The gateway runs over an in-memory event store and a SQLite file for the read models (the
carrier log, leases, tokens); the activity store is a recorder of the receipts applied."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from starlette.testclient import TestClient

from domain.application import CampaignPlatform
from domain.fields import Invalid, format_time
from domain.stream import CARRIER_SETTINGS, CARRIERS, receipt_signature
from gateway.app import create_app
from gateway.carrier_settings import SETTINGS
from gateway.openapi import openapi_document
from gateway.schemas.stream_answers import Stream
from gateway.services import Services
from infra.feed import read_messages
from projections.activity import Receipt
from projections.carrier_log import Answer, CarrierLog, LinkState
from projections.database import SQLiteDatabase
from projections.leases import Lease, StreamLeases
from projections.messages import EventMessage
from projections.tokens import TokenStore

SECRET = "s3cret!"
SIGNING_SECRET = "sign-me-please"
SMPP = {"host": "smsc.example.com", "system_id": "shop", "password": SECRET}


class QuietFeed:
    """The wall's feed: nothing to say in these tests."""

    def start(self, deliver: Any, reset: Any) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class ReceiptRecorder:
    """The activity store's receipts side: remembers what it was asked to apply."""

    applied: list[Receipt] = field(default_factory=list)

    @property
    def receipts(self) -> ReceiptRecorder:
        """Where the gateway applies receipts, as on the platform's activity."""
        return self

    def apply_receipts(self, receipts: Sequence[Receipt]) -> int:
        self.applied += receipts
        return len(receipts)


class StreamPlatform:
    """What the gateway needs for streams, over in-memory events and a SQLite file."""

    def __init__(self, directory: Path) -> None:
        self.app = CampaignPlatform(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.app.ensure_demo_stream()
        self.database = SQLiteDatabase(directory / "read_models.sqlite3")
        self.tokens = TokenStore(self.database)
        self.tokens.create_tables()
        self.leases = StreamLeases(self.database)
        self.leases.create_tables()
        self.log = CarrierLog(self.database)
        self.log.create_tables()
        self.app.keep_secrets = lambda stream, secrets: self.log.keep_secrets(
            stream, secrets, datetime.now(UTC)
        )
        self.activity = ReceiptRecorder()

    def realtime_feed(self) -> QuietFeed:
        return QuietFeed()

    def stream_leases(self) -> dict[str, Lease]:
        return self.leases.leases()

    def stream_links(self) -> dict[str, LinkState]:
        return self.log.links()

    def carrier_log(self) -> CarrierLog:
        return self.log

    def read_events(self, after: int, limit: int) -> list[EventMessage]:
        return read_messages(self.app, after, limit)

    def waiting_receipts(self) -> int:
        with self.database.read() as cursor:
            cursor.execute("SELECT COUNT(*) FROM carrier_receipts_waiting")
            row = cursor.fetchone()
        return int(row[0]) if row else 0


@pytest.fixture
def platform(tmp_path: Path) -> StreamPlatform:
    return StreamPlatform(tmp_path)


@pytest.fixture
def tokens(platform: StreamPlatform) -> dict[str, str]:
    names = {"admin": "Ada Admin", "manager": "Mia Manager", "viewer": "Vic Viewer"}
    return {role: platform.tokens.create(name, role)[1] for role, name in names.items()}


@pytest.fixture
def client(platform: StreamPlatform, tokens: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(cast(Services, platform))
    with TestClient(app, headers=bearer(tokens["manager"])) as test_client:
        yield test_client


@pytest.fixture
def carrier(platform: StreamPlatform) -> Iterator[TestClient]:
    """A carrier's machine: no token, its signature is its proof."""
    with TestClient(create_app(cast(Services, platform))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problems_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    return list(error["details"])


def declared(stream: Any) -> dict[str, Any]:
    """A stream as answered, once checked against its declaration."""
    msgspec.convert(stream, Stream)
    return dict(stream)


def add_smpp(client: TestClient, name: str = "smsc", **settings: Any) -> dict[str, Any]:
    body = {"name": name, "carrier": "smpp", "rate": 50, "settings": {**SMPP, **settings}}
    response = client.post("/api/streams", json=body)
    assert response.status_code == 201, response.text
    return declared(response.json())


def add_http(client: TestClient, name: str = "carrier") -> dict[str, Any]:
    settings = {"url": "https://api.carrier.example/sms", "signing_secret": SIGNING_SECRET}
    response = client.post(
        "/api/streams", json={"name": name, "carrier": "http", "settings": settings}
    )
    assert response.status_code == 201, response.text
    return declared(response.json())


def listed(client: TestClient, name: str) -> dict[str, Any]:
    items = client.get("/api/streams").json()["items"]
    return declared(next(s for s in items if s["name"] == name))


def events_text(client: TestClient, admin: str) -> str:
    response = client.get("/api/events", headers=bearer(admin))
    assert response.status_code == 200
    return response.text


def events_of(client: TestClient, admin: str, kind: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in events_text(client, admin).splitlines()]
    return [line for line in lines if line["type"].endswith(kind)]


# Adding streams.


def test_an_smpp_stream_is_added_with_its_settings_and_without_its_password(
    client: TestClient,
) -> None:
    stream = add_smpp(client, window=20)

    assert stream["carrier"] == "smpp" and stream["rate"] == 50 and stream["enabled"]
    assert stream["settings"] == {
        "host": "smsc.example.com",
        "port": 2775,
        "system_id": "shop",
        "system_type": "",
        "bind": "transceiver",
        "window": 20,
        "source_ton": 5,
        "source_npi": 0,
        "long_messages": "udh",
        "tls": False,
    }
    assert stream["secrets"] == ["password"]
    assert "demo" not in stream


def test_an_http_stream_is_added_with_its_signing_secret_kept_apart(
    client: TestClient, platform: StreamPlatform
) -> None:
    stream = add_http(client)

    assert stream["settings"] == {
        "url": "https://api.carrier.example/sms",
        "window": 4,
        "timeout": 10.0,
    }
    assert stream["secrets"] == ["signing_secret"]
    assert platform.log.secrets_of("carrier") == {"signing_secret": SIGNING_SECRET}


def test_the_demo_stream_shows_its_settings_and_keeps_its_demo_key(client: TestClient) -> None:
    demo = listed(client, "demo")

    assert demo["settings"] == demo["demo"]
    assert demo["settings"]["click_rate"] == 0.08
    assert demo["secrets"] == [] and demo["link"] is None


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"system_id": "shop"}, "host is required"),
        ({**SMPP, "window": 0}, "window must be"),
        ({**SMPP, "window": 1001}, "window must be"),
        ({**SMPP, "throughput": 5}, "unknown field 'throughput'"),
        ({**SMPP, "url": "https://api.example.com"}, "unknown field 'url'"),
        ({**SMPP, "bind": "receiver"}, "bind must be one of"),
        ({**SMPP, "password": "much too long"}, "password must be"),
        ("host=smsc", "must be an object"),
    ],
)
def test_bad_smpp_settings_are_refused_naming_settings(
    client: TestClient, platform: StreamPlatform, settings: Any, named: str
) -> None:
    response = client.post(
        "/api/streams", json={"name": "smsc", "carrier": "smpp", "settings": settings}
    )

    details = problems_of(response)
    assert [d["field"] for d in details] == ["settings"]
    assert named in details[0]["message"]
    assert SECRET not in response.text
    assert platform.app.find_stream("smsc") is None


def test_every_missing_setting_is_named_at_once(client: TestClient) -> None:
    response = client.post("/api/streams", json={"name": "web", "carrier": "http"})

    message = problems_of(response)[0]["message"]
    assert "url is required" in message and "signing_secret is required" in message


def test_an_unknown_carrier_is_refused_naming_the_carrier(client: TestClient) -> None:
    response = client.post("/api/streams", json={"name": "x", "carrier": "kannel"})

    assert [d["field"] for d in problems_of(response)] == ["carrier"]


# Changing streams.


def test_changing_the_window_and_password_records_who_changed_which_secret_but_no_value(
    client: TestClient, tokens: dict[str, str]
) -> None:
    add_smpp(client)

    response = client.patch(
        "/api/streams/smsc", json={"settings": {"window": 50, "password": "n3wpass"}}
    )

    assert response.status_code == 200, response.text
    stream = response.json()
    assert stream["settings"]["window"] == 50 and stream["secrets"] == ["password"]
    changed = events_of(client, tokens["admin"], "Stream.Changed")[-1]["data"]
    assert changed["actor"] == "Mia Manager"
    assert changed["reason"] == "secrets changed: password"
    assert changed["changes"] == {"options": {"window": 50}, "secrets": ["password"]}
    assert "n3wpass" not in events_text(client, tokens["admin"])


def test_a_secret_left_out_of_a_change_stays_as_it_is(
    client: TestClient, platform: StreamPlatform
) -> None:
    add_smpp(client)

    client.patch("/api/streams/smsc", json={"settings": {"port": 2776}})

    assert platform.log.secrets_of("smsc") == {"password": SECRET}
    assert listed(client, "smsc")["settings"]["port"] == 2776


def test_settings_of_another_carrier_are_refused_in_a_change(client: TestClient) -> None:
    add_smpp(client)

    response = client.patch("/api/streams/smsc", json={"settings": {"timeout": 5}})

    assert [d["field"] for d in problems_of(response)] == ["settings"]


def test_secrets_appear_in_no_answer_page_event_or_log_line(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        client.post(
            "/api/streams", json={"name": "smsc", "carrier": "smpp", "settings": SMPP}
        ).text,
        client.patch("/api/streams/smsc", json={"settings": {"password": SECRET}}).text,
        client.patch("/api/streams/smsc", json={"settings": {"password": SECRET * 2}}).text,
        client.get("/api/streams").text,
        client.get("/streams", headers=bearer(tokens["admin"])).text,
        events_text(client, tokens["admin"]),
        client.get("/openapi.json").text,
    ]

    assert all(SECRET not in text for text in answers)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


# The carrier link.


def report(platform: StreamPlatform, stream: str, state: str, age: float, **more: Any) -> None:
    updated = datetime.now(UTC) - timedelta(seconds=age)
    link = {
        "stream": stream,
        "process": "dispatch@host-1:42:ab12",
        "state": state,
        "error": None,
        "in_flight": 3,
        "window": 10,
        "per_second": 12.5,
        "last_receipt_at": None,
        "since": (updated - timedelta(minutes=5)).isoformat(),
        "updated_at": updated.isoformat(),
        **more,
    }
    platform.log.report_link(LinkState(**link))


def test_a_stream_no_process_reported_is_waiting_and_says_so(client: TestClient) -> None:
    stream = add_smpp(client)

    link = stream["link"]
    assert link["state"] == "waiting"
    assert link["error"].startswith("no sending process has reported this stream's link since ")
    assert link["in_flight"] == 0 and link["window"] == 10 and link["process"] is None


def test_a_reported_link_shows_its_state_and_figures(
    client: TestClient, platform: StreamPlatform
) -> None:
    add_smpp(client)
    receipt_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    report(platform, "smsc", "bound", age=1, last_receipt_at=receipt_at.isoformat())

    link = listed(client, "smsc")["link"]

    assert link["state"] == "bound" and link["error"] is None
    assert (link["in_flight"], link["window"], link["per_second"]) == (3, 10, 12.5)
    assert link["process"] == "dispatch@host-1:42:ab12"
    assert link["last_receipt_at"] == format_time(receipt_at)
    assert link["since"].endswith("Z")


def test_a_reconnecting_link_shows_its_error(client: TestClient, platform: StreamPlatform) -> None:
    add_smpp(client)
    report(platform, "smsc", "reconnecting", age=0, error="connection refused")

    link = listed(client, "smsc")["link"]

    assert (link["state"], link["error"]) == ("reconnecting", "connection refused")


def test_a_link_not_reported_for_ten_seconds_is_waiting_since_its_last_report(
    client: TestClient, platform: StreamPlatform
) -> None:
    add_smpp(client)
    report(platform, "smsc", "bound", age=30)

    link = listed(client, "smsc")["link"]

    assert link["state"] == "waiting" and link["process"] is None
    assert link["error"] == (
        f"no sending process has reported this stream's link since {link['since']}"
    )
    reported = datetime.fromisoformat(link["since"].replace("Z", "+00:00"))
    assert timedelta(seconds=25) < datetime.now(UTC) - reported < timedelta(seconds=40)


def test_a_disabled_stream_shows_its_link_disabled(
    client: TestClient, platform: StreamPlatform
) -> None:
    add_smpp(client)
    report(platform, "smsc", "bound", age=0)

    response = client.patch("/api/streams/smsc", json={"enabled": False})

    assert response.json()["link"]["state"] == "disabled"
    assert listed(client, "smsc")["link"]["state"] == "disabled"
    assert listed(client, "smsc")["link"]["error"] is None


# Signed receipts from an HTTP carrier.


def submitted(platform: StreamPlatform, stream: str, message_id: str, carrier_id: str) -> None:
    """A message the sending tier handed to the carrier, which answered with its id."""
    taken = platform.leases.acquire(stream, "dispatch@test", 30)
    assert taken is not None
    now = datetime.now(UTC)
    platform.log.submitting(taken.fence, [message_id], now)
    platform.log.answered(stream, [Answer(message_id, "accepted", carrier_id, None)], now)


def post_receipts(
    carrier: TestClient, stream: str, body: Any, signature: str | None = "sign"
) -> Any:
    raw = json.dumps(body).encode()
    headers = {b"content-type": b"application/json"}
    if signature == "sign":
        signature = receipt_signature(SIGNING_SECRET, raw)
    if signature is not None:
        headers[b"x-signature"] = signature.encode()  # as sent, whatever its characters
    return carrier.post(f"/api/streams/{stream}/receipts", content=raw, headers=headers)


def test_signed_receipts_are_matched_applied_or_kept_waiting(
    client: TestClient, carrier: TestClient, platform: StreamPlatform
) -> None:
    add_http(client)
    submitted(platform, "carrier", "message-1", "c-1")
    at = "2026-03-01T09:00:00Z"
    body = {
        "receipts": [
            {"id": "c-1", "status": "delivered", "at": at},
            {"id": "c-later", "status": "undelivered", "error": "absent subscriber"},
        ]
    }

    response = post_receipts(carrier, "carrier", body)

    assert response.status_code == 200, response.text
    assert response.json() == {"matched": 1, "waiting": 1, "applied": 1}
    assert platform.activity.applied == [
        Receipt("message-1", "delivered", datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    ]
    assert platform.waiting_receipts() == 1


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "sha1=abc", "sha256=ünïcode"],
    ids=["unsigned", "empty", "wrong", "other-scheme", "not-ascii"],
)
def test_receipts_without_a_good_signature_are_refused_and_nothing_is_written(
    client: TestClient, carrier: TestClient, platform: StreamPlatform, signature: str | None
) -> None:
    add_http(client)
    body = {"receipts": [{"id": "c-9", "status": "delivered"}]}

    response = post_receipts(carrier, "carrier", body, signature=signature)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert platform.activity.applied == [] and platform.waiting_receipts() == 0


def test_a_body_signed_with_another_secret_is_refused(
    client: TestClient, carrier: TestClient
) -> None:
    add_http(client)
    raw = json.dumps({"receipts": []}).encode()

    response = carrier.post(
        "/api/streams/carrier/receipts",
        content=raw,
        headers={"X-Signature": receipt_signature("not-the-secret", raw)},
    )

    assert response.status_code == 401


@pytest.mark.parametrize("stream", ["demo", "smsc", "nowhere"])
def test_receipts_for_a_stream_not_on_the_http_carrier_are_not_found(
    client: TestClient, carrier: TestClient, stream: str
) -> None:
    add_smpp(client)

    response = post_receipts(carrier, stream, {"receipts": []})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_signed_receipts_are_checked_all_before_any_is_taken(
    client: TestClient, carrier: TestClient, platform: StreamPlatform
) -> None:
    add_http(client)
    body = {
        "receipts": [
            {"id": "c-1", "status": "delivered"},
            {"id": "", "status": "read", "error": "x" * 201, "at": "yesterday", "extra": 1},
        ]
    }

    response = post_receipts(carrier, "carrier", body)

    fields = {d["field"] for d in problems_of(response)}
    assert fields == {
        "receipts[1].id",
        "receipts[1].status",
        "receipts[1].error",
        "receipts[1].at",
        "receipts[1].extra",
    }
    assert platform.waiting_receipts() == 0


# The Streams page.


def test_the_streams_page_shows_a_viewer_the_streams_without_forms(
    client: TestClient, platform: StreamPlatform, tokens: dict[str, str]
) -> None:
    add_smpp(client)
    report(platform, "smsc", "reconnecting", age=0, error="bind refused: ESME_RINVPASWD")

    response = client.get("/streams", headers=bearer(tokens["viewer"]))

    assert response.status_code == 200
    page = response.text
    assert 'id="stream-smsc"' in page and 'id="stream-demo"' in page
    assert "bind refused: ESME_RINVPASWD" in page and "3 / 10" in page
    assert 'href="/streams"' in page and "/static/streams.js" in page
    assert "add-stream-form" not in page and "edit-stream-form" not in page
    assert "data-edit=" not in page


def test_the_streams_page_offers_a_manager_the_forms_with_secrets_never_filled(
    client: TestClient,
) -> None:
    add_smpp(client)

    page = client.get("/streams").text

    assert 'id="add-stream-form"' in page and 'id="edit-stream-form"' in page
    for field_id in ("add-smpp-password", "edit-smpp-password", "add-http-signing_secret"):
        tag = re.search(f'<input[^>]*id="{field_id}"[^>]*>', page)
        assert tag is not None and 'type="password"' in tag[0] and "value=" not in tag[0]
    for key in CARRIER_SETTINGS["smpp"]:
        assert f'id="add-smpp-{key}"' in page
    for key in CARRIER_SETTINGS["http"]:
        assert f'id="add-http-{key}"' in page
    assert 'max="1000"' in page  # the SMPP window's range, as the parser has it


def test_the_streams_page_needs_a_sign_in(carrier: TestClient) -> None:
    response = carrier.get("/streams", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


# The settings' schemas hold to the parsers.


def boundary_values(schema: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Values the schema allows and values just past it."""
    kind = schema["type"]
    if "enum" in schema:
        return list(schema["enum"]), ["other", 1]
    if kind == "boolean":
        return [True, False], ["yes", 1]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        step = 1 if kind == "integer" else 0.01
        good = [v for v in (low, high) if v is not None] or [0, -5, 10**6]
        bad = [] if low is None else [low - step]
        bad += [] if high is None else [high + step]
        return good, [*bad, "7", True]
    return [], []


def longest_text(carrier: str, key: str, schema: dict[str, Any]) -> str:
    longest = int(schema["maxLength"])
    if key == "url":
        return "https://" + "a" * (longest - 8)
    return "a" * longest


@pytest.mark.parametrize("carrier", CARRIERS)
def test_each_carrier_schema_names_exactly_the_parsers_settings(carrier: str) -> None:
    assert list(SETTINGS[carrier]) == list(CARRIER_SETTINGS[carrier])


@pytest.mark.parametrize(
    ("carrier", "key"),
    [(c, k) for c in CARRIERS for k in CARRIER_SETTINGS[c] if k != "outcomes"],
)
def test_each_setting_schema_allows_what_its_parser_allows(carrier: str, key: str) -> None:
    schema, parse = SETTINGS[carrier][key], CARRIER_SETTINGS[carrier][key].parse
    good, bad = boundary_values(schema)
    if schema["type"] == "string" and "enum" not in schema:
        longest = longest_text(carrier, key, schema)
        good = [longest]
        bad = [longest + "a", 5]
        if schema.get("minLength", 0) >= 1:
            bad.append("")
        if schema.get("pattern") == "^[ -~]*$":
            bad.append("tab\there")
    for value in good:
        parse(value)
    for value in bad:
        with pytest.raises(Invalid):
            parse(value)


def test_the_openapi_document_describes_every_carriers_settings() -> None:
    schemas = openapi_document()["components"]["schemas"]
    smpp, http = schemas["SmppSettings"], schemas["HttpSettings"]

    assert schemas["StreamCreate"]["properties"]["carrier"]["enum"] == list(CARRIERS)
    assert smpp["required"] == ["host", "system_id"]
    assert http["required"] == ["url", "signing_secret"]
    assert (smpp["properties"]["window"]["minimum"], smpp["properties"]["window"]["maximum"]) == (
        1,
        1000,
    )
    assert http["properties"]["window"]["maximum"] == 100
    assert smpp["properties"]["bind"]["enum"] == ["transceiver", "transmitter_receiver"]
    assert smpp["properties"]["long_messages"]["enum"] == ["udh", "payload"]
    assert smpp["properties"]["password"]["writeOnly"] is True
    assert http["properties"]["signing_secret"]["writeOnly"] is True
    assert "password" not in schemas["SmppSettingsView"]["properties"]
    assert "required" not in schemas["SmppSettingsChange"]
    for name in ("settings", "secrets", "link"):
        assert name in schemas["Stream"]["required"]
    stream_settings = {
        option["$ref"].rsplit("/", 1)[1]
        for option in schemas["StreamChange"]["properties"]["settings"]["anyOf"]
    }
    assert stream_settings == {"DemoSettingsChange", "SmppSettingsChange", "HttpSettingsChange"}


def test_the_receipts_route_is_public_and_documented_as_signed() -> None:
    operation = openapi_document()["paths"]["/api/streams/{name}/receipts"]["post"]

    assert operation["security"] == []
    assert "signed with the stream's signing secret" in operation["description"]
    assert {"200", "401", "404", "422"} <= set(operation["responses"])
