"""Link codes keyed by the store's secret link key (review finding 4), and the keys' table."""

from __future__ import annotations

import secrets
from pathlib import Path

from domain.dispatch import CODE_LENGTH, NUMBER_LENGTH, LinkCoder, link_codes
from projections.database import SQLiteDatabase
from projections.link_keys import KEY_BYTES, LinkKeys

CAMPAIGN = "4f7d2a10-3c5e-4b8a-9e61-0d2c7b9a1e55"


def keys() -> LinkKeys:
    store = LinkKeys(SQLiteDatabase(Path(":memory:")))
    store.create_tables()
    return store


def test_codes_under_a_secret_key_are_not_the_codes_of_the_campaign_id() -> None:
    coder = LinkCoder(secrets.token_bytes(KEY_BYTES))
    for number in range(500):
        short, optout = coder.codes(number)
        from_the_id = link_codes(CAMPAIGN, number)
        assert short != from_the_id[0] and optout != from_the_id[1]


def test_two_keys_give_the_same_number_different_macs() -> None:
    mine = LinkCoder(secrets.token_bytes(KEY_BYTES)).codes(7)
    theirs = LinkCoder(secrets.token_bytes(KEY_BYTES)).codes(7)
    assert mine[0][:NUMBER_LENGTH] == theirs[0][:NUMBER_LENGTH]
    assert mine[0] != theirs[0] and mine[1] != theirs[1]


def test_codes_under_a_secret_key_keep_ten_characters() -> None:
    coder = LinkCoder(secrets.token_bytes(KEY_BYTES))
    for number in [*range(200), 64**5 - 1]:
        assert [len(code) for code in coder.codes(number)] == [CODE_LENGTH, CODE_LENGTH] == [10, 10]


def test_a_store_makes_its_first_link_key_once() -> None:
    store = keys()
    first = store.current()
    store.create_tables()  # every process start
    assert store.current() == first and store.every_key() == [first]
    assert first.id == 1 and len(first.secret) == KEY_BYTES


def test_two_stores_have_different_link_keys() -> None:
    assert keys().current().secret != keys().current().secret


def test_rotating_makes_a_new_key_current_and_keeps_the_old_ones() -> None:
    store = keys()
    first = store.current()
    second = store.rotate()
    assert (second.id, store.current()) == (2, second)
    assert second.secret != first.secret
    assert store.every_key() == [first, second]


def test_a_link_key_never_shows_its_secret() -> None:
    key = keys().current()
    assert key.secret.hex() not in repr(key) and key.secret.hex() not in str(key)
