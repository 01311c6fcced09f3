"""Dispatch of a large campaign on the embedded default, against bare SQLite in the same run.

    .venv/bin/python -m benchmarks.dispatch [--recipients 1000000] [--batch N] [--kafka]

The pipeline: preparation (audience snapshot), then batches of messages built (variant by
ratio, placeholders, two links per message on rotating domains, parts and cost), recorded
as queued, their batch and domain usage saved in the event store, handed to the demo
carrier (unthrottled, reporting at once: receipts, clicks, opt-outs), marked sent, and every
receipt applied to the message rows and the stats. The bare figure renders the same texts
and inserts the same rows with one executemany per batch into a plain SQLite table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._proc import cluster_cpu, postmaster_of, stat_seconds
from domain.dispatch import link_codes, render
from domain.status import Status
from infra import local_kafka, local_postgres
from infra.bootstrap import build
from infra.engine import BATCH, POSTGRES_BATCH
from infra.process import settle
from infra.settings import Settings, parse_database_url

TEXT = "Hi {first_name}, 20% off all week: {short_url} Stop: {optout_url}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Starts this process's peak memory afresh (Linux), so that what the set-up used (the
    contact list, the bare phase) does not hide what sending uses."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the set-up then counts
        Path("/proc/self/clear_refs").write_text("5")


def rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def contacts(list_id: str, count: int, first: int = 0) -> Iterator[tuple[str, str, str]]:
    for n in range(first, first + count):
        yield list_id, f"+447{n:09d}", json.dumps({"first_name": f"Person{n}"})


def fill_contacts(database_path: Path, list_id: str, count: int) -> None:
    connection = sqlite3.connect(database_path)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (list_id, phone, fields) VALUES (?, ?, ?)",
            contacts(list_id, count),
        )
    connection.close()


# CPU per 1,000 messages (ms) of this process, every thread: the bare loop and, embedded,
# the pipeline from launch to Finished. CPU does not drift with the machine's load as rates do.
CPU_MS: dict[str, float] = {}


def bare(folder: Path, count: int, batch: int) -> float:
    """Messages per second: render and insert the same rows, nothing else."""
    connection = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, campaign_id TEXT, seq INTEGER, "
        "recipient TEXT, text TEXT, status TEXT, UNIQUE (campaign_id, seq))"
    )
    campaign = str(uuid.uuid4())
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(0, count, batch):
        rows = []
        for seq in range(first, min(first + batch, count)):
            code, optout_code = link_codes(campaign, seq)
            text = render(
                TEXT,
                {"first_name": f"Person{seq}"},
                f"https://go.example.com/s/{code}",
                f"https://out.example.com/o/{optout_code}",
            )
            rows.append((code, campaign, seq, f"+447{seq:09d}", text, "sent"))
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    CPU_MS["bare"] = (time.process_time() - cpu) * 1000_000 / count
    connection.close()
    return count / elapsed


def pipeline(
    folder: Path, count: int, batch: int, settings: Settings | None = None, warm_up: int = 0
) -> tuple[float, float, dict[str, int]]:
    """(messages per second from launch to finished, preparation seconds, counters)."""
    settings = settings or Settings(data_dir=folder / "var")
    if settings.kafka:
        return scale_out_pipeline(folder, count, batch, settings, warm_up)
    platform = build(settings)
    try:
        add_domains(platform)
        campaign_id = add_campaign(platform, folder, count)
        engine = platform.sending.engine
        engine.batch = batch
        platform.sending.carrier.delay_scale = 0
        settle()  # as `campaigns serve` does, once started
        started, cpu = time.perf_counter(), time.process_time()
        platform.app.change_campaign_status(campaign_id, "launch", actor="bench")
        prepared_at = None
        last_report = started
        while True:
            platform.feed.catch_up()
            status = platform.app.get_campaign(campaign_id).status
            if status is Status.SENDING and prepared_at is None:
                prepared_at = time.perf_counter()
            if status in ENDED:
                break
            engine.step()
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                report_progress(platform, campaign_id, started)
        assert status is Status.FINISHED, f"the campaign ended {status}"
        elapsed = time.perf_counter() - started
        CPU_MS["pipeline"] = (time.process_time() - cpu) * 1000_000 / count
        counters = platform.sending.activity.stats.campaign_counters(str(campaign_id))
        return count / elapsed, (prepared_at or started) - started, counters
    finally:
        platform.close()


ENDED = (Status.FINISHED, Status.SUSPENDED, Status.REJECTED)


def add_domains(platform: Any) -> None:
    """The campaigns' link domains, configured, with room for every message."""
    app = platform.app
    domains = ["go.example.com", "go2.example.com", "out.example.com"]
    app.add_domains(domains, actor="bench")
    for name in domains:
        app.change_domain_status(name, "configure", actor="bench")
    app.set_domain_limit({"limit": 1_000_000_000}, actor="bench")


def add_campaign(
    platform: Any, folder: Path, count: int, *, first: int = 0, name: str = "Benchmark"
) -> uuid.UUID:
    """A contact list of `count` numbers (from the `first`th on) and a Draft campaign to
    them."""
    app = platform.app
    list_id = str(uuid.uuid4())
    if platform.settings.postgres is None:
        fill_contacts(folder / "var" / "contacts.sqlite3", list_id, count)
    else:
        with platform.database.transaction() as cursor:
            cursor.copy_rows(
                "contacts", "list_id, phone, fields", list(contacts(list_id, count, first))
            )
    campaign = app.create_campaign(
        {
            "name": name,
            "sender": "Shop",
            "contact_lists": [list_id],
            "variants": [
                {"text": TEXT, "weight": 3},
                {"text": "Sale {short_url} {optout_url}"},
            ],
            "links": {
                "short": {
                    "target": "https://shop.example.com/sale",
                    "domains": ["go.example.com", "go2.example.com"],
                },
                "optout": {"domains": ["out.example.com"]},
            },
        },
        actor="bench",
    )
    return uuid.UUID(str(campaign.id))


def report_progress(platform: Any, campaign_id: uuid.UUID, started: float) -> None:
    sent = platform.sending.activity.stats.campaign_counters(str(campaign_id))["sent"]
    elapsed = time.perf_counter() - started
    print(f"  ... {sent:,} sent (in the stats), {sent / elapsed:,.0f}/s", flush=True)


# The scale-out topology, as deployed: this process is the dispatcher (`campaigns dispatch`:
# the engine's thread and the demo carrier's own thread, reporting as it takes messages);
# the relay (`campaigns relay`: the store's log and the activity outbox onto Kafka) and the
# projector (`campaigns project`: the read models, the stats and the realtime rows from
# Kafka) are child processes started with the same settings.
ROLES = ("relay", "project")


class Role:
    """A `campaigns <role>` child process, its output in a log file."""

    def __init__(self, role: str, env: dict[str, str], folder: Path) -> None:
        self.role = role
        self.log_path = folder / f"{role}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", role],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the role prints its first line (it has built its platform)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.role} exited:\n{self.log_path.read_text()[-3000:]}")
            if self.log_path.read_text().strip():
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.role} did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def role_environment(settings: Settings) -> dict[str, str]:
    assert settings.postgres is not None and settings.kafka is not None
    return {
        **os.environ,
        "CAMPAIGNS_DATABASE_URL": settings.postgres.url,
        "CAMPAIGNS_DATABASE_SCHEMA": settings.postgres.schema,
        "CAMPAIGNS_KAFKA": settings.kafka,
        "CAMPAIGNS_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
        "CAMPAIGNS_DATA_DIR": str(settings.data_dir),
        "CAMPAIGNS_SENDING": "off",
        "PYTHONUNBUFFERED": "1",
    }


def run_warm_up(platform: Any, folder: Path, count: int, first: int) -> None:
    """An untimed campaign to numbers of its own, through every role: the pipeline is timed
    sustained, after the broker's JVM has compiled its hot paths and the caches are warm."""
    started = time.perf_counter()
    campaign_id = add_campaign(platform, folder, count, first=first, name="Warm-up")
    platform.app.change_campaign_status(campaign_id, "launch", actor="bench")
    while platform.app.get_campaign(campaign_id).status not in ENDED:
        time.sleep(0.2)
    wait_for_outcomes(platform.sending.activity, str(campaign_id), count)
    print(f"warm-up: {count:,} recipients in {time.perf_counter() - started:.1f} s (untimed)")


def scale_out_pipeline(
    folder: Path, count: int, batch: int, settings: Settings, warm_up: int = 0
) -> tuple[float, float, dict[str, int]]:
    platform = build(settings.with_changes(sending=True))
    roles: list[Role] = []
    try:
        add_domains(platform)
        campaign_id = add_campaign(platform, folder, count)
        roles = [Role(role, role_environment(settings), folder) for role in ROLES]
        for role in roles:
            role.wait_ready()
        sending = platform.sending
        sending.engine.batch = batch
        sending.carrier.delay_scale = 0  # the demo stream unthrottled: reports at once
        settle()  # as `campaigns dispatch` does, once started
        sending.start()  # as `campaigns dispatch`: the engine's thread, the carrier's thread
        if warm_up:
            run_warm_up(platform, folder, warm_up, count)
        processes = cpu_sources(platform, roles)
        reset_peak_rss()
        before = cpu_times(processes)
        started = time.perf_counter()
        platform.app.change_campaign_status(campaign_id, "launch", actor="bench")
        prepared_at = None
        last_report = started
        while True:
            status = platform.app.get_campaign(campaign_id).status
            if status is not Status.PROCESSING and prepared_at is None:
                prepared_at = time.perf_counter()
            if status in ENDED:
                break
            # A look now and then (this process is the dispatcher); often until prepared, so
            # that the moment sending may begin is known to a few ms.
            time.sleep(0.2 if prepared_at else 0.01)
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                report_progress(platform, campaign_id, started)
        assert status is Status.FINISHED, f"the campaign ended {status}"
        # Until the stats rows, fed through the outbox, Kafka and the projector, show every
        # outcome.
        wait_for_outcomes(sending.activity, str(campaign_id), count)
        elapsed = time.perf_counter() - started
        print_cpu(before, cpu_times(processes), count, elapsed)
        print(
            f"dispatcher's memory, launch to the last outcome: peak {rss_mib('VmHWM'):,.0f} MiB, "
            f"at the end {rss_mib('VmRSS'):,.0f} MiB"
        )
        counters = sending.activity.stats.campaign_counters(str(campaign_id))
        return count / elapsed, (prepared_at or started) - started, counters
    finally:
        platform.sending.stop()
        for role in roles:
            role.stop()
        platform.close()


def cpu_sources(platform: Any, roles: list[Role]) -> dict[str, Any]:
    """Name -> a function giving that part's CPU seconds so far."""
    engine, carrier = platform.sending.engine.thread, platform.sending.carrier.thread
    handover = platform.sending.engine.handover.thread
    postmaster = postmaster_of(PG_DIR / "cluster" / "data")
    broker = int((KAFKA_DIR / "kafka.pid").read_text().split()[0])
    sources: dict[str, Any] = {
        "dispatcher": lambda: stat_seconds("/proc/self/stat"),
        "  engine thread": lambda: stat_seconds(f"/proc/self/task/{engine.native_id}/stat"),
        "  handover thread": lambda: stat_seconds(f"/proc/self/task/{handover.native_id}/stat"),
        "  carrier thread": lambda: stat_seconds(f"/proc/self/task/{carrier.native_id}/stat"),
    }
    for role in roles:
        sources[role.role] = lambda pid=role.process.pid: stat_seconds(f"/proc/{pid}/stat")
    sources["PostgreSQL"] = lambda: cluster_cpu(postmaster)
    sources["broker"] = lambda: stat_seconds(f"/proc/{broker}/stat", with_children=True)
    return sources


def cpu_times(sources: dict[str, Any]) -> dict[str, float]:
    return {name: read() for name, read in sources.items()}


def print_cpu(before: dict[str, float], after: dict[str, float], count: int, wall: float) -> None:
    print(f"CPU per 1,000 messages (ms), launch to the last outcome ({wall:.1f} s wall):")
    total = 0.0
    for name in before:
        used = after[name] - before[name]
        if not name.startswith(" "):
            total += used
        print(f"  {name:<16} {used * 1000_000 / count:7.1f}   ({used / wall:.2f} cores)")
    print(f"  {'total':<16} {total * 1000_000 / count:7.1f}   ({total / wall:.2f} cores)")


def wait_for_outcomes(activity: Any, campaign_id: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        counters = activity.stats.campaign_counters(campaign_id)
        if sum(counters[k] for k in OUTCOMES) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stats reached {counters}")
        time.sleep(0.05)


def count_rate(count: int, rate_from_launch: float, preparation: float) -> float:
    """Messages per second once prepared, from the rate since launch and the preparation."""
    return count / (count / rate_from_launch - preparation)


OUTCOMES = ("delivered", "undelivered", "failed", "no_route", "rejected")
PG_DIR, PG_PORT = Path("var/bench-dispatch-postgres"), 25732
KAFKA_DIR, KAFKA_PORT = Path("var/bench-dispatch-kafka"), 29792


def scale_out_settings(folder: Path) -> Settings:
    """PostgreSQL and a Kafka broker of the benchmark's own, a fresh schema and topics."""
    url = local_postgres.start(PG_DIR, PG_PORT)
    bootstrap = local_kafka.start(KAFKA_DIR, KAFKA_PORT)
    tag = uuid.uuid4().hex[:10]
    return Settings(
        data_dir=folder / "var",
        postgres=parse_database_url(url, f"dispatch_{tag}"),
        kafka=bootstrap,
        topic_prefix=f"bench-{tag}",
        sending=False,
    )


def drop_schema(url: str, schema: str) -> None:
    """Drops the run's schema: the benchmark's cluster keeps no run's rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="messages per batch (default: the engine's, 2,000 on SQLite, 5,000 on PostgreSQL)",
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=20_000,
        help="with --kafka: recipients of an untimed campaign first (0: none)",
    )
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="the scale-out pipeline: PostgreSQL, and the counters through Kafka to the stats",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="campaigns-dispatch-"))
    try:
        batch = args.batch or (POSTGRES_BATCH if args.kafka else BATCH)  # as the engine's
        print(f"dispatch benchmark: {args.recipients:,} recipients, batches of {batch:,}")
        bare_rate = bare(folder, args.recipients, batch)
        print(f"bare SQLite (render + executemany): {bare_rate:,.0f} messages/s")
        settings = scale_out_settings(folder) if args.kafka else None
        try:
            rate, preparation, counters = pipeline(
                folder, args.recipients, batch, settings, args.warm_up
            )
        finally:
            if settings is not None and settings.postgres is not None:
                drop_schema(settings.postgres.url, settings.postgres.schema)
            if args.kafka:
                local_kafka.stop(KAFKA_DIR)
                local_postgres.stop(PG_DIR)
        outcomes = sum(counters[k] for k in OUTCOMES)
        # Sustained: from the end of preparation (the audience fixed, sending may begin) to
        # the last outcome. Preparation is one statement, before any message exists.
        sustained = count_rate(args.recipients, rate, preparation)
        if args.kafka:
            print(
                "pipeline (PostgreSQL; dispatcher -> every outcome in the stats rows, through "
                f"the outbox, Kafka and the stats projector): {sustained:,.0f} messages/s "
                "sustained"
            )
        else:
            print(
                "pipeline (dispatcher -> Finished, every receipt applied): "
                f"{sustained:,.0f} messages/s sustained"
            )
        print(f"  from launch, preparation ({preparation:.1f} s) included: {rate:,.0f} messages/s")
        sent, clicks = counters["sent"], counters["clicks"]
        print(f"  sent {sent:,}, receipts' outcomes {outcomes:,}, clicks {clicks:,}")
        print(f"ratio pipeline (sustained) / bare: {sustained / bare_rate:.2f}")
        if "pipeline" in CPU_MS:
            print(
                f"CPU per 1,000 messages (this process): pipeline {CPU_MS['pipeline']:.1f} ms, "
                f"bare {CPU_MS['bare']:.1f} ms, ratio bare / pipeline "
                f"{CPU_MS['bare'] / CPU_MS['pipeline']:.2f}"
            )
        if not args.kafka:  # (with Kafka, the dispatcher's memory is printed above)
            print(f"peak memory (this process, max RSS): {peak_rss_mib():,.0f} MiB")
        target = "met" if sustained >= 20_000 else "NOT met"
        print(f"target >= 20,000 messages/s sustained: {target}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
