"""infra/local_postgres.restart: a real server goes down and comes back on its port, with its
data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from infra import local_postgres

PORT = 25472


def started_at(connection: psycopg.Connection[tuple[datetime]]) -> datetime:
    row = connection.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert row is not None
    return row[0]


def test_a_fast_restart_keeps_the_data_and_accepts_connections_again() -> None:
    # A folder as `mktemp -d` makes it (0700); pytest's own are below a 0700 folder of its
    # own, which the server's user may not enter.
    outer = Path(tempfile.mkdtemp(prefix="postgres-"))
    folder = outer / "postgres"
    table = f"restarted_{uuid.uuid4().hex[:12]}"
    try:
        url = local_postgres.start(folder, PORT, open_from=outer)
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
        shutil.rmtree(outer, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the server's own user differs only under root")
def test_a_folder_the_server_cannot_enter_above_its_own_is_refused_by_name() -> None:
    outer = Path(tempfile.mkdtemp(prefix="postgres-"))  # 0700, not ours to open
    try:
        with pytest.raises(RuntimeError, match=f"cannot enter {outer} "):
            local_postgres.start(outer / "stack" / "postgres", PORT, open_from=outer / "stack")
        assert not (outer / "stack" / "postgres" / "cluster").exists()
    finally:
        shutil.rmtree(outer, ignore_errors=True)


def test_the_command_line_keeps_a_cluster_it_cannot_place_in_a_folder_of_its_own() -> None:
    """`./infra/test` starts PostgreSQL from a clone anywhere, perhaps below a folder the
    server's user cannot enter: the cluster then lives in a folder of that clone alone."""
    outer = Path(tempfile.mkdtemp(prefix="postgres-"))  # 0700, not ours to open
    folders = [outer / "one" / "postgres", outer / "two" / "postgres"]
    try:
        homes = []
        for folder in folders:
            command = [sys.executable, "-m", "infra.local_postgres", "start"]
            started = subprocess.run(
                [*command, "--dir", str(folder), "--port", str(PORT)],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert started.returncode == 0, started.stderr
            assert started.stdout.strip().endswith(f"@127.0.0.1:{PORT}/campaigns")
            homes.append((folder / "cluster").resolve())
            local_postgres.stop(folder)
        assert homes[0] != homes[1]
        assert all(home.parent == Path(tempfile.gettempdir()) for home in homes)
    finally:
        for folder in folders:
            home = (folder / "cluster").resolve()
            if home != folder / "cluster" and home.parent == Path(tempfile.gettempdir()):
                shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(outer, ignore_errors=True)
