"""Dispatch of a large campaign on the embedded default, against bare SQLite in the same run.

    .venv/bin/python -m benchmarks.dispatch [--recipients 1000000] [--batch 2000] [--kafka]

The pipeline: preparation (audience snapshot), then batches of messages built (variant by
ratio, placeholders, two links per message on rotating domains, parts and cost), recorded
as queued, their batch and domain usage saved in the event store, handed to the demo
carrier (unthrottled, reporting at once: receipts, clicks, opt-outs), marked sent, and every
receipt applied to the message rows and the stats. The bare figure renders the same texts
and inserts the same rows with one executemany per batch into a plain SQLite table.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domain.dispatch import link_codes, render
from domain.status import Status
from infra import local_kafka, local_postgres
from infra.bootstrap import build
from infra.settings import Settings, parse_database_url

TEXT = "Hi {first_name}, 20% off all week: {short_url} Stop: {optout_url}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def contacts(list_id: str, count: int) -> Iterator[tuple[str, str, str]]:
    for n in range(count):
        yield list_id, f"+447{n:09d}", json.dumps({"first_name": f"Person{n}"})


def fill_contacts(database_path: Path, list_id: str, count: int) -> None:
    connection = sqlite3.connect(database_path)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (list_id, phone, fields) VALUES (?, ?, ?)",
            contacts(list_id, count),
        )
    connection.close()


class KafkaWorkers:
    """The scale-out half of the pipeline, in threads: the activity outbox published to
    Kafka and the stats projector applying it."""

    def __init__(self, platform: Any) -> None:
        self.publisher = platform.outbox_publisher()
        self.stats = platform.stats_feed()
        self.thread = threading.Thread(target=self.publisher.run, daemon=True)
        self.thread.start()
        self.stats.start()

    def stop(self) -> None:
        self.publisher.stop()
        self.stats.stop()
        self.thread.join(timeout=30)


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
    started = time.perf_counter()
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
    connection.close()
    return count / elapsed


def pipeline(
    folder: Path, count: int, batch: int, settings: Settings | None = None
) -> tuple[float, float, dict[str, int]]:
    """(messages per second from launch to finished, preparation seconds, counters)."""
    settings = settings or Settings(data_dir=folder / "var")
    platform = build(settings)
    workers = KafkaWorkers(platform) if settings.kafka else None
    try:
        app = platform.app
        domains = ["go.example.com", "go2.example.com", "out.example.com"]
        app.add_domains(domains, actor="bench")
        for name in domains:
            app.change_domain_status(name, "configure", actor="bench")
        app.set_domain_limit({"limit": 1_000_000_000}, actor="bench")
        list_id = str(uuid.uuid4())
        if settings.postgres is None:
            fill_contacts(folder / "var" / "contacts.sqlite3", list_id, count)
        else:
            with platform.database.transaction() as cursor:
                cursor.copy_rows(
                    "contacts", "list_id, phone, fields", list(contacts(list_id, count))
                )
        campaign = app.create_campaign(
            {
                "name": "Benchmark",
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
        engine = platform.sending.engine
        engine.batch = batch
        platform.sending.carrier.delay_scale = 0
        started = time.perf_counter()
        app.change_campaign_status(campaign.id, "launch", actor="bench")
        prepared_at = None
        last_report = started
        while True:
            platform.feed.catch_up()
            status = app.get_campaign(campaign.id).status
            if status is Status.SENDING and prepared_at is None:
                prepared_at = time.perf_counter()
            if status in (Status.FINISHED, Status.SUSPENDED, Status.REJECTED):
                break
            engine.step()
            if time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                sent = platform.sending.activity.campaign_counters(str(campaign.id))["sent"]
                print(f"  ... {sent:,} sent, {sent / (last_report - started):,.0f}/s", flush=True)
        assert status is Status.FINISHED, f"the campaign ended {status}"
        if workers is not None:  # until the stats rows, fed through Kafka, show every outcome
            wait_for_outcomes(platform.sending.activity, str(campaign.id), count)
        elapsed = time.perf_counter() - started
        counters = platform.sending.activity.campaign_counters(str(campaign.id))
        return count / elapsed, (prepared_at or started) - started, counters
    finally:
        if workers is not None:
            workers.stop()
        platform.close()


def wait_for_outcomes(activity: Any, campaign_id: str, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        counters = activity.campaign_counters(campaign_id)
        if sum(counters[k] for k in OUTCOMES) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stats reached {counters}")
        time.sleep(0.05)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="the scale-out pipeline: PostgreSQL, and the counters through Kafka to the stats",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="campaigns-dispatch-"))
    try:
        print(f"dispatch benchmark: {args.recipients:,} recipients, batches of {args.batch}")
        bare_rate = bare(folder, args.recipients, args.batch)
        print(f"bare SQLite (render + executemany): {bare_rate:,.0f} messages/s")
        settings = scale_out_settings(folder) if args.kafka else None
        try:
            rate, preparation, counters = pipeline(folder, args.recipients, args.batch, settings)
        finally:
            if args.kafka:
                local_kafka.stop(KAFKA_DIR)
                local_postgres.stop(PG_DIR)
        outcomes = sum(counters[k] for k in OUTCOMES)
        if args.kafka:
            print(
                "pipeline (PostgreSQL; launch -> every outcome in the stats rows, through "
                f"the outbox, Kafka and the stats projector): {rate:,.0f} messages/s"
            )
        else:
            print(f"pipeline (launch -> Finished, every receipt applied): {rate:,.0f} messages/s")
        print(f"  of which preparation: {preparation:.1f} s")
        sent, clicks = counters["sent"], counters["clicks"]
        print(f"  sent {sent:,}, receipts' outcomes {outcomes:,}, clicks {clicks:,}")
        print(f"ratio pipeline / bare: {rate / bare_rate:.2f}")
        print(f"peak memory (this process, max RSS): {peak_rss_mib():,.0f} MiB")
        target = "met" if rate >= 20_000 else "NOT met"
        print(f"target >= 20,000 messages/s: {target}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
