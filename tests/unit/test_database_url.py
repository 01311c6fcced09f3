"""CAMPAIGNS_DATABASE_URL reaches libpq as given: escapes, options, several hosts."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.settings import PostgresLocation, Settings, SettingsError

ESCAPED = "postgresql://app:s3cr%40t%2Fx@db.example:5432/campaigns?sslmode=verify-full"


def location(url: str, schema: str = "public") -> PostgresLocation:
    settings = Settings.from_environment(
        {"CAMPAIGNS_DATABASE_URL": url, "CAMPAIGNS_DATABASE_SCHEMA": schema}
    )
    assert settings.postgres is not None
    return settings.postgres


def test_the_database_url_keeps_an_escaped_password_and_its_tls_options() -> None:
    pg = location(ESCAPED)

    assert conninfo_to_dict(pg.url) == {
        "user": "app",
        "password": "s3cr@t/x",
        "host": "db.example",
        "port": "5432",
        "dbname": "campaigns",
        "sslmode": "verify-full",
    }
    # What the event store's own connection settings are given.
    assert (pg.host, pg.port, pg.user, pg.password, pg.dbname) == (
        "db.example",
        "5432",
        "app",
        "s3cr@t/x",
        "campaigns",
    )


def test_the_database_url_keeps_its_options_and_several_hosts() -> None:
    url = (
        "postgresql://app:pw@db1.example:5432,db2.example:5433/campaigns"
        "?target_session_attrs=read-write&sslmode=require&application_name=campaigns"
    )
    pg = location(url)

    assert pg.url == url
    assert conninfo_to_dict(pg.url) == {
        "user": "app",
        "password": "pw",
        "host": "db1.example,db2.example",
        "port": "5432,5433",
        "dbname": "campaigns",
        "target_session_attrs": "read-write",
        "sslmode": "require",
        "application_name": "campaigns",
    }
    assert pg.host == "db1.example,db2.example" and pg.port == "5432,5433"


def test_a_connection_with_the_schema_keeps_the_url_options() -> None:
    pg = location(ESCAPED + "&options=-c%20statement_timeout%3D5000", schema="tenant_a")

    assert conninfo_to_dict(pg.conninfo_in_schema()) == {
        "user": "app",
        "password": "s3cr@t/x",
        "host": "db.example",
        "port": "5432",
        "dbname": "campaigns",
        "sslmode": "verify-full",
        "options": "-c statement_timeout=5000 -csearch_path=tenant_a",
    }


def test_the_database_url_without_a_port_or_database_gets_libpqs_defaults() -> None:
    pg = location("postgres://app@db.example")

    assert (pg.host, pg.port, pg.user, pg.password, pg.dbname) == (
        "db.example",
        "5432",
        "app",
        "",
        "app",
    )


def test_the_password_stays_out_of_the_settings_repr() -> None:
    settings = Settings.from_environment({"CAMPAIGNS_DATABASE_URL": ESCAPED})

    assert "s3cr" not in repr(settings)
    assert settings.store_description == "PostgreSQL db.example:5432/campaigns (schema public)"


@pytest.mark.parametrize(
    "url",
    [
        "host=db.example user=app dbname=campaigns",  # a keyword string: not a URL
        "mysql://app:pw@db.example/campaigns",
        "postgresql:///campaigns",  # no host
        "postgresql://db.example/campaigns",  # no user
        "postgresql://app@db.example/campaigns?sslmod=require",  # not a libpq option
        "postgresql://app@db.example:notaport/campaigns",
    ],
)
def test_a_database_url_libpq_cannot_use_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="CAMPAIGNS_DATABASE_URL"):
        location(url)


def test_a_malformed_database_url_is_refused_without_showing_the_password() -> None:
    with pytest.raises(SettingsError) as refused:
        location("postgresql://app:hunter2%ZZ@db.example/campaigns")

    assert "hunter2" not in str(refused.value)
