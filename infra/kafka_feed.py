"""The scale-out feed: the events topic into a projector, exactly once in effect.

Offsets are managed by hand: the projector writes its rows, the offset after the records and
the last position applied per partition in one transaction, and on (re)assignment the
consumer is moved to the offsets stored there, not to what Kafka remembers. Offsets are
committed to Kafka as well, only so that its tools can show the group's lag.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import msgspec

from infra.relay import broker_connection, ensure_topic
from infra.settings import KafkaSecurity
from projections.activity import Stats
from projections.identity import check_records
from projections.messages import EventMessage
from projections.projector import PartitionBatch, Projector

log = logging.getLogger(__name__)

POLL_MS = 200  # how long a poll waits here when nothing comes (a stop is seen after it)
# How long the broker holds a fetch that finds nothing new. It answers as soon as a record
# arrives, so neither costs latency: they only spare idle round trips.
FETCH_WAIT_MS = 500
# The stats feed instead lets the broker gather records: a fetch is answered once it has
# this much, or after STATS_FETCH_WAIT_MS. While messages go out, the activity topic gets
# a record for each write of a batch, and a fetch for each cost the projector and the
# broker more than applying the record did (the stats show it up to 0.1 s later).
STATS_FETCH_MIN_BYTES = 64 * 1024
STATS_FETCH_WAIT_MS = 100
METADATA_SECONDS = 30.0
MAX_RECORDS = 2000
REPORT_SECONDS = 1.0  # how often the group's offsets are committed to Kafka, at most

decode_json = msgspec.json.Decoder().decode  # the json module's result, in a fraction of its time


def decode(value: bytes) -> list[EventMessage]:
    """The messages of a record: a JSON array of them, or one (as records were first)."""
    found = decode_json(value)
    if isinstance(found, list):
        return [EventMessage.from_json(each) for each in found]
    return [EventMessage.from_json(found)]


class KafkaFeed:
    fetch_wait_ms = FETCH_WAIT_MS
    fetch_min_bytes = 1

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        projector: Projector,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.store = store  # records another store published are refused
        self.replication = replication
        self.topic = topic
        self.projector = projector
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.consumed = 0  # messages applied by this process (a metric)
        self.lags: dict[int, int] = {}  # per partition, records behind its end (a metric)
        self.name = projector.name

    def new_consumer(self) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            **broker_connection(self.bootstrap, self.security),
            group_id=f"{self.topic}.{self.name}",  # one group per deployment
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_RECORDS,
            fetch_max_wait_ms=self.fetch_wait_ms,
            fetch_min_bytes=self.fetch_min_bytes,
            metadata_max_age_ms=10_000,
        )

    def run(self) -> None:
        """Consumes until stopped, starting again after a failure."""
        while not self.stopping.is_set():
            try:
                self.consume()
            except Exception:
                log.exception("the Kafka feed of %s failed; starting again", self.projector.name)
                self.stopping.wait(1)

    def consume(self) -> None:
        ensure_topic(self.bootstrap, self.topic, self.replication, self.security)
        consumer = self.new_consumer()
        try:
            # Partitions are assigned by hand, not by a consumer group: the offsets live in
            # the database anyway, and no rebalance can stall the feed (waiting out a killed
            # member's session, or a topic the group leader does not know yet). Two feeders
            # of one projection take turns on its tracking rows and skip what the other did.
            partitions = self.partitions(consumer)
            consumer.assign(partitions)
            stored = self.next_offsets()
            for partition in partitions:
                if partition.partition in stored:
                    consumer.seek(partition, stored[partition.partition])
                else:
                    consumer.seek_to_beginning(partition)
            # The offsets that count are those stored with the rows; the group's committed
            # offsets only tell Kafka's tools how far the feed is, so they go at most once
            # every REPORT_SECONDS (each commit is a write of the broker's).
            unreported: dict[Any, Any] = {}
            reported_at = time.monotonic()
            while not self.stopping.is_set():
                records = consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
                if records:
                    check_records(self.store, self.topic, records)
                    self.apply(records)
                for tp, batch in records.items():
                    unreported[tp] = _offset(batch[-1].offset + 1)
                    end = consumer.highwater(tp)
                    if end is not None:
                        self.lags[tp.partition] = max(0, end - batch[-1].offset - 1)
                if unreported and time.monotonic() - reported_at >= REPORT_SECONDS:
                    consumer.commit_async(dict(unreported))
                    unreported.clear()
                    reported_at = time.monotonic()
        finally:
            consumer.close(autocommit=False)

    def partitions(self, consumer: Any) -> list[Any]:
        """The topic's partitions, once the broker's metadata shows them."""
        from kafka import TopicPartition

        waited = 0.0
        while not self.stopping.is_set():
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, number) for number in sorted(found)]
            if waited > METADATA_SECONDS:
                raise RuntimeError(f"the broker shows no partitions for {self.topic}")
            self.stopping.wait(0.1)
            waited += 0.1
        return []

    def next_offsets(self) -> dict[int, int]:
        return self.projector.next_offsets(self.topic)

    def apply(self, records: dict[Any, list[Any]]) -> None:
        batches = [
            PartitionBatch(
                partition=tp.partition,
                next_offset=batch[-1].offset + 1,
                messages=[message for record in batch for message in decode(record.value)],
            )
            for tp, batch in records.items()
        ]
        self.consumed += self.projector.handle_partitions(self.topic, batches)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="kafka-feed", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=10)


def _offset(offset: int) -> Any:
    from kafka.structs import OffsetAndMetadata

    return OffsetAndMetadata(offset, "", -1)


STATS = "activity_stats"


class StatsFeed(KafkaFeed):
    """The activity topic into the stats: outbox records applied once each, with the
    offsets read up to, in one transaction."""

    fetch_wait_ms = STATS_FETCH_WAIT_MS
    fetch_min_bytes = STATS_FETCH_MIN_BYTES

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        projector: Projector,
        stats: Stats,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
    ) -> None:
        super().__init__(
            bootstrap, topic, projector, store, security=security, replication=replication
        )
        self.stats = stats
        self.name = STATS

    def next_offsets(self) -> dict[int, int]:
        with self.projector.database.read() as cursor:
            cursor.execute(
                "SELECT partition_no, next_offset FROM projection_partitions "
                "WHERE projection = ? AND topic = ?",
                (STATS, self.topic),
            )
            return {int(p): int(o) for p, o in cursor.fetchall()}

    def apply(self, records: dict[Any, list[Any]]) -> None:
        with self.projector.database.transaction() as cursor:
            for tp, batch in records.items():
                self.consumed += self.stats.apply_records(
                    cursor, [(int(record.key), record.value.decode()) for record in batch]
                )
                cursor.execute(
                    "INSERT INTO projection_partitions "
                    "(projection, topic, partition_no, next_offset, position) "
                    "VALUES (?, ?, ?, ?, 0) ON CONFLICT (projection, topic, partition_no) "
                    "DO UPDATE SET next_offset = excluded.next_offset",
                    (STATS, self.topic, tp.partition, batch[-1].offset + 1),
                )
