"""Contact lists (F16) through the JSON API, on SQLite and on PostgreSQL: CSV uploads, raw or
multipart, imported whole or not at all."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

import gateway.contact_lists
import infra.contacts
from domain.errors import VersionConflict
from gateway.app import create_app
from gateway.schemas.contact_list_answers import ContactList, ContactListImport, ContactListList
from infra.bootstrap import Platform
from infra.contacts import ContactStore
from tests.credentials import ADMIN_HEADERS

from .scenarios import assert_error, stored_events

CSV = "text/csv"
SPRING = (
    "phone,First_Name,city\r\n"
    "+49 151 1234-5678,Ann,Berlin\r\n"
    "0151 1234567,Bob,Hamburg\r\n"
    "\r\n"
    "0044 20 7946 0018,Cy,London\r\n"
    "+4915112345678,Ann again,Bonn\r\n"
    "+4915112345679,Dee\r\n"
)


def upload(client: TestClient, text: str, query: str = "") -> Any:
    return client.post(
        f"/api/contact-lists{query}", content=text.encode(), headers={"content-type": CSV}
    )


def imported(client: TestClient, text: str, query: str = "") -> dict[str, Any]:
    response = upload(client, text, query)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    msgspec.convert(body, ContactListImport)  # the answer is what its declaration says
    return body


def contact_rows(platform: Platform) -> int:
    """Every contact row of every list."""
    with platform.contacts.reading() as cursor:
        cursor.execute("SELECT COUNT(*) FROM contacts")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+4915100{n:06d}" for n in range(start, start + count)]


def test_a_csv_body_becomes_a_list_of_normalised_numbers_with_placeholders(
    client: TestClient, platform: Platform
) -> None:
    body = imported(client, SPRING, "?name=Spring%20customers")

    assert body["name"] == "Spring customers"
    assert body["accepted"] == 2
    assert body["columns"] == ["first_name", "city"]
    assert body["duplicates"] == 1
    assert body["rejected_total"] == 3
    assert body["rejected"] == [
        {
            "line": 3,
            "value": "0151 1234567",
            "reason": "phone: no country code (write it as +<country code><number>)",
        },
        {"line": 6, "value": "+4915112345678", "reason": "duplicate of an earlier line"},
        {"line": 7, "value": "+4915112345679", "reason": "has 2 columns; the header has 3"},
    ]
    audience = list(platform.contacts.audience([body["id"]]))
    assert audience == [
        ("+442079460018", {"first_name": "Cy", "city": "London"}),
        ("+4915112345678", {"first_name": "Ann", "city": "Berlin"}),
    ]
    assert platform.contacts.count(body["id"]) == 2


def test_a_list_can_be_read_back_and_is_listed(client: TestClient) -> None:
    first = imported(client, "phone\n+4915112345678\n", "?name=First")
    second = imported(client, SPRING, "?name=Second")

    one = client.get(f"/api/contact-lists/{second['id']}")
    every = client.get("/api/contact-lists")

    assert one.status_code == 200, one.text
    msgspec.convert(one.json(), ContactList)
    msgspec.convert(every.json(), ContactListList)
    assert {k: one.json()[k] for k in ("id", "name", "accepted", "duplicates", "columns")} == {
        "id": second["id"],
        "name": "Second",
        "accepted": 2,
        "duplicates": 1,
        "columns": ["first_name", "city"],
    }
    assert one.json()["rejected_total"] == 3
    assert one.json()["created_at"].endswith("Z")
    assert [item["id"] for item in every.json()["items"]] == [second["id"], first["id"]]
    assert set(every.json()["items"][0]) >= {"id", "name", "accepted", "columns", "created_at"}


@pytest.mark.parametrize("list_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_list_is_not_found(client: TestClient, list_id: str) -> None:
    assert_error(client.get(f"/api/contact-lists/{list_id}"), 404, "not_found")


def test_a_multipart_upload_takes_the_file_and_a_name(client: TestClient) -> None:
    response = client.post(
        "/api/contact-lists",
        files={"file": ("spring.csv", SPRING.encode(), CSV)},
        data={"name": "From the form"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "From the form"
    assert response.json()["accepted"] == 2


def test_a_list_is_named_after_its_file_or_else_the_time(client: TestClient) -> None:
    by_file = client.post(
        "/api/contact-lists", files={"file": ("C:\\exports\\march.csv", SPRING.encode(), CSV)}
    )
    by_time = imported(client, SPRING)

    assert by_file.status_code == 201, by_file.text
    assert by_file.json()["name"] == "march.csv"
    assert by_time["name"].startswith("Contacts ") and by_time["name"].endswith(" UTC")


def test_a_multipart_upload_without_a_file_is_refused(
    client: TestClient, platform: Platform
) -> None:
    before = stored_events(platform)

    missing = client.post("/api/contact-lists", files={"name": (None, "x")})
    as_text = client.post("/api/contact-lists", files={"file": (None, "phone\n+4915112345678\n")})

    assert assert_error(missing, 422, "validation_failed")["details"][0]["field"] == "file"
    assert assert_error(as_text, 422, "validation_failed")["details"][0]["field"] == "file"
    assert stored_events(platform) == before


def test_a_body_that_is_neither_csv_nor_multipart_is_refused(client: TestClient) -> None:
    response = client.post("/api/contact-lists", json={"phone": "+4915112345678"})

    assert_error(response, 415, "unsupported_media_type")


def test_duplicates_are_found_across_batches(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra.contacts, "BATCH", 2)
    phones = numbers(5)
    lines = ["phone", *phones, phones[0], phones[3], phones[3], *numbers(2, 100), phones[1]]

    body = imported(client, "\n".join(lines) + "\n")

    assert body["accepted"] == 7
    assert body["duplicates"] == 4
    assert [(r["line"], r["value"]) for r in body["rejected"]] == [
        (7, phones[0]),
        (8, phones[3]),
        (9, phones[3]),
        (12, phones[1]),
    ]
    assert platform.contacts.count(body["id"]) == 7


def test_only_the_first_rejected_lines_are_listed_but_all_are_counted(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra.contacts, "MAX_REPORTED", 3)
    monkeypatch.setattr(infra.contacts, "BATCH", 2)
    text = "phone\n+4915112345678\n" + "bad\n" * 5 + "+4915112345678\n"

    body = imported(client, text)

    assert [r["line"] for r in body["rejected"]] == [3, 4, 5]
    assert body["rejected_total"] == 6
    assert body["duplicates"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "name,phone\n+4915112345678,Ann\n",
        "phone,short_url\n+4915112345678,x\n",
        "",
        "phone\n",
        "phone\n0151 1234567\nnot a number\n",
    ],
    ids=["phone-not-first", "reserved-column", "empty", "header-only", "nothing-usable"],
)
def test_a_file_that_makes_no_list_is_refused_and_writes_nothing(
    client: TestClient, platform: Platform, text: str
) -> None:
    before = stored_events(platform)

    error = assert_error(upload(client, text), 422, "validation_failed")

    assert error["details"]
    assert stored_events(platform) == before
    assert contact_rows(platform) == 0
    assert client.get("/api/contact-lists").json()["items"] == []


def test_a_file_with_no_usable_line_lists_each_rejection_in_the_details(client: TestClient) -> None:
    error = assert_error(upload(client, "phone\n0151 1234567\n"), 422, "validation_failed")

    assert error["details"] == [
        {
            "field": "line 2",
            "message": "phone: no country code (write it as +<country code><number>)",
            "line": 2,
            "value": "0151 1234567",
            "reason": "phone: no country code (write it as +<country code><number>)",
        }
    ]


def test_an_upload_over_the_limit_is_refused_and_writes_nothing(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.contact_lists, "MAX_UPLOAD", 1000)
    text = "phone\n" + "\n".join(numbers(100)) + "\n"
    before = stored_events(platform)

    declared = upload(client, text)
    streamed = client.post(
        "/api/contact-lists",
        content=iter([text.encode()[:600], text.encode()[600:]]),
        headers={"content-type": CSV},
    )
    multipart = client.post("/api/contact-lists", files={"file": ("big.csv", text.encode(), CSV)})

    assert_error(declared, 413, "payload_too_large")
    assert_error(streamed, 413, "payload_too_large")
    assert_error(multipart, 413, "payload_too_large")
    assert stored_events(platform) == before
    assert contact_rows(platform) == 0


def test_a_failure_in_the_middle_of_an_import_leaves_no_rows_and_no_event(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra.contacts, "BATCH", 2)
    written: list[bool] = []
    original = ContactStore.write_batch

    def fail_after_the_first_batch(self: ContactStore, *args: Any) -> None:
        if written:
            raise OSError("the disk is gone")
        original(self, *args)
        written.append(True)

    monkeypatch.setattr(ContactStore, "write_batch", fail_after_the_first_batch)
    with TestClient(
        create_app(platform, own_platform=True),
        raise_server_exceptions=False,
        headers=ADMIN_HEADERS,
    ) as client:
        before = stored_events(platform)

        response = upload(client, "phone\n" + "\n".join(numbers(6)) + "\n")

        assert_error(response, 500, "internal_error")
        assert written
        assert stored_events(platform) == before
        assert contact_rows(platform) == 0


def test_when_the_list_event_cannot_be_saved_its_rows_are_removed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the event store is gone")

    monkeypatch.setattr(platform.app, "save_with_catalogue", refuse)
    with TestClient(
        create_app(platform, own_platform=True),
        raise_server_exceptions=False,
        headers=ADMIN_HEADERS,
    ) as client:
        before = stored_events(platform)

        response = upload(client, SPRING)

        assert_error(response, 500, "internal_error")
        assert stored_events(platform) == before
        assert contact_rows(platform) == 0


def test_a_repeated_command_id_answers_the_first_import_and_imports_nothing(
    client: TestClient, platform: Platform
) -> None:
    first = imported(client, SPRING, "?command_id=import-1&name=First")
    events, rows = stored_events(platform), contact_rows(platform)

    again = imported(client, "phone\n+4915100000001\n", "?command_id=import-1&name=Other")
    other = imported(client, SPRING, "?command_id=import-2")

    assert again == first
    assert other["id"] != first["id"]
    assert contact_rows(platform) == rows + other["accepted"]
    assert stored_events(platform) > events
    assert [item["name"] for item in client.get("/api/contact-lists").json()["items"]].count(
        "First"
    ) == 1


def test_a_refused_import_can_be_retried_under_the_same_command_id(client: TestClient) -> None:
    assert_error(
        upload(client, "mobile\n+4915112345678\n", "?command_id=c1"), 422, "validation_failed"
    )

    body = imported(client, "phone\n+4915112345678\n", "?command_id=c1")

    assert body["accepted"] == 1


def test_the_audience_of_several_lists_has_each_number_once_from_the_first_list(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra.contacts, "PAGE", 2)  # several pages per list
    shared = numbers(3, 50)
    spring = imported(
        client,
        "phone,name\n" + "".join(f"{p},spring {i}\n" for i, p in enumerate([*numbers(3), *shared])),
    )
    summer = imported(
        client,
        "phone,name\n"
        + "".join(f"{p},summer {i}\n" for i, p in enumerate([*shared, *numbers(2, 90)])),
    )

    audience = list(platform.contacts.audience([spring["id"], summer["id"]]))
    reversed_audience = dict(platform.contacts.audience([summer["id"], spring["id"]]))

    phones = [phone for phone, _fields in audience]
    assert phones == sorted({*numbers(3), *shared, *numbers(2, 90)})
    assert len(phones) == len(set(phones)) == 8
    assert dict(audience)[shared[0]] == {"name": "spring 3"}
    assert reversed_audience[shared[0]] == {"name": "summer 0"}
    assert list(platform.contacts.audience([])) == []


@pytest.fixture
def store_only(platform: Platform) -> Iterator[Platform]:
    """The platform without its web app, closed afterwards."""
    with platform:
        yield platform


def test_two_imports_under_one_command_id_at_once_make_one_list(store_only: Platform) -> None:
    platform = store_only
    text = "phone\n" + "\n".join(numbers(3000)) + "\n"
    results: list[dict[str, Any]] = []

    def run() -> None:
        result = platform.contacts.import_stream(
            io.StringIO(text), "Twice", actor="alice", command_id="same"
        )
        results.append(result.to_json())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 2 and results[0] == results[1]
    assert contact_rows(platform) == 3000
    assert len(platform.app.catalogue_ids("contact_lists")) == 1


def test_an_import_that_wrote_its_rows_but_never_its_event_blocks_its_command_id(
    store_only: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = store_only
    monkeypatch.setattr(infra.contacts, "SETTLE_SECONDS", 0.2)
    monkeypatch.setattr(ContactStore, "register", lambda *_args, **_kwargs: None)  # a crash
    platform.contacts.import_stream(
        io.StringIO("phone\n+4915112345678\n"), "Lost", actor="alice", command_id="lost"
    )
    monkeypatch.undo()
    monkeypatch.setattr(infra.contacts, "SETTLE_SECONDS", 0.2)

    with pytest.raises(VersionConflict):
        platform.contacts.import_stream(
            io.StringIO("phone\n+4915112345678\n"), "Lost", actor="alice", command_id="lost"
        )


def test_a_csv_file_on_disk_is_imported_whatever_its_line_ends(
    store_only: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\xef\xbb\xbfphone,name\r\n+4915112345678,Ann\r+4915112345679,Bob\n")

    result = store_only.contacts.import_csv(path, "From disk", actor="alice")

    assert (result.accepted, result.columns, result.rejected) == (2, ["name"], [])
    assert dict(store_only.contacts.audience([result.list_id])) == {
        "+4915112345678": {"name": "Ann"},
        "+4915112345679": {"name": "Bob"},
    }
