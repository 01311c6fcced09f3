"""Dispatch of a large campaign on the embedded default, against bare SQLite in the same run.

    .venv/bin/python -m benchmarks.dispatch [--recipients 1000000] [--batch 2000]

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
import time
import uuid
from pathlib import Path

from domain.dispatch import link_codes, render
from domain.status import Status
from infra.bootstrap import build
from infra.settings import Settings

TEXT = "Hi {first_name}, 20% off all week: {short_url} Stop: {optout_url}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill_contacts(database_path: Path, list_id: str, count: int) -> None:
    connection = sqlite3.connect(database_path)
    with connection:
        connection.executemany(
            "INSERT INTO contacts (list_id, phone, fields) VALUES (?, ?, ?)",
            (
                (list_id, f"+447{n:09d}", json.dumps({"first_name": f"Person{n}"}))
                for n in range(count)
            ),
        )
    connection.close()


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


def pipeline(folder: Path, count: int, batch: int) -> tuple[float, float, dict[str, int]]:
    """(messages per second from launch to finished, preparation seconds, counters)."""
    platform = build(Settings(data_dir=folder / "var"))
    try:
        app = platform.app
        domains = ["go.example.com", "go2.example.com", "out.example.com"]
        app.add_domains(domains, actor="bench")
        for name in domains:
            app.change_domain_status(name, "configure", actor="bench")
        app.set_domain_limit({"limit": 1_000_000_000}, actor="bench")
        list_id = str(uuid.uuid4())
        fill_contacts(folder / "var" / "contacts.sqlite3", list_id, count)
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
        elapsed = time.perf_counter() - started
        counters = platform.sending.activity.campaign_counters(str(campaign.id))
        assert status is Status.FINISHED, f"the campaign ended {status}"
        return count / elapsed, (prepared_at or started) - started, counters
    finally:
        platform.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="campaigns-dispatch-"))
    try:
        print(f"dispatch benchmark: {args.recipients:,} recipients, batches of {args.batch}")
        bare_rate = bare(folder, args.recipients, args.batch)
        print(f"bare SQLite (render + executemany): {bare_rate:,.0f} messages/s")
        rate, preparation, counters = pipeline(folder, args.recipients, args.batch)
        outcomes = sum(
            counters[k] for k in ("delivered", "undelivered", "failed", "no_route", "rejected")
        )
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
