"""Review finding 2, "the database URL is rebuilt wrongly", on the real PostgreSQL: the URL's
options reach every connection the platform makes, the event store's included (its library
took only host, port, user, password and database name, so `sslmode` and the rest were lost
on the way to the store)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra.bootstrap import Platform, build
from infra.settings import Settings, parse_database_url
from tests.credentials import ADMIN_TOKEN

from .conftest import drop_schema, postgres_url

NAME = "campaigns-finding-2"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    url = postgres_url()
    joiner = "&" if urlsplit(url).query else "?"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    location = parse_database_url(f"{url}{joiner}application_name={NAME}&sslmode=disable", schema)
    made = build(
        Settings(data_dir=tmp_path, postgres=location, sending=False, bootstrap_token=ADMIN_TOKEN)
    )
    try:
        yield made
    finally:
        made.close()
        drop_schema(url, schema)


def test_the_event_stores_connections_carry_the_urls_options(platform: Platform) -> None:
    pool = platform.app.recorder.datastore.pool  # type: ignore[attr-defined]
    with pool.connection() as connection:
        row = connection.execute("SHOW application_name").fetchone()
    assert row is not None and row["application_name"] == NAME


def test_the_read_models_connections_carry_the_urls_options(platform: Platform) -> None:
    with platform.database.read() as cursor:
        cursor.execute("SHOW application_name")
        row = cursor.fetchone()
    assert row is not None and row[0] == NAME
