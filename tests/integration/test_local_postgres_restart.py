"""infra/local_postgres.restart: a real server goes down and comes back on its port, with its
data."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import psycopg

from infra import local_postgres

PORT = 25472


def started_at(connection: psycopg.Connection[tuple[datetime]]) -> datetime:
    row = connection.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


def test_a_fast_restart_keeps_the_data_and_accepts_connections_again(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    # The cluster may live on in /tmp/campaigns-postgres-<port> (see local_postgres): a table
    # of its own keeps this test apart from earlier runs.
    table = f"restarted_{uuid.uuid4().hex[:12]}"
    try:
        url = local_postgres.start(folder, PORT)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"CREATE TABLE {table} (n integer)")
            connection.execute(f"INSERT INTO {table} VALUES (7)")
            first_start = started_at(connection)
        local_postgres.restart(folder)
        with psycopg.connect(url, autocommit=True) as connection:
            assert started_at(connection) > first_start
            assert connection.execute(f"SELECT n FROM {table}").fetchall() == [(7,)]
            connection.execute(f"DROP TABLE {table}")
    finally:
        local_postgres.stop(folder)
