"""The scale-out read-model pipeline on real PostgreSQL and Kafka, beside bare kafka-python.

    .venv/bin/python -m benchmarks.pipeline [--events 100000] [--backlog 20000]
        [--lag-seconds 20] [--rate 200] [--threads 4]

It starts its own PostgreSQL (`infra.local_postgres`, var/bench-postgres, port 25632) and its
own Kafka broker (`infra.local_kafka`, var/bench-kafka, ports 29692/29693), and stops both at
the end, whatever happens. Every run uses a fresh schema and fresh topic names.

Measured, in one run:
- bare kafka-python: N records of ~400 bytes produced with an idempotent acks=all producer to
  a fresh one-partition topic (records/s), then consumed by a KafkaConsumer with manual
  commits (records/s);
- commit-to-projection lag: campaigns created at a steady rate from one thread while the relay
  and the Kafka feed run in threads; for each one, the time from the commit to the moment the
  projector has applied its position (p50/p99/max);
- backlog catch-up: events stored with the relay stopped, then the relay and the feed started;
  events/s until the relay has published them all and until the projector has applied them;
- rebuild: `Platform.rebuild()` of the whole store (events/s), beside reading the whole log in
  batches of 2,000 and decoding it with the library's mapper (events/s).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks._proc import cluster_cpu, postmaster_of
from infra import local_kafka
from infra.bootstrap import Platform, build
from infra.kafka_feed import KafkaFeed
from infra.relay import Relay, encode, run_relay
from infra.settings import Settings, parse_database_url

ROOT = Path(__file__).resolve().parents[1]
PG_DIR = ROOT / "var" / "bench-postgres"
PG_PORT = 25632
KAFKA_DIR = ROOT / "var" / "bench-kafka"
KAFKA_PORT, KAFKA_CONTROLLER_PORT = 29692, 29693
RECORD_BYTES = 400
WAIT_SECONDS = 300.0

LAG_TARGET_MS = 250.0
REBUILD_TARGET = 50_000.0


class BenchError(RuntimeError):
    """A phase could not run; the message says why."""


# --------------------------------------------------------------------------- services


def start_postgres() -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.local_postgres",
            "start",
            "--dir",
            str(PG_DIR),
            "--port",
            str(PG_PORT),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise BenchError(f"PostgreSQL did not start in {PG_DIR} on port {PG_PORT} (see above)")
    return lines[-1].strip()


def stop_postgres() -> None:
    subprocess.run(
        [sys.executable, "-m", "infra.local_postgres", "stop", "--dir", str(PG_DIR)],
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.delete_topics(topics)
    finally:
        admin.close()


# --------------------------------------------------------------------------- bare kafka-python


# CPU per record or event (us) of this process, every thread: bare produce, bare consume, and
# the backlog's catch-up (the relay and the feed, both in this process). Rates drift with
# the machine's load; CPU much less.
CPU_US: dict[str, float] = {}


def bare_kafka(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    """(records/s produced and acknowledged, records/s consumed) with kafka-python alone."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    value = (b'{"type": "CampaignCreated", "data": "' + b"x" * RECORD_BYTES)[:RECORD_BYTES]
    headers = [("position", b"1234567"), ("message-version", b"1"), ("type", b"Created")]
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap],
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_in_flight_requests_per_connection=5,
    )
    try:
        producer.send(topic, key=b"warm-up", value=value).get(timeout=60)  # metadata, ids
        count -= 1
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            producer.send(topic, key=str(uuid.uuid4()).encode(), value=value, headers=headers)
        producer.flush(timeout=WAIT_SECONDS)
        produced = count / (time.perf_counter() - started)
        CPU_US["produce"] = (time.process_time() - cpu) * 1e6 / count
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=[bootstrap],
        group_id=f"{topic}.bare",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=2000,
        fetch_max_wait_ms=50,
    )
    try:
        received = 0
        started, cpu = time.perf_counter(), time.process_time()
        deadline = started + WAIT_SECONDS
        while received < count:
            if time.perf_counter() > deadline:
                raise BenchError(f"the bare consumer got {received:,} of {count:,} records")
            records = consumer.poll(timeout_ms=50, max_records=2000)
            for tp, batch in records.items():
                received += len(batch)
                consumer.commit_async({tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)})
        consumer.commit()
        consumed = count / (time.perf_counter() - started)
        CPU_US["consume"] = (time.process_time() - cpu) * 1e6 / count
    finally:
        consumer.close(autocommit=False)
    return produced, consumed


# --------------------------------------------------------------------------- the pipeline


class RelayThread:
    """The relay, run by run_relay in a thread of this process."""

    def __init__(self, platform: Platform) -> None:
        self.relay: Relay = platform.relay()
        self.thread = threading.Thread(target=run_relay, args=(self.relay,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.relay.stop()
        self.thread.join(timeout=30)


def end_of_log(platform: Platform) -> int:
    return int(platform.app.recorder.max_notification_id() or 0)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.002)


def load(platform: Platform, count: int, threads: int) -> float:
    """Creates `count` campaigns from `threads` threads; returns events stored per second."""
    if count <= 0:
        return 0.0
    before = end_of_log(platform)
    errors: list[BaseException] = []

    def work(share: int, offset: int) -> None:
        try:
            for n in range(share):
                platform.app.create_campaign({"name": f"Load {offset + n}"}, actor="bench")
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    workers = [
        threading.Thread(target=work, args=(share, i * (count // threads + 1)))
        for i, share in enumerate(shares)
    ]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise BenchError(f"loading the store failed: {errors[0]!r}") from errors[0]
    return (end_of_log(platform) - before) / elapsed


def lag(platform: Platform, seconds: float, rate: float) -> tuple[list[float], float]:
    """Campaigns created at `rate` per second for `seconds`, one thread, with the relay and
    the feed running; returns each one's commit-to-projection lag (s) and the rate reached."""
    projector = platform.projector
    commits: list[tuple[int, float]] = []
    lags: list[float] = []
    writing_done = threading.Event()

    def watch() -> None:
        seen = 0
        while True:
            with projector.changed:
                projector.changed.wait(0.005)
                known = projector.known_position
            now = time.perf_counter()
            while seen < len(commits) and commits[seen][0] <= known:
                lags.append(max(0.0, now - commits[seen][1]))
                seen += 1
            if writing_done.is_set() and seen == len(commits):
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    count = int(seconds * rate)
    started = time.perf_counter()
    for n in range(count):
        pause = started + n / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        platform.app.create_campaign({"name": f"Bench {n}"}, actor="bench")
        committed = time.perf_counter()
        commits.append((platform.app.last_position, committed))
    reached = count / (time.perf_counter() - started)
    writing_done.set()
    watcher.join(timeout=WAIT_SECONDS)
    if watcher.is_alive():
        raise BenchError(
            f"the projector reached {projector.known_position} of {commits[-1][0]} "
            f"within {WAIT_SECONDS:.0f} s after the writes"
        )
    return lags, reached


def catch_up(platform: Platform, backlog: int, threads: int) -> tuple[float, float, float]:
    """(load events/s, relay events/s, end-to-end events/s) for a backlog stored while the
    relay was stopped."""
    load_rate = load(platform, backlog, threads)
    end = end_of_log(platform)
    start_position = platform.projector.position()
    pending = end - start_position
    started, cpu = time.perf_counter(), time.process_time()
    relayed_at = None
    workers = RelayThread(platform)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while platform.projector.known_position < end:
            if relayed_at is None and workers.relay.position >= end:
                relayed_at = time.perf_counter()
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the backlog was not projected in {WAIT_SECONDS:.0f} s (relay at "
                    f"{workers.relay.position}, projector at "
                    f"{platform.projector.known_position}, end {end})"
                )
            time.sleep(0.002)
        done = time.perf_counter()
        CPU_US["catch-up"] = (time.process_time() - cpu) * 1e6 / pending
        relayed_at = relayed_at or done
    finally:
        workers.stop()
    return load_rate, pending / (relayed_at - started), pending / (done - started)


def bare_read(platform: Platform) -> tuple[int, float]:
    """(events, events/s) reading the whole log in batches of 2,000 and decoding each
    notification into its domain event with the library's own mapper."""
    recorder, mapper = platform.app.recorder, platform.app.mapper
    position = count = 0
    started = time.perf_counter()
    while notifications := recorder.select_notifications(
        start=position, limit=2000, inclusive_of_start=False
    ):
        for notification in notifications:
            mapper.to_domain_event(notification)
        position = notifications[-1].id
        count += len(notifications)
    return count, count / (time.perf_counter() - started)


@dataclass(frozen=True)
class Rebuilt:
    events: int
    rate: float  # events/s
    process_cpu: float  # seconds of this process's CPU
    server_cpu: float  # seconds of the bench cluster's CPU
    inside: bool  # drawn inside the database

    def __str__(self) -> str:
        per_event = 1e6 / max(self.events, 1)
        how = "inside the database" if self.inside else "in Python"
        mine, server = self.process_cpu * per_event, self.server_cpu * per_event
        return (
            f"{self.rate:,.0f} events/s ({how}; CPU per event: this process {mine:.0f} us, "
            f"PostgreSQL {server:.0f} us)"
        )


def timed_rebuild(platform: Platform, *, inside: bool) -> Rebuilt:
    """The campaign views rebuilt, inside the database or replaying in Python."""
    store = platform.stored_events() if inside else None
    started, cpu, server = time.perf_counter(), time.process_time(), bench_cluster_cpu()
    events = platform.projector.rebuild(platform.read_events, None, store)
    rate = events / (time.perf_counter() - started)
    return Rebuilt(
        events,
        rate,
        time.process_time() - cpu,
        bench_cluster_cpu() - server,
        platform.projector.rebuilt_in_database,
    )


def bench_cluster_cpu() -> float:
    """CPU seconds used so far by the bench cluster (0 when it is not running)."""
    try:
        return cluster_cpu(postmaster_of(PG_DIR / "cluster" / "data"))
    except (OSError, ValueError, IndexError):
        return 0.0


def record_bytes(platform: Platform) -> float:
    messages = platform.read_events(0, 1000)
    sizes = [len(encode(m, platform.store_id)[1]) for m in messages]
    return statistics.fmean(sizes) if sizes else 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:10]
    schema, prefix = f"bench_{run_id}", f"bench-{run_id}"
    bare_topic = f"{prefix}.bare"
    url = bootstrap = None
    platform: Platform | None = None
    feed: KafkaFeed | None = None
    try:
        print(f"starting PostgreSQL on port {PG_PORT} and Kafka on {KAFKA_PORT}", flush=True)
        url = start_postgres()
        try:
            bootstrap = local_kafka.start(KAFKA_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT)
        except RuntimeError as exc:
            raise BenchError(f"Kafka did not start: {exc}") from exc

        print(f"\n1. bare kafka-python, {args.events:,} records of {RECORD_BYTES} bytes")
        produced, consumed = bare_kafka(bootstrap, bare_topic, args.events)
        print(f"   produce (idempotent, acks=all, flushed): {produced:,.0f} records/s")
        print(f"   consume (manual commits):                {consumed:,.0f} records/s")

        settings = Settings(
            data_dir=Path(tempfile.gettempdir()) / f"campaigns-{prefix}",
            postgres=parse_database_url(url, schema),
            sending=False,
            kafka=bootstrap,
            topic_prefix=prefix,
        )
        platform = build(settings)

        print(
            f"\n2. commit-to-projection lag: {args.rate:g} campaigns/s for {args.lag_seconds:g} s"
        )
        feed = platform.kafka_feed()
        feed.start()
        workers = RelayThread(platform)
        try:
            platform.app.create_campaign({"name": "Warm-up"}, actor="bench")
            wait_until(
                lambda: platform.projector.known_position >= platform.app.last_position,
                "the pipeline to project a first event",
                timeout=60,
            )
            lags, reached = lag(platform, args.lag_seconds, args.rate)
        finally:
            workers.stop()
        lag_ms = [value * 1000 for value in lags]
        p50, p99, worst = percentile(lag_ms, 0.5), percentile(lag_ms, 0.99), max(lag_ms)
        print(f"   {len(lag_ms):,} commits at {reached:,.0f}/s")
        print(f"   lag p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
        print(f"   record size: {record_bytes(platform):.0f} bytes on average")

        print(f"\n3. backlog catch-up: {args.backlog:,} events stored with the relay stopped")
        load_rate, relay_rate, project_rate = catch_up(platform, args.backlog, args.threads)
        print(f"   stored at {load_rate:,.0f} events/s ({args.threads} threads)")
        print(f"   relay published:      {relay_rate:,.0f} events/s")
        print(f"   projected end to end: {project_rate:,.0f} events/s")

        missing = args.events - end_of_log(platform)
        feed.stop()
        feed = None
        print(f"\n4. rebuild of {args.events:,} events")
        if missing > 0:
            rate = load(platform, missing, args.threads)
            print(f"   stored {missing:,} more at {rate:,.0f} events/s")
        cpu = time.process_time()
        read_count, read_rate = bare_read(platform)
        read_cpu = time.process_time() - cpu
        print(
            f"   bare library read (select + mapper, batches of 2,000): {read_rate:,.0f} events/s"
            f" ({read_cpu / read_count * 1e6:.0f} us of this process's CPU per event)"
        )
        python = timed_rebuild(platform, inside=False)
        print(f"   rebuild replaying in Python: {python}")
        inside = [timed_rebuild(platform, inside=True) for _ in range(args.rebuilds)]
        for n, each in enumerate(inside, 1):
            print(f"   rebuild inside the database, run {n}: {each}")
        rebuild_rate = statistics.median(each.rate for each in inside)
        for each in (python, *inside):
            if each.events != read_count:
                raise BenchError(
                    f"the rebuild replayed {each.events:,} events, the log has {read_count:,}"
                )

        print("\nsummary")
        print(f"   bare produce {produced:,.0f}/s, bare consume {consumed:,.0f}/s")
        print(
            f"   relay {relay_rate:,.0f}/s ({relay_rate / produced:.2f} of bare produce), "
            f"end to end {project_rate:,.0f}/s ({project_rate / consumed:.2f} of bare consume)"
        )
        bare_cpu = CPU_US["produce"] + CPU_US["consume"]
        print(
            f"   CPU per event, this process: catch-up (relay + feed) {CPU_US['catch-up']:.0f} us;"
            f" bare produce {CPU_US['produce']:.0f} + consume {CPU_US['consume']:.0f} us,"
            f" ratio bare / catch-up {bare_cpu / CPU_US['catch-up']:.2f}"
        )
        print(f"   lag p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms at {reached:,.0f}/s")
        print(
            f"   rebuild {rebuild_rate:,.0f} events/s, median of {len(inside)} "
            f"({rebuild_rate / read_rate:.2f} of the bare library read, "
            f"{rebuild_rate / python.rate:.2f} of the replay in Python)"
        )
        met = "met" if p99 < LAG_TARGET_MS else "NOT met"
        print(f"target commit-to-projection lag p99 < {LAG_TARGET_MS:.0f} ms: {met}")
        met = "met" if rebuild_rate >= REBUILD_TARGET else "NOT met"
        print(f"target rebuild >= {REBUILD_TARGET:,.0f} events/s: {met}")
    finally:
        if feed is not None:
            feed.stop()
        if platform is not None:
            platform.close()
        if bootstrap:
            try:
                delete_topics(bootstrap, [bare_topic, f"{prefix}.events"])
            except Exception as exc:
                print(f"(could not delete the benchmark's topics: {exc!r})", file=sys.stderr)
        if url:
            try:
                drop_schema(url, schema)
            except Exception as exc:
                print(f"(could not drop schema {schema}: {exc!r})", file=sys.stderr)
        print("stopping Kafka and PostgreSQL", flush=True)
        try:
            local_kafka.stop(KAFKA_DIR)
        finally:
            stop_postgres()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=int,
        default=100_000,
        help="events in the store for the rebuild, and bare records",
    )
    parser.add_argument(
        "--backlog", type=int, default=20_000, help="events stored with the relay stopped"
    )
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0, help="campaigns/s in the lag phase")
    parser.add_argument("--threads", type=int, default=4, help="threads loading the store")
    parser.add_argument(
        "--rebuilds", type=int, default=3, help="rebuilds inside the database (median reported)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if min(args.events, args.rate, args.lag_seconds, args.threads) <= 0 or args.backlog < 0:
        parser.error("--events, --rate, --lag-seconds and --threads must be positive")
    try:
        run(args)
    except BenchError as exc:
        print(f"pipeline benchmark: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
