"""Bad input gets a 4xx in the contract's error format and leaves the store as it was.

Each test tries a family of bad inputs in turn (one platform per test keeps the suite fast on
PostgreSQL); every assertion names the case it was checking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from infra.bootstrap import Platform

from .scenarios import assert_error, campaign_in, create, stored_events

MiB = 1024 * 1024
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
JSON = {"content-type": "application/json"}


@pytest.fixture
def draft(client: TestClient) -> dict[str, Any]:
    return create(client, name="Existing draft", tags=["kept"])


class Store:
    """Checks that refused requests leave the store exactly as it was."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.before = stored_events(platform)

    def refused(self, response: Any, status: int, code: str, case: object = "") -> dict[str, Any]:
        error = assert_error(response, status, code, case)
        assert stored_events(self.platform) == self.before, f"{case}: the store changed"
        return error


@pytest.fixture
def store_kept(platform: Platform, draft: dict[str, Any]) -> Store:
    return Store(platform)


def fields_named(error: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in error["details"]]


def test_malformed_json_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    paths = [
        ("POST", "/api/campaigns"),
        ("PATCH", f"/api/campaigns/{draft['id']}"),
        ("POST", f"/api/campaigns/{draft['id']}/pause"),
        ("POST", f"/api/campaigns/{draft['id']}/duplicate"),
        ("POST", "/api/domains"),
        ("PUT", "/api/settings/domain-limit"),
        ("PATCH", "/api/streams/demo"),
    ]
    bodies = [b'{"name": ', b"{name: 'x'}", b"\xff\xfe\x00", b'{"name": "x"} trailing', b"{,}"]

    for method, path in paths:
        for body in bodies:
            response = client.request(method, path, content=body, headers=JSON)
            error = store_kept.refused(response, 400, "malformed_json", body)
            assert "JSON" in error["message"]


def test_json_nested_too_deeply_is_refused(client: TestClient, store_kept: Store) -> None:
    body = b'{"name": "x", "tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    response = client.post("/api/campaigns", content=body, headers=JSON)

    store_kept.refused(response, 400, "malformed_json")


def test_a_json_body_that_is_not_an_object_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for body in (b"[]", b'["name"]', b'"Spring sale"', b"42", b"null", b"true"):
        created = client.post("/api/campaigns", content=body, headers=JSON)
        edited = client.patch(f"/api/campaigns/{draft['id']}", content=body, headers=JSON)
        launched = client.post(f"/api/campaigns/{draft['id']}/launch", content=body, headers=JSON)
        for response in (created, edited, launched):
            error = store_kept.refused(response, 422, "validation_failed", body)
            assert "object" in error["message"]


def test_an_empty_body_where_one_is_required_is_refused(
    client: TestClient, store_kept: Store
) -> None:
    for body in (b"", b"  \n"):
        response = client.post("/api/campaigns", content=body, headers=JSON)
        store_kept.refused(response, 422, "validation_failed", body)


def test_an_unknown_field_is_refused_naming_it(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    cases = [
        ("POST", "/api/campaigns", {"name": "x", "colour": "red"}, ["colour"]),
        ("PATCH", f"/api/campaigns/{draft['id']}", {"status": "Finished"}, ["status"]),
        ("POST", f"/api/campaigns/{draft['id']}/launch", {"force": True}, ["force"]),
        ("POST", f"/api/campaigns/{draft['id']}/duplicate", {"name": "copy"}, ["name"]),
        ("POST", "/api/domains", {"names": ["a.example.com"], "status": "x"}, ["status"]),
        ("PUT", "/api/settings/domain-limit", {"limit": 5, "per": "day"}, ["per"]),
        ("PATCH", "/api/streams/demo", {"colour": "red"}, ["colour"]),
    ]

    for method, path, body, named in cases:
        response = client.request(method, path, json=body)
        error = store_kept.refused(response, 422, "validation_failed", body)
        assert fields_named(error) == named, (path, error)
    assert client.get(f"/api/campaigns/{draft['id']}").json() == draft


WRONG_FIELDS: list[tuple[str, Any]] = [
    ("name", 5),
    ("name", None),
    ("name", ["Spring"]),
    ("description", 12),
    ("tags", "spring"),
    ("tags", [1, 2]),
    ("tags", [""]),
    ("type", "sms"),
    ("type", None),
    ("stream", 3),
    ("stream", "nowhere"),
    ("sender", 123),
    ("contact_lists", ["not-a-uuid"]),
    ("contact_lists", "2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"),
    ("variants", {"text": "hi"}),
    ("variants", [{"text": ""}]),
    ("variants", [{"text": "Hi {first name}"}]),
    ("variants", [{"text": "hi", "colour": "red"}]),
    ("links", {"short": {"target": "not a url"}}),
    ("links", {"short": {"domains": ["unknown.example.com"]}}),
    ("links", {"long": {}}),
    ("start_at", "tomorrow"),
    ("start_at", "2999-01-01T09:00:00"),
    ("start_at", "9999-12-31T23:59:59-01:00"),
    ("start_at", "0001-01-01T00:00:00+01:00"),
    ("sending_schedule", {"days": ["someday"], "from": "09:00", "to": "20:00"}),
    ("sending_schedule", {"days": ["mon"], "from": "9am", "to": "20:00"}),
    ("sending_schedule", {"days": ["mon"], "from": "09:00", "to": "20:00", "time_zone": "Mars"}),
    ("pause_rules", [{"metric": "ctr"}]),
    ("pause_rules", [{"metric": "mood", "below": 1}]),
    ("pause_rules", [{"metric": "ctr", "below": -1}]),
    ("ctr_indicators", {"red_below": 5, "green_from": 1}),
    ("ctr_indicators", {"red_below": "low", "green_from": 4}),
]


def test_a_wrongly_typed_or_invalid_field_is_refused_naming_it(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for field, value in WRONG_FIELDS:
        case = f"{field}={value!r}"
        created = client.post("/api/campaigns", json={"name": "Valid name", field: value})
        edited = client.patch(f"/api/campaigns/{draft['id']}", json={field: value})

        for response in (created, edited):
            error = store_kept.refused(response, 422, "validation_failed", case)
            assert fields_named(error) == [field], (case, error)
            assert field in error["message"], (case, error)
    assert client.get(f"/api/campaigns/{draft['id']}").json() == draft


def test_every_problem_is_reported_at_once(client: TestClient, store_kept: Store) -> None:
    response = client.post("/api/campaigns", json={"name": "", "sender": "!", "colour": "red"})

    error = store_kept.refused(response, 422, "validation_failed")

    assert sorted(fields_named(error)) == ["colour", "name", "sender"]
    assert "(and 2 more)" in error["message"]


def test_a_missing_name_is_refused(client: TestClient, store_kept: Store) -> None:
    error = store_kept.refused(
        client.post("/api/campaigns", json={"tags": ["x"]}), 422, "validation_failed"
    )

    assert fields_named(error) == ["name"]


def test_a_name_that_is_empty_or_over_200_characters_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for name in ("", " ", "x" * 201, "Ü" * 201, "🚀" * 201):
        created = client.post("/api/campaigns", json={"name": name})
        edited = client.patch(f"/api/campaigns/{draft['id']}", json={"name": name})

        for response in (created, edited):
            error = store_kept.refused(response, 422, "validation_failed", f"{len(name)} chars")
            assert fields_named(error) == ["name"]


def test_a_bad_sender_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for sender in ("", "Shop Now", "Shop!", "TwelveLetter", "1234567890123456", "Shop\n", "Ünï"):
        created = client.post("/api/campaigns", json={"name": "x", "sender": sender})
        edited = client.patch(f"/api/campaigns/{draft['id']}", json={"sender": sender})

        for response in (created, edited):
            error = store_kept.refused(response, 422, "validation_failed", repr(sender))
            assert fields_named(error) == ["sender"]


def test_a_good_sender_is_accepted(client: TestClient) -> None:
    for sender in ("Shop", "ElevenChars", "+4915112345678", "12345"):
        assert create(client, name="x", sender=sender)["sender"] == sender


def test_a_variant_weight_that_is_not_a_positive_whole_number_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for weight in (0, -1, 1.5, 2.0, True, "3", None, 1_000_001):
        variants = [{"text": "Hi {short_url}", "weight": weight}]
        created = client.post("/api/campaigns", json={"name": "x", "variants": variants})
        edited = client.patch(f"/api/campaigns/{draft['id']}", json={"variants": variants})

        for response in (created, edited):
            error = store_kept.refused(response, 422, "validation_failed", f"weight {weight!r}")
            assert fields_named(error) == ["variants"]
            assert "weight" in error["message"]


def test_a_body_over_1_mib_is_refused_by_its_content_length(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    body = b'{"name": "' + b"x" * MiB + b'"}'

    created = client.post("/api/campaigns", content=body, headers=JSON)
    edited = client.patch(f"/api/campaigns/{draft['id']}", content=body, headers=JSON)
    domains = client.post("/api/domains", content=body, headers=JSON)

    for response in (created, edited, domains):
        assert int(response.request.headers["content-length"]) > MiB
        store_kept.refused(response, 413, "payload_too_large")


def test_a_streamed_body_over_1_mib_is_refused_without_a_content_length(
    client: TestClient, store_kept: Store
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            sent.append(64 * 1024)
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = client.post("/api/campaigns", content=chunks(), headers=JSON)

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert sum(sent) > MiB
    store_kept.refused(response, 413, "payload_too_large")


def test_a_large_body_within_1_mib_is_read_and_judged_on_its_content(
    client: TestClient, store_kept: Store
) -> None:
    body = b'{"name": "' + b"x" * (MiB - 100) + b'"}'

    response = client.post("/api/campaigns", content=body, headers=JSON)

    assert fields_named(store_kept.refused(response, 422, "validation_failed")) == ["name"]


def test_an_unknown_or_malformed_campaign_id_is_not_found(
    client: TestClient, store_kept: Store
) -> None:
    for campaign_id in (UNKNOWN_ID, "not-a-uuid", "1234", "%20"):
        base = f"/api/campaigns/{campaign_id}"
        for method, path, body in [
            ("GET", base, None),
            ("GET", f"{base}?version=1", None),
            ("GET", f"{base}/history", None),
            ("PATCH", base, {"name": "x"}),
            ("POST", f"{base}/launch", None),
            ("POST", f"{base}/pause", None),
            ("POST", f"{base}/resume", None),
            ("POST", f"{base}/abort", None),
            ("POST", f"{base}/unschedule", None),
            ("POST", f"{base}/duplicate", None),
        ]:
            response = client.request(method, path, json=body)
            error = store_kept.refused(response, 404, "not_found", campaign_id)
            assert "campaign" in error["message"], (method, path, error)


def test_an_illegal_transition_names_the_status_and_what_is_allowed(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    response = client.post(f"/api/campaigns/{draft['id']}/pause", json={"reason": "stop"})

    error = store_kept.refused(response, 409, "illegal_transition")

    assert "Draft" in error["message"]
    assert "Started, Sending" in error["message"]
    details = error["details"]
    assert details["status"] == "Draft"
    assert details["command"] == "pause"
    assert details["allowed_from"] == ["Started", "Sending"]
    assert "launch" in details["allowed_commands"] and "pause" not in details["allowed_commands"]


def test_a_stale_expected_version_is_a_version_conflict(
    client: TestClient, platform: Platform, draft: dict[str, Any]
) -> None:
    url = f"/api/campaigns/{draft['id']}"
    first = client.patch(url, json={"name": "First edit", "expected_version": 1})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    store = Store(platform)

    stale_edit = store.refused(
        client.patch(url, json={"name": "Stale edit", "expected_version": 1}),
        409,
        "version_conflict",
    )
    stale_launch = store.refused(
        client.post(f"{url}/launch", json={"expected_version": 1}), 409, "version_conflict"
    )
    future = store.refused(
        client.patch(url, json={"name": "x", "expected_version": 3}), 409, "version_conflict"
    )

    assert stale_edit["details"] == {"expected_version": 1, "version": 2}
    assert stale_launch["details"]["version"] == 2
    assert future["details"]["expected_version"] == 3
    assert client.get(url).json()["name"] == "First edit"
    current = client.patch(url, json={"name": "Second edit", "expected_version": 2})
    assert current.status_code == 200, current.text


def test_bad_command_options_are_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"expected_version": 0}, "expected_version"),
        ({"expected_version": -1}, "expected_version"),
        ({"expected_version": "2"}, "expected_version"),
        ({"expected_version": 1.5}, "expected_version"),
        ({"expected_version": True}, "expected_version"),
        ({"command_id": 5}, "command_id"),
        ({"command_id": ""}, "command_id"),
        ({"command_id": "x" * 201}, "command_id"),
        ({"reason": 5}, "reason"),
        ({"reason": "x" * 1001}, "reason"),
    ]

    for body, field in cases:
        for response in (
            client.post(f"/api/campaigns/{draft['id']}/abort", json=body),
            client.patch(f"/api/campaigns/{draft['id']}", json={"name": "x", **body}),
        ):
            error = store_kept.refused(response, 422, "validation_failed", body)
            assert fields_named(error) == [field], (body, error)


def test_an_unknown_route_is_not_found_in_the_error_format(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    for method, path in [
        ("GET", "/api/nothing"),
        ("POST", "/api/nothing"),
        ("GET", f"/api/campaigns/{draft['id']}/frobnicate/now"),
        ("POST", f"/api/campaigns/{draft['id']}/frobnicate"),
        ("GET", "/no-such-page"),
    ]:
        store_kept.refused(client.request(method, path), 404, "not_found")


def test_a_wrong_method_is_refused_in_the_error_format_with_the_allowed_methods(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    campaign = f"/api/campaigns/{draft['id']}"
    for method, path, allowed in [
        ("DELETE", "/api/campaigns", {"GET", "POST"}),
        ("PUT", "/api/campaigns", {"GET", "POST"}),
        ("DELETE", campaign, {"GET", "PATCH"}),
        ("PUT", campaign, {"GET", "PATCH"}),
        ("POST", campaign, {"GET", "PATCH"}),
        ("GET", f"{campaign}/pause", {"POST"}),
        ("GET", f"{campaign}/duplicate", {"POST"}),
        ("DELETE", "/api/domains", {"GET", "POST"}),
        ("GET", "/api/settings/domain-limit", {"PUT"}),
        ("DELETE", "/api/streams", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
    ]:
        response = client.request(method, path)

        store_kept.refused(response, 405, "method_not_allowed")
        listed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed <= listed <= allowed | {"HEAD"}, (method, path, listed)


def test_a_time_or_number_out_of_range_in_the_list_query_is_refused(client: TestClient) -> None:
    for query in (
        "?created_from=9999-12-31T23:59:59-01:00",
        "?created_to=0001-01-01T00:00:00%2B01:00",
        "?created_from=2026-13-01",
        "?page=99999999999999999999",
    ):
        assert_error(client.get(f"/api/campaigns{query}"), 422, "validation_failed", query)


def test_a_time_out_of_range_for_time_travel_is_refused(
    client: TestClient, draft: dict[str, Any]
) -> None:
    url = f"/api/campaigns/{draft['id']}"

    for as_of in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        assert_error(client.get(url, params={"as_of": as_of}), 422, "validation_failed", as_of)
    # A representable time before the campaign existed finds nothing.
    assert_error(client.get(url, params={"as_of": "0001-01-02T00:00:00Z"}), 404, "not_found")


def test_a_nul_character_in_a_text_is_refused_and_the_list_keeps_working(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    """PostgreSQL text cannot hold NUL: accepting one would wedge the read models there."""
    for body, field in [
        ({"name": "nul\x00inside"}, "name"),
        ({"name": "ok", "description": "\x00"}, "description"),
        ({"name": "ok", "tags": ["fine", "a\x00b"]}, "tags[1]"),
        ({"name": "ok", "reason": "why\x00"}, "reason"),
        ({"name": "ok", "command_id": "id-\x00"}, "command_id"),
    ]:
        error = store_kept.refused(
            client.post("/api/campaigns", json=body), 422, "validation_failed", field
        )
        assert fields_named(error) == [field]
    for path, body in [
        (f"/api/campaigns/{draft['id']}/pause", {"reason": "\x00"}),
        (f"/api/campaigns/{draft['id']}/duplicate", {"command_id": "\x00"}),
    ]:
        store_kept.refused(client.post(path, json=body), 422, "validation_failed", path)

    later = create(client, name="Created afterwards")
    listed = client.get("/api/campaigns").json()
    assert [item["id"] for item in listed["items"]] == [later["id"], draft["id"]]


def test_a_lone_surrogate_in_a_text_is_refused(
    client: TestClient, store_kept: Store, draft: dict[str, Any]
) -> None:
    """A `\\ud800` escape is valid JSON but no character: it cannot be stored as UTF-8."""
    for body, field in [
        (rb'{"name": "a\ud800b"}', "name"),
        (rb'{"name": "ok", "tags": ["fine", "\udfff"]}', "tags[1]"),
        (rb'{"name": "ok", "na\ud800me": 1}', "na\\ud800me"),
    ]:
        response = client.post("/api/campaigns", content=body, headers=JSON)
        error = store_kept.refused(response, 422, "validation_failed", body)
        assert fields_named(error) == [field]
    patched = client.patch(
        f"/api/campaigns/{draft['id']}", content=rb'{"description": "\ud83d"}', headers=JSON
    )
    store_kept.refused(patched, 422, "validation_failed")
    # A proper pair of surrogates is one character, and welcome.
    paired = client.post("/api/campaigns", content=rb'{"name": "\ud83d\ude80"}', headers=JSON)
    assert paired.status_code == 201, paired.text
    assert paired.json()["name"] == "\U0001f680"


def test_a_nul_character_in_a_list_filter_is_refused(client: TestClient) -> None:
    for query in ("?name=a%00b", "?tag=a%00b", "?stream=a%00b"):
        assert_error(client.get(f"/api/campaigns{query}"), 422, "validation_failed", query)


def test_a_live_edit_of_a_fixed_field_is_refused_without_writing(
    client: TestClient, platform: Platform
) -> None:
    campaign_id = campaign_in(client, platform, "Sending")
    store = Store(platform)

    error = store.refused(
        client.patch(f"/api/campaigns/{campaign_id}", json={"contact_lists": []}),
        409,
        "illegal_transition",
    )

    assert "Sending" in error["message"]
    assert error["details"]["fixed_fields"] == ["contact_lists"]
