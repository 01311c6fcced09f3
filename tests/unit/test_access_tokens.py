"""The token store: the bootstrap token, token names, and the actor a token's changes record."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.errors import ValidationFailed
from projections.database import SQLiteDatabase
from projections.tokens import NameTaken, TokenStore

BOOTSTRAP_SECRET = "cmp_the-bootstrap-value"


@pytest.fixture
def tokens() -> TokenStore:
    store = TokenStore(SQLiteDatabase(Path(":memory:")))
    store.create_tables()
    return store


# Finding 3: a revoked bootstrap token comes back at the next start.


def test_a_revoked_bootstrap_token_stays_revoked_at_the_next_start(
    tokens: TokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    made = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)
    assert made is not None and tokens.find(BOOTSTRAP_SECRET) is not None
    tokens.revoke(made.id)

    with caplog.at_level(logging.WARNING):
        again = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)  # the next start, same variable

    assert tokens.find(BOOTSTRAP_SECRET) is None
    assert again is None
    assert [t.id for t in tokens.list_tokens(with_revoked=True)] == [made.id]
    assert "CAMPAIGNS_BOOTSTRAP_TOKEN" in caplog.text and "revoked" in caplog.text
    assert "new value" in caplog.text and BOOTSTRAP_SECRET not in caplog.text


def test_a_new_bootstrap_value_after_a_revocation_makes_a_new_admin(tokens: TokenStore) -> None:
    first = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)
    assert first is not None
    tokens.revoke(first.id)

    second = tokens.ensure_bootstrap("cmp_a-new-bootstrap-value")

    assert second is not None and second.id != first.id
    found = tokens.find("cmp_a-new-bootstrap-value")
    assert found is not None and found.role == "admin" and found.name == "bootstrap"
    assert tokens.find(BOOTSTRAP_SECRET) is None


def test_the_bootstrap_value_never_takes_over_another_tokens_secret(tokens: TokenStore) -> None:
    viewer, secret = tokens.create("Vic Viewer", "viewer")

    assert tokens.ensure_bootstrap(secret) is None

    found = tokens.find(secret)
    assert found is not None and (found.id, found.role) == (viewer.id, "viewer")


def test_an_unchanged_bootstrap_value_keeps_its_token(tokens: TokenStore) -> None:
    first = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)
    again = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)

    assert first is not None and again is not None and again.id == first.id


# Finding 13: the audit actor is a token's name, which can be `system` or a reused name.


@pytest.mark.parametrize(
    "name", ["system", "System", "demo", "anonymous", "bootstrap", "serve@host-1:4242:a1b2"]
)
def test_a_token_may_not_take_a_name_the_platform_records_as_an_actor(
    tokens: TokenStore, name: str
) -> None:
    with pytest.raises(ValidationFailed):
        tokens.create(name, "manager")


def test_a_token_name_may_not_hold_the_actor_separator(tokens: TokenStore) -> None:
    with pytest.raises(ValidationFailed):
        tokens.create("ann#1a2b3c4d", "manager")


def test_an_email_address_is_a_usable_token_name(tokens: TokenStore) -> None:
    made, _secret = tokens.create("ann@shop.example.com", "manager")

    assert made.actor == "ann@shop.example.com"


def test_two_live_tokens_may_not_share_a_name(tokens: TokenStore) -> None:
    tokens.create("Ann", "manager")

    with pytest.raises(NameTaken):
        tokens.create("Ann", "viewer")


def test_the_actor_of_a_reused_name_of_a_revoked_token_carries_its_id(
    tokens: TokenStore,
) -> None:
    first, _ = tokens.create("Ann", "manager")
    tokens.revoke(first.id)
    second, second_secret = tokens.create("Ann", "manager")

    found = tokens.find(second_secret)

    assert first.actor == "Ann"
    assert found is not None and found.actor == f"Ann#{second.id[:8]}" == second.actor
    assert found.actor != first.actor


def test_every_bootstrap_token_after_the_first_records_its_id(tokens: TokenStore) -> None:
    first = tokens.ensure_bootstrap(BOOTSTRAP_SECRET)
    second = tokens.ensure_bootstrap("cmp_a-new-bootstrap-value")

    assert first is not None and second is not None
    assert first.actor == "bootstrap"
    assert second.actor == f"bootstrap#{second.id[:8]}"
    found = tokens.find("cmp_a-new-bootstrap-value")
    assert found is not None and found.actor == second.actor


def test_a_session_records_the_same_actor_as_its_token(tokens: TokenStore) -> None:
    first, _ = tokens.create("Ann", "manager")
    tokens.revoke(first.id)
    second, _ = tokens.create("Ann", "manager")
    session_secret, _csrf = tokens.open_session(second)

    session = tokens.find_session(session_secret)

    assert session is not None and session.token.actor == f"Ann#{second.id[:8]}"


def test_a_stored_token_named_system_never_records_a_bare_system(tokens: TokenStore) -> None:
    """A token made before names were checked: its actor still tells it from the platform."""
    with tokens.database.transaction() as cursor:
        cursor.execute(
            "INSERT INTO access_tokens (id, name, role, digest, created_at, revoked_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("0f1e2d3c-0000-4000-8000-000000000000", "system", "admin", "d", "2024", None),
        )

    (old,) = tokens.list_tokens()

    assert old.actor == "system#0f1e2d3c"


def test_the_short_ids_of_tokens_differ(tokens: TokenStore) -> None:
    made = [tokens.create(f"Person {n}", "viewer")[0] for n in range(50)]

    assert len({token.id[:8] for token in made}) == len(made)


def test_a_reused_name_is_made_after_its_first_holder_even_when_the_clock_stepped_back(
    tokens: TokenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = tokens.create("Ann", "manager")
    tokens.revoke(first.id)
    monkeypatch.setattr("projections.tokens.now", lambda: datetime(2000, 1, 1, tzinfo=UTC))

    second, _ = tokens.create("Ann", "manager")

    assert second.created_at > first.created_at
    assert [t.actor for t in tokens.list_tokens(with_revoked=True)] == [
        "Ann",
        f"Ann#{second.id[:8]}",
    ]
