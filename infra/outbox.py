"""Per-message activity onto Kafka: the outbox of counter changes, published in batches.

Every write of the activity tables keeps its counter changes as one outbox row in the same
transaction (`Stats.count`). The publisher takes the oldest rows no other publisher
holds, sends them (idempotent producer, `acks=all`), and deletes them in the same database
transaction once the broker has them all. A crash in between sends them again; the stats
projector applies each record id once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from infra.relay import ensure_topic, new_producer
from infra.settings import KafkaSecurity
from projections.database import Database
from projections.identity import header

log = logging.getLogger(__name__)

BATCH = 500
POLL_SECONDS = 0.02
SEND_TIMEOUT = 120.0


class OutboxPublisher:
    def __init__(
        self,
        database: Database,
        bootstrap: str,
        topic: str,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
    ):
        self.database = database
        self.security = security
        self.store = store
        self.bootstrap = bootstrap
        self.topic = topic
        self.replication = replication
        self.stopping = threading.Event()
        self.published = 0  # records published by this process (a metric)

    def run(self) -> None:
        """Publishes until stopped, starting again after a failure."""
        while not self.stopping.is_set():
            try:
                self.publish_until_stopped()
            except Exception:
                log.exception("the activity outbox publisher failed; starting again")
                self.stopping.wait(1)

    def publish_until_stopped(self) -> None:
        ensure_topic(self.bootstrap, self.topic, self.replication, self.security)
        producer = new_producer(self.bootstrap, self.security)
        try:
            while not self.stopping.is_set():
                if not self.publish_batch(producer):
                    self.stopping.wait(POLL_SECONDS)
        finally:
            producer.close(timeout=10)

    def publish_batch(self, producer: Any) -> int:
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT id, record FROM activity_outbox ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                (BATCH,),
            )
            rows = cursor.fetchall()
            if not rows:
                return 0
            futures = [
                producer.send(
                    self.topic,
                    key=str(row[0]).encode(),
                    value=str(row[1]).encode(),
                    headers=[header(self.store)],
                )
                for row in rows
            ]
            producer.flush(timeout=SEND_TIMEOUT)
            for future in futures:
                future.get(timeout=SEND_TIMEOUT)
            cursor.execute(
                "DELETE FROM activity_outbox WHERE id = ANY(?)", ([int(row[0]) for row in rows],)
            )
        self.published += len(rows)
        return len(rows)

    def stop(self) -> None:
        self.stopping.set()


def backlog(database: Database) -> int:
    """Counter changes waiting in the outbox for a publisher (rows a publisher holds
    count until the broker has them)."""
    with database.read() as cursor:
        cursor.execute("SELECT count(*) FROM activity_outbox")
        row = cursor.fetchone()
    return int(row[0]) if row else 0
