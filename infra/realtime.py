"""The realtime rows kept current, and the feeds that carry their changes to the WebSocket
hubs of the gateways.

- `RealtimeWorker` (with the projectors: the serving process on the embedded default,
  `campaigns project` in the scale-out topology) refreshes the rows of marked campaigns.
- On the embedded default each hub follows the change log in the read models' database
  (`ChangeLogFeed`), woken at once by the worker of its own process.
- In the scale-out topology `RealtimePublisher` publishes the change log to the
  `<prefix>.realtime` topic (one partition, in order) and every gateway follows that topic
  with its own consumer (`KafkaRealtimeFeed`).

A feed hands the hub a snapshot first (`reset`), then changes in order (`deliver`); when it
sees a gap (a change log that no longer reaches back, records lost to retention) it hands
over a fresh snapshot instead.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from infra.relay import broker_connection, ensure_topic, new_producer
from infra.settings import KafkaSecurity
from projections.identity import check_records, header
from projections.realtime import RealtimeRows, Row

log = logging.getLogger(__name__)

Change = tuple[int, Row]
Deliver = Callable[[list[Change]], None]
Reset = Callable[[int, list[Row]], None]

REFRESH_SECONDS = 0.05  # how often the worker looks for marks when nobody woke it
RATE_SECONDS = 5.0  # how often sending campaigns are redrawn for their send rate
PRUNE_SECONDS = 60.0
FOLLOW_SECONDS = 0.25  # how often a change-log feed looks for other processes' changes
PUBLISH_BATCH = 1000
SEND_TIMEOUT = 120.0


class RealtimeFeed(Protocol):
    def start(self, deliver: Deliver, reset: Reset) -> None: ...

    def stop(self) -> None: ...


class Worker:
    """A background loop that runs `step` when woken, or every `interval` seconds."""

    name = "worker"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lock = threading.Lock()  # one step at a time, from its thread or a caller's
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def step(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()  # before the step: a nudge during it means another step
            try:
                with self.lock:
                    self.step()
            except Exception:  # a bad moment of the database or the broker: try again
                log.exception("%s failed; trying again", self.name)
                self.stopping.wait(1)
            self.wake.wait(self.interval)

    def nudge(self, *_args: object) -> None:
        self.wake.set()

    def step_now(self, *_args: object) -> None:
        """Runs a step in the caller's thread (a listener that has just committed): one
        thread hop fewer between a commit and the walls."""
        if self.stopping.is_set() or self.thread is None:
            return
        try:
            with self.lock:
                self.step()
        except Exception:
            log.exception("%s failed; its thread tries again", self.name)
            self.wake.set()

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=10)


class RealtimeWorker(Worker):
    """Refreshes the rows of marked campaigns; tells its listeners the new position."""

    name = "realtime-rows"

    def __init__(self, rows: RealtimeRows, interval: float = REFRESH_SECONDS) -> None:
        super().__init__(interval)
        self.rows = rows
        self.listeners: list[Callable[[int], None]] = []
        self.position = -1
        self.rated_at = self.pruned_at = time.monotonic()
        self.keep_from: Callable[[], int] | None = None  # unpublished changes stay

    def step(self) -> None:
        now = time.monotonic()
        if now - self.rated_at >= RATE_SECONDS:
            self.rated_at = now
            self.rows.mark_sending()
        while self.rows.pending():
            position = self.rows.refresh()
            self.tell(position)
        if self.position < 0:
            self.tell(self.rows.position())
        if now - self.pruned_at >= PRUNE_SECONDS:
            self.pruned_at = now
            self.rows.prune(below=self.keep_from() if self.keep_from else None)

    def tell(self, position: int) -> None:
        if position != self.position:
            self.position = position
            for listener in self.listeners:
                listener(position)


class ChangeLogFeed(Worker):
    """Follows the change log in the database (the embedded default)."""

    name = "realtime-change-log"

    def __init__(self, rows: RealtimeRows, interval: float = FOLLOW_SECONDS) -> None:
        super().__init__(interval)
        self.rows = rows
        self.position = -1
        self.deliver: Deliver = lambda _changes: None
        self.reset: Reset = lambda _position, _rows: None

    def start(self, deliver: Deliver, reset: Reset) -> None:  # type: ignore[override]
        self.deliver, self.reset = deliver, reset
        super().start()

    def step(self) -> None:
        if self.position < 0:
            self.snapshot()
        while True:
            changes = self.rows.changes_after(self.position)
            if changes is None:
                self.snapshot()  # the log no longer reaches back to where this feed was
                continue
            if not changes:
                return
            self.position = changes[-1][0]
            self.deliver(changes)

    def snapshot(self) -> None:
        self.position, rows = self.rows.snapshot()
        self.reset(self.position, rows)


PUBLISHED = "realtime-published"  # its row in projection_tracking


class RealtimePublisher(Worker):
    """Publishes the change log to Kafka in order, then records how far it got. After a
    crash it publishes again from there: consumers skip numbers they have seen."""

    name = "realtime-publisher"

    def __init__(
        self,
        rows: RealtimeRows,
        bootstrap: str,
        topic: str,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
    ) -> None:
        super().__init__(REFRESH_SECONDS)
        self.store = store
        self.security = security
        self.rows = rows
        self.bootstrap = bootstrap
        self.topic = topic
        self.replication = replication
        self.producer: Any = None
        self.published = -1

    def step(self) -> None:
        if self.producer is None:
            ensure_topic(self.bootstrap, self.topic, self.replication, self.security)
            self.producer = new_producer(self.bootstrap, self.security)
        if self.published < 0:
            self.published = self.read_published()
        while changes := self.rows.changes_after(self.published, PUBLISH_BATCH):
            futures = [
                self.producer.send(
                    self.topic,
                    key=row["id"].encode(),
                    value=json.dumps(row, separators=(",", ":")).encode(),
                    headers=[header(self.store), ("seq", str(seq).encode())],
                )
                for seq, row in changes
            ]
            self.producer.flush(timeout=SEND_TIMEOUT)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT)
            self.published = changes[-1][0]
            self.write_published(self.published)
        if changes is None:  # pruned past what was published: nothing older is left
            self.published = self.rows.position()
            self.write_published(self.published)

    def read_published(self) -> int:
        with self.rows.database.read() as cursor:
            cursor.execute(
                "SELECT position FROM projection_tracking WHERE projection = ?", (PUBLISHED,)
            )
            found = cursor.fetchone()
        return int(found[0]) if found else 0

    def write_published(self, position: int) -> None:
        with self.rows.database.transaction() as cursor:
            cursor.execute(
                "INSERT INTO projection_tracking (projection, position) VALUES (?, ?) "
                "ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                (PUBLISHED, position),
            )

    def stop(self) -> None:
        super().stop()
        if self.producer is not None:
            self.producer.close(timeout=10)


class KafkaRealtimeFeed:
    """Follows the realtime topic with a consumer of its own (no group: every gateway sees
    every change). It moves to the end of the topic first, then reads the snapshot from the
    database: a change missing from the snapshot was committed after it, so it was
    published after that end and is read."""

    def __init__(
        self,
        rows: RealtimeRows,
        bootstrap: str,
        topic: str,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
    ) -> None:
        self.store = store  # changes another store published are refused
        self.security = security
        self.rows = rows
        self.bootstrap = bootstrap
        self.topic = topic
        self.replication = replication
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.position = -1

    def start(self, deliver: Deliver, reset: Reset) -> None:
        self.deliver, self.reset = deliver, reset
        self.thread = threading.Thread(target=self.run, name="realtime-kafka", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.follow()
            except Exception:
                log.exception("the realtime feed from Kafka failed; starting again")
                self.stopping.wait(1)

    def follow(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        ensure_topic(self.bootstrap, self.topic, self.replication, self.security)
        consumer = KafkaConsumer(
            **broker_connection(self.bootstrap, self.security),
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        try:
            partition = TopicPartition(self.topic, 0)
            consumer.assign([partition])
            consumer.seek_to_end(partition)
            consumer.position(partition)  # resolves the end now, before the snapshot
            self.snapshot()
            while not self.stopping.is_set():
                batches = consumer.poll(timeout_ms=100, max_records=PUBLISH_BATCH)
                check_records(self.store, self.topic, batches)
                changes = [
                    (seq_of(record), json.loads(record.value))
                    for batch in batches.values()
                    for record in batch
                ]
                self.take(changes)
        finally:
            consumer.close(autocommit=False)

    def take(self, changes: list[Change]) -> None:
        fresh = [change for change in changes if change[0] > self.position]
        if not fresh:
            return
        if fresh[0][0] != self.position + 1:
            self.snapshot()  # records lost on the way (retention, a topic recreated)
            fresh = [change for change in fresh if change[0] > self.position]
            if not fresh:
                return
        self.position = fresh[-1][0]
        self.deliver(fresh)

    def snapshot(self) -> None:
        self.position, rows = self.rows.snapshot()
        self.reset(self.position, rows)

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=10)


def seq_of(record: Any) -> int:
    return next(int(value) for key, value in record.headers if key == "seq")
