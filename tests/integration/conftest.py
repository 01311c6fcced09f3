"""Fixtures for the integration tests: the real platform over SQLite and over PostgreSQL.

Every test that takes `client` (or `platform`, or `store`) runs twice: once on the embedded
SQLite files in a fresh data directory, once on the real PostgreSQL that `./infra/test` starts,
in a fresh schema that is dropped afterwards. Without `CAMPAIGNS_TEST_DATABASE_URL` the
PostgreSQL runs fail; they are never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import Platform, build
from infra.settings import Settings, parse_database_url
from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

DATABASE_URL_VARIABLE = "CAMPAIGNS_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgres")


def postgres_url() -> str:
    url = os.environ.get(DATABASE_URL_VARIABLE, "").strip()
    if not url:
        pytest.fail(
            f"{DATABASE_URL_VARIABLE} is not set, so the PostgreSQL half of the integration "
            "tests cannot run. Run them with ./infra/test, which starts a throwaway PostgreSQL "
            "and sets it; these tests are never skipped.",
            pytrace=False,
        )
    return url


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Where the platform keeps its events and read models: empty at the start of a test.

    The sending engine stays off in the API tests, which move campaigns along by hand; the
    sending tests drive the engine step by step, and the crash test runs real processes."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path, sending=False, bootstrap_token=ADMIN_TOKEN)
        return
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    location = parse_database_url(url, schema)
    try:
        yield Settings(
            data_dir=tmp_path, postgres=location, sending=False, bootstrap_token=ADMIN_TOKEN
        )
    finally:
        drop_schema(location.url, schema)


@pytest.fixture
def platform(store: Settings) -> Platform:
    """A platform built on the store, with the tests' admin token; the client's lifespan
    starts and closes it."""
    return build(store)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform, own_platform=True)
    with TestClient(app, headers=ADMIN_HEADERS) as test_client:
        yield test_client
