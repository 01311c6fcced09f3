"""Link codes keyed by the store's secret link key (review finding 4), on SQLite and on
PostgreSQL: a code cannot be computed from what URLs, exports and logs show (the campaign's
id, the numbering), the key stays out of the events and the exports, and rotating it keeps
the links already sent working.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.dispatch import CODE_LENGTH, DIGITS, NUMBER_LENGTH, LinkCoder, encode_number
from domain.status import Status
from gateway.app import create_app
from gateway.cli import main
from infra.bootstrap import Platform, build
from infra.settings import Settings
from tests.credentials import ADMIN_HEADERS
from tests.integration.test_cli import point_at
from tests.integration.test_export_import import empty_store as empty_store  # a fixture
from tests.integration.test_sending_engine import (
    OPTOUT,
    SHORT,
    TEXT,
    add_configured,
    contact_list,
    drive,
    new_campaign,
)

TARGET = "https://shop.example.com/spring"
QUIET = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}


@pytest.fixture
def sending(store: Settings) -> Iterator[Platform]:
    platform = build(store)
    platform.sending.carrier.delay_scale = 0
    platform.app.change_stream("demo", QUIET, actor="alice")
    try:
        yield platform
    finally:
        platform.close()


def number_of(code: str) -> int:
    number = 0
    for digit in code[:NUMBER_LENGTH]:
        number = number * 64 + DIGITS.index(digit)
    return number


def codes_from_campaign_id(campaign_id: str, number: int) -> tuple[str, str]:
    """What anyone who knew a campaign's id could compute before: the codes of message
    `number` with the MAC keyed by the campaign's id."""
    hasher = hashlib.blake2b(key=campaign_id.encode()[:64], digest_size=8)
    hasher.update(number.to_bytes(8, "big"))
    mac = int.from_bytes(hasher.digest(), "big")
    mask = 2**30 - 1
    prefix = encode_number(number)
    return prefix + encode_number(mac & mask), prefix + encode_number((mac >> 30) & mask)


def sent_codes(platform: Platform, campaign_id: uuid.UUID) -> list[tuple[str, str]]:
    """(short link code, opt-out link code) of each message of the campaign, in order."""
    with platform.database.read() as cursor:
        cursor.execute(
            "SELECT id, optout_code FROM messages WHERE campaign_id = ? ORDER BY seq",
            (str(campaign_id),),
        )
        return [(str(row[0]), str(row[1])) for row in cursor.fetchall()]


def send(platform: Platform, recipients: int, start: int = 0) -> tuple[uuid.UUID, list[Any]]:
    campaign = new_campaign(platform, [contact_list(platform, recipients, start=start)])
    drive(platform, campaign.id, Status.FINISHED)
    return campaign.id, sent_codes(platform, campaign.id)


def spellings(secret: bytes) -> list[str]:
    """The ways a key could be written into text."""
    return [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]


def test_link_codes_cannot_be_computed_from_the_campaign_id(sending: Platform) -> None:
    # Review finding 4: the MAC was keyed by the campaign's id, which every URL, export and
    # log shows; with a computed opt-out code, `POST /o/{code}` opted a stranger out.
    add_configured(sending, SHORT, OPTOUT)
    campaign_id, codes = send(sending, 20)

    assert len(codes) == 20
    for short, optout in codes:
        guessed = codes_from_campaign_id(str(campaign_id), number_of(short))
        assert short[:NUMBER_LENGTH] == guessed[0][:NUMBER_LENGTH]  # the numbering is public
        assert short != guessed[0] and optout != guessed[1]


def test_two_stores_make_different_codes_for_the_same_campaign_and_number(
    store: Settings,
    empty_store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with build(store) as platform:
        add_configured(platform, SHORT, OPTOUT)
        campaign = platform.app.create_campaign(
            {
                "name": "Twins",
                "sender": "Shop",
                "variants": [{"text": TEXT}],
                "links": {
                    "short": {"target": TARGET, "domains": [SHORT]},
                    "optout": {"domains": [OPTOUT]},
                },
            },
            actor="alice",
        )
    exported = tmp_path / "events.ndjson"
    assert main(["export", "--output", str(exported), *point_at(store, monkeypatch)]) == 0
    assert main(["import", str(exported), *point_at(empty_store, monkeypatch)]) == 0

    codes = []
    for settings in (store, empty_store):  # the same campaign id in both stores
        with build(settings) as platform:
            platform.sending.carrier.delay_scale = 0
            lists = [contact_list(platform, 3)]
            platform.app.edit_campaign(campaign.id, {"contact_lists": lists}, actor="alice")
            platform.app.change_campaign_status(campaign.id, "launch", actor="alice")
            drive(platform, campaign.id, Status.FINISHED)
            codes.append(sent_codes(platform, campaign.id))

    mine, theirs = codes
    assert len(mine) == len(theirs) == 3
    for (short, optout), (other_short, other_optout) in zip(mine, theirs, strict=True):
        assert short[:NUMBER_LENGTH] == other_short[:NUMBER_LENGTH]  # the same number
        assert short != other_short and optout != other_optout


def test_the_link_key_is_in_no_event_and_no_export(
    sending: Platform,
    store: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    send(sending, 5)
    sending.sending.link_keys.rotate()
    send(sending, 5, start=5)
    secrets = [key.secret for key in sending.sending.link_keys.every_key()]
    with TestClient(create_app(sending), headers=ADMIN_HEADERS) as client:
        served = client.get("/api/events", params={"limit": 100_000})
    options = point_at(store, monkeypatch)
    ndjson, csv = tmp_path / "events.ndjson", tmp_path / "events.csv"
    assert main(["export", "--output", str(ndjson), *options]) == 0
    assert main(["export", "--format", "csv", "--output", str(csv), *options]) == 0

    texts = [served.text, ndjson.read_text(), csv.read_text()]
    assert served.status_code == 200
    assert len(secrets) == 2 and all(len(secret) == 32 for secret in secrets)
    assert all("DispatchLog.BatchRecorded" in text for text in texts)  # the sending is there
    for secret in secrets:
        for spelling in spellings(secret):
            assert not any(spelling in text for text in texts)


def test_rotating_the_link_key_keeps_the_links_already_sent_working(
    sending: Platform,
    store: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    first = sending.sending.link_keys.current()
    _before, old_codes = send(sending, 4)

    assert main(["link-key", "rotate", *point_at(store, monkeypatch)]) == 0
    rotated = capsys.readouterr().out
    assert main(["link-key", "list", *point_at(store, monkeypatch)]) == 0
    listed = capsys.readouterr().out
    _after, new_codes = send(sending, 4, start=4)
    second = sending.sending.link_keys.current()

    assert second.id != first.id and second.secret != first.secret
    assert f"link key {second.id}" in rotated
    assert str(first.id) in listed and str(second.id) in listed
    for secret in (first.secret, second.secret):
        assert not any(spelling in rotated + listed for spelling in spellings(secret))
    # Codes made before the rotation with the first key, after it with the second.
    for (short, optout), key in [(c, first) for c in old_codes] + [(c, second) for c in new_codes]:
        assert LinkCoder(key.secret).codes(number_of(short)) == (short, optout)

    short, optout = old_codes[1]
    with TestClient(create_app(sending), headers=ADMIN_HEADERS) as client:
        clicked = client.get(f"/s/{short}", follow_redirects=False)
        asked = client.get(f"/o/{optout}")
        opted_out = client.post(f"/o/{optout}")
    assert clicked.status_code == 302 and clicked.headers["location"] == TARGET
    assert asked.status_code == 200 and "Stop messages from Shop?" in asked.text
    assert opted_out.status_code == 200 and "no more messages from Shop" in opted_out.text
    assert sending.sending.activity.engagement.opted_out(["+447700900001"])


def test_link_codes_keep_their_length(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    _campaign, codes = send(sending, 10)
    sending.sending.link_keys.rotate()
    _campaign, more = send(sending, 10, start=10)

    assert CODE_LENGTH == 10
    assert {len(code) for pair in codes + more for code in pair} == {CODE_LENGTH}
