"""A message's outcomes as updates of its row, against outcomes appended to a table of their own.

    .venv/bin/python -m benchmarks.outcome_rows [--messages 100000] [--batch 1000] [--rounds 2]
        [--no-postgres]

Each phase writes `--messages` rows of the shape of `messages` (id, campaign, number, text,
status, times) in batches, one transaction each, then records two outcomes per message (sent,
then delivered), in batches again: `update` sets the row's status and time, as the pipeline
does today; `append` inserts (message id, status, time) into an `outcomes` table indexed by
message id, leaving the row as first written. SQLite (WAL, `synchronous=NORMAL`, as the
embedded default) in a temporary folder; PostgreSQL (the table with the pipeline's fill factor,
the updates joined to an array of ids) in a throwaway cluster in `var/bench-postgres`, port
55434, stopped at the end. CPU per 1,000 messages is this process's (`os.times`) and, on
PostgreSQL, its backend's (/proc), and `append / update` is their ratio in the same run.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from benchmarks._proc import process_cpu
from infra import local_postgres
from projections.activity.tables import MESSAGES_FILLFACTOR

ROOT = Path(__file__).resolve().parents[1]
PG_DIR = ROOT / "var" / "bench-postgres"
PG_PORT = 55434
TEXT = "Hi Ada, 20% off all week: https://go1.example.com/0001a9f3 Stop: https://out.example.com/x"
QUEUED_AT, LATER = "2026-03-01T09:00:00.000000Z", "2026-03-01T09:00:01.000000Z"
OUTCOMES = ("sent", "delivered")


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def rows_of(chunk: list[str], first: int) -> list[tuple[object, ...]]:
    return [
        (message_id, "campaign", number, TEXT, "queued", QUEUED_AT, QUEUED_AT)
        for number, message_id in enumerate(chunk, first)
    ]


def sqlite_phase(folder: Path, mode: str, ids: list[str], size: int) -> tuple[float, float]:
    """CPU ms per 1,000 messages: this process's, and 0 (SQLite runs inside it)."""
    path = folder / f"{mode}-{uuid.uuid4().hex[:6]}.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, seq BIGINT "
        "NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL)"
    )
    connection.execute("CREATE TABLE outcomes (message_id TEXT NOT NULL, status TEXT, at TEXT)")
    connection.execute("CREATE INDEX outcomes_message ON outcomes (message_id)")
    start = own_cpu()
    for index, chunk in enumerate(batches(ids, size)):
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", rows_of(chunk, index * size)
        )
        connection.execute("COMMIT")
    for status in OUTCOMES:
        for chunk in batches(ids, size):
            connection.execute("BEGIN")
            if mode == "update":
                connection.executemany(
                    "UPDATE messages SET status = ?, updated_at = ? WHERE id = ?",
                    [(status, LATER, message_id) for message_id in chunk],
                )
            else:
                connection.executemany(
                    "INSERT INTO outcomes VALUES (?, ?, ?)",
                    [(message_id, status, LATER) for message_id in chunk],
                )
            connection.execute("COMMIT")
    spent = own_cpu() - start
    connection.close()
    return spent * 1e6 / len(ids), 0.0


def postgres_phase(url: str, mode: str, ids: list[str], size: int) -> tuple[float, float]:
    """CPU ms per 1,000 messages: this process's, and its PostgreSQL backend's."""
    schema = f"outcome_rows_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        connection.execute(f'SET search_path = "{schema}"')
        connection.execute(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, seq BIGINT "
            "NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, "
            f"updated_at TEXT NOT NULL) WITH (fillfactor = {MESSAGES_FILLFACTOR})"
        )
        connection.execute("CREATE TABLE outcomes (message_id TEXT NOT NULL, status TEXT, at TEXT)")
        connection.execute("CREATE INDEX outcomes_message ON outcomes (message_id)")
        row = connection.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        backend = int(row[0])
        start, backend_start = own_cpu(), process_cpu(backend)
        for index, chunk in enumerate(batches(ids, size)):
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO messages VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows_of(chunk, index * size),
                )
        for status in OUTCOMES:
            for chunk in batches(ids, size):
                with connection.transaction():
                    if mode == "update":
                        connection.execute(
                            "UPDATE messages AS m SET status = %s, updated_at = %s "
                            "FROM unnest(%s::text[]) AS u(id) WHERE m.id = u.id",
                            (status, LATER, chunk),
                        )
                    else:
                        connection.execute(
                            "INSERT INTO outcomes SELECT u.id, %s, %s "
                            "FROM unnest(%s::text[]) AS u(id)",
                            (status, LATER, chunk),
                        )
        spent, backend_spent = own_cpu() - start, process_cpu(backend) - backend_start
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return spent * 1e6 / len(ids), backend_spent * 1e6 / len(ids)


def measure(
    name: str, phase: Callable[[str], tuple[float, float]], rounds: int
) -> dict[str, float]:
    """Median CPU per 1,000 messages of each mode, the modes interleaved round by round."""
    figures: dict[str, list[float]] = {"update": [], "append": []}
    for _round in range(rounds):
        for mode in figures:
            client, server = phase(mode)
            figures[mode].append(client + server)
            print(f"  {name:8} {mode:6} {client:6.2f} + {server:6.2f} ms per 1,000", flush=True)
    return {mode: statistics.median(values) for mode, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    ids = [uuid.uuid4().hex for _ in range(args.messages)]
    results = {}
    with tempfile.TemporaryDirectory(prefix="outcome-rows-") as folder:
        results["sqlite"] = measure(
            "sqlite",
            lambda mode: sqlite_phase(Path(folder), mode, ids, args.batch),
            args.rounds,
        )
    if not args.no_postgres:
        print(f"starting the throwaway PostgreSQL in {PG_DIR} on port {PG_PORT}", flush=True)
        url = local_postgres.start(PG_DIR, PG_PORT)
        try:
            results["postgres"] = measure(
                "postgres", lambda mode: postgres_phase(url, mode, ids, args.batch), args.rounds
            )
        finally:
            local_postgres.stop(PG_DIR)
    print(f"\n{args.messages:,} messages, two outcomes each, CPU ms per 1,000 (medians):")
    for backend, figures in results.items():
        ratio = figures["append"] / figures["update"]
        print(
            f"  {backend:8} update {figures['update']:6.2f}  append {figures['append']:6.2f}  "
            f"append / update {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
