"""Contact import benchmark (F16): a ~100 MB CSV through the real HTTP endpoint, on SQLite,
against a bare `executemany` of the same rows into SQLite in the same run.

    .venv/bin/python -m benchmarks.contact_import [--megabytes 100] [--multipart]

1. writes a CSV of about --megabytes MB (phone, first_name, last_name, city; every number
   distinct) in a temporary folder;
2. starts `campaigns serve` (`python -m gateway.cli serve`: uvicorn, the whole platform) on a
   free 127.0.0.1 port with a fresh SQLite data directory, and waits for /readyz;
3. POSTs the file to /api/contact-lists as `text/csv` (and, with --multipart, once more as a
   multipart upload), streamed from disk by httpx, and times each answer: upload, spooling
   to a temporary file, parsing, E.164 normalisation, duplicate checks, the one transaction
   and the list's event; then reads the server's peak resident memory (VmHWM);
4. bare: the same file read with `csv.reader` and written with `executemany` in batches of
   5,000 into a fresh SQLite file with the same table and pragmas, in one transaction: no
   HTTP, no validation, no normalisation, no duplicate check;
5. prints rows/s and MB/s of both, the ratio HTTP/bare, and the server's memory.

Loopback only; every request and the server start are bounded by --timeout; the server is
stopped and the temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._auth import HEADERS, SERVER_ENV
from infra.contacts import BATCH, contacts_table

ROOT = Path(__file__).resolve().parents[1]
FIRST_NAMES = ("Ann", "Bob", "Carla", "Dmitri", "Eve", "Farid", "Greta", "Hiro", "Ines", "Jon")
LAST_NAMES = ("Meyer", "Smith", "Rossi", "Nowak", "Garcia", "Berg", "Okafor", "Tanaka")
CITIES = ("Berlin", "Hamburg", "London", "Lisbon", "Warsaw", "Osaka", "Lagos", "Madrid")
LINES_PER_WRITE = 10_000
MB = 1_000_000


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the file


def contact_line(number: int) -> str:
    # 7919 is prime to 10**9, so every number below 10**9 gives a distinct phone.
    phone = f"+49{1_000_000_000 + (number * 7919) % 1_000_000_000}"
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[number // 7 % len(LAST_NAMES)]
    city = CITIES[number // 11 % len(CITIES)]
    return f"{phone},{first}{number % 97},{last},{city}\n"


def write_csv(path: Path, megabytes: float) -> int:
    """Writes the CSV; returns its number of contacts."""
    target = int(megabytes * MB)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        size = handle.write("phone,first_name,last_name,city\n")
        while size < target:
            chunk = "".join(contact_line(rows + i) for i in range(LINES_PER_WRITE))
            size += handle.write(chunk)
            rows += LINES_PER_WRITE
    return rows


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kib(pid: int, key: str) -> int:
    """A figure of /proc/<pid>/status in KiB: VmHWM is the peak resident set, VmRSS now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for process {pid}")


def start_server(data_dir: Path, port: int, timeout: float) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **SERVER_ENV},
    )
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --------------------------------------------------------------------------- the runs


@dataclass(frozen=True)
class Run:
    label: str
    rows: int
    seconds: float
    megabytes: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.megabytes / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<34} {self.rows:>10,} rows {self.seconds:>8.2f} s "
            f"{self.rows_per_second:>10,.0f} rows/s {self.mb_per_second:>7.1f} MB/s"
        )


def upload(port: int, path: Path, *, multipart: bool, timeout: float) -> tuple[float, Any]:
    import httpx

    url = f"http://127.0.0.1:{port}/api/contact-lists?name=bench-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    with path.open("rb") as body:
        if multipart:
            response = httpx.post(
                url, files={"file": (path.name, body, "text/csv")}, timeout=timeout, headers=HEADERS
            )
        else:
            response = httpx.post(
                url, content=body, headers={**HEADERS, "content-type": "text/csv"}, timeout=timeout
            )
    seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"the upload answered {response.status_code}: {response.text[:500]}")
    return seconds, response.json()


def bare_import(path: Path, database: Path) -> tuple[float, int]:
    """csv.reader + json.dumps + executemany in batches, one transaction, nothing else."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(contacts_table("sqlite"))
    list_id = str(uuid.uuid4())
    insert = "INSERT INTO contacts (list_id, phone, fields) VALUES (?, ?, ?)"
    rows = 0
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)[1:]
        connection.execute("BEGIN IMMEDIATE")
        batch: list[tuple[str, str, str]] = []
        for row in reader:
            batch.append((list_id, row[0], json.dumps(dict(zip(header, row[1:], strict=True)))))
            if len(batch) == BATCH:
                connection.executemany(insert, batch)
                rows += len(batch)
                batch = []
        connection.executemany(insert, batch)
        rows += len(batch)
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, rows


def http_runs(args: argparse.Namespace, folder: Path, path: Path, size_mb: float) -> list[Run]:
    port = free_port()
    say(f"starting campaigns serve on 127.0.0.1:{port} (SQLite in {folder / 'data'})")
    server = start_server(folder / "data", port, args.timeout)
    try:
        before = memory_kib(server.pid, "VmRSS")
        say(f"server resident memory before the upload: {before / 1024:.0f} MiB")
        runs = []
        for multipart in (False, True) if args.multipart else (False,):
            label = (
                "HTTP multipart upload + import" if multipart else "HTTP text/csv upload + import"
            )
            say(f"{label} ...")
            seconds, body = upload(port, path, multipart=multipart, timeout=args.timeout)
            say(
                f"  accepted {body['accepted']:,}, duplicates {body['duplicates']}, "
                f"rejected {body['rejected_total']}, columns {body['columns']}"
            )
            runs.append(Run(label, body["accepted"], seconds, size_mb))
        peak = memory_kib(server.pid, "VmHWM")
        after = memory_kib(server.pid, "VmRSS")
        print(
            f"server memory: before {before / 1024:.0f} MiB, peak (VmHWM) {peak / 1024:.0f} MiB "
            f"(+{(peak - before) / 1024:.0f} MiB for a {size_mb:.0f} MB file), "
            f"after {after / 1024:.0f} MiB"
        )
        return runs
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contact_import")
    parser.add_argument("--megabytes", type=float, default=100.0, help="size of the CSV (MB)")
    parser.add_argument("--multipart", action="store_true", help="also upload as multipart")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per step")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-contacts-"))
    try:
        path = folder / "contacts.csv"
        started = time.perf_counter()
        rows = write_csv(path, args.megabytes)
        size_mb = path.stat().st_size / MB
        took = time.perf_counter() - started
        say(f"wrote {path.name}: {rows:,} contacts, {size_mb:.1f} MB in {took:.1f} s")

        runs = http_runs(args, folder, path, size_mb)
        say("bare executemany into SQLite ...")
        bare_seconds, bare_rows = bare_import(path, folder / "bare.sqlite3")
        bare = Run("bare csv.reader + executemany", bare_rows, bare_seconds, size_mb)

        print(f"file: {rows:,} contacts, {size_mb:.1f} MB; SQLite; batches of {BATCH:,}")
        for run in [*runs, bare]:
            print(run.line())
        for run in runs:
            print(f"ratio {run.label} / bare: {run.rows_per_second / bare.rows_per_second:.2f}")
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
