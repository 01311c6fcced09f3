"""The relay: the store's notification log onto Kafka, in order, at least once.

It tails the log from a position it keeps in PostgreSQL, publishes the events it read as
versioned integration messages (the public shape of `projections.messages`, not the stored
bytes), many to a record (a JSON array, its last position in a header), waits until the
broker has every record of a batch (idempotent producer, `acks=all`), and only then moves
its position on. A crash between the two publishes a batch again; projectors skip what they
have by position. Consumers read a record holding one message (a JSON object) as well.

One relay is active at a time: it holds a PostgreSQL advisory lock for as long as it runs,
and a second one waits for the lock (a warm standby).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from infra.settings import KafkaSecurity
from projections.identity import header
from projections.messages import MESSAGE_VERSION, EventMessage

log = logging.getLogger(__name__)

# msgspec writes the same JSON as the json module (UTF-8, compact) in a fraction of its time.
encode_json = msgspec.json.Encoder().encode

BATCH = 1000
# Messages packed in one record, at most: the client and the broker spend their time per
# record, not per byte (a record each cost more than reading and projecting the event).
RECORD_MESSAGES = 500
RECORD_BYTES = 256 * 1024  # well under the broker's limit of 1 MiB per record
POLL_SECONDS = 0.02  # the SQL log cannot push: poll it often, it is one indexed query
LOCK_RETRY_SECONDS = 1.0
SEND_TIMEOUT = 120.0

TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS relay_tracking (
    topic TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""


def lock_key(name: str) -> int:
    """A 64-bit advisory lock key for a name (the schema and topic make it unique)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def encode(message: EventMessage, store: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the record that carries a message of this store."""
    headers = [
        header(store),
        ("position", str(message.position).encode()),
        ("message-version", str(MESSAGE_VERSION).encode()),
        ("type", message.type.encode()),
    ]
    return message.aggregate_id.encode(), encode_json(message.to_json()), headers


def encode_many(
    messages: list[EventMessage], store: str
) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) of the records that carry these messages, in order: each a JSON
    array of up to RECORD_MESSAGES of them and up to RECORD_BYTES (a larger message alone,
    as big as it was when each had its own record), its last position in the `position`
    header, keyed by the store (one key: one partition, in order, whatever the topic's
    partitions)."""
    records = []
    values: list[bytes] = []
    size = 0
    position = 0

    def close() -> None:
        headers = [
            header(store),
            ("position", str(position).encode()),
            ("message-version", str(MESSAGE_VERSION).encode()),
            ("messages", str(len(values)).encode()),
        ]
        records.append((store.encode(), b"[" + b",".join(values) + b"]", headers))

    for message in messages:
        value = encode_json(message.to_json())
        if values and (len(values) >= RECORD_MESSAGES or size + len(value) > RECORD_BYTES):
            close()
            values, size = [], 0
        values.append(value)
        size += len(value) + 1
        position = message.position
    if values:
        close()
    return records


# Back off at most a second between attempts to reach a broker (the library's default grows
# to 30 s): a broker back from a restart is used again at once.
RECONNECT = {"reconnect_backoff_ms": 50, "reconnect_backoff_max_ms": 1000}


def broker_connection(bootstrap: str, security: KafkaSecurity) -> dict[str, Any]:
    """The keyword arguments every Kafka client of the platform is built with: the brokers,
    how to reach them (TLS, SASL) and how soon to try again."""
    return {"bootstrap_servers": bootstrap.split(","), **RECONNECT, **security.client_arguments()}


def new_producer(bootstrap: str, security: KafkaSecurity) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        **broker_connection(bootstrap, security),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        # kafka-python checks each batch's CRC in Python, byte by byte (about 0.1 us a byte
        # on each side): gzip (zlib, in C) makes the bytes it checks ten times fewer.
        compression_type="gzip",
        max_in_flight_requests_per_connection=5,  # order is kept with idempotence
        retries=2**31 - 1,
        delivery_timeout_ms=int(SEND_TIMEOUT * 1000),
    )


def ensure_topic(bootstrap: str, topic: str, replication: int, security: KafkaSecurity) -> None:
    """Creates the events topic if it is missing: one partition, so that every consumer
    sees the store's order (positions) exactly as the log has it."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**broker_connection(bootstrap, security), request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=replication)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


class Relay:
    def __init__(
        self,
        read: Callable[[int, int], list[EventMessage]],
        database_url: str,
        schema: str,
        bootstrap: str,
        topic: str,
        store: str,
        *,
        security: KafkaSecurity,
        replication: int = 1,
        producer_factory: Callable[[str, KafkaSecurity], Any] = new_producer,
    ) -> None:
        self.store = store
        self.security = security
        self.replication = replication
        self.read = read
        self.database_url = database_url
        self.schema = schema
        self.bootstrap = bootstrap
        self.topic = topic
        self.producer_factory = producer_factory
        self.stopping = threading.Event()
        self.published = 0  # messages published by this process (a metric)
        self.position = 0

    def run(self, on_active: Callable[[], None] | None = None) -> None:
        """Waits to be the active relay, then publishes until stopped."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute(f'SET search_path TO "{self.schema}"')
            key = lock_key(f"relay:{self.schema}:{self.topic}")
            while not connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
                if self.stopping.wait(LOCK_RETRY_SECONDS):
                    return
            log.info("relay active for %s", self.topic)
            connection.execute(TRACKING_TABLE)  # under the lock: no race to create it
            ensure_topic(self.bootstrap, self.topic, self.replication, self.security)
            if on_active:
                on_active()
            producer = self.producer_factory(self.bootstrap, self.security)
            try:
                self.publish_until_stopped(connection, producer)
            finally:
                producer.close(timeout=10)

    def publish_until_stopped(self, connection: Any, producer: Any) -> None:
        self.position = self.stored_position(connection)
        while not self.stopping.is_set():
            messages = self.read(self.position, BATCH)
            if not messages:
                self.stopping.wait(POLL_SECONDS)
                continue
            self.publish(producer, messages)
            self.position = messages[-1].position
            connection.execute(
                "INSERT INTO relay_tracking (topic, position) VALUES (%s, %s) "
                "ON CONFLICT (topic) DO UPDATE SET position = excluded.position",
                (self.topic, self.position),
            )

    def publish(self, producer: Any, messages: list[EventMessage]) -> None:
        """Sends a batch and returns once the broker has acknowledged all of it."""
        futures = [
            producer.send(self.topic, key=key, value=value, headers=headers)
            for key, value, headers in encode_many(messages, self.store)
        ]
        producer.flush(timeout=SEND_TIMEOUT)
        for future in futures:
            future.get(timeout=SEND_TIMEOUT)  # raises if the broker refused one
        self.published += len(messages)

    def stored_position(self, connection: Any) -> int:
        row = connection.execute(
            "SELECT position FROM relay_tracking WHERE topic = %s", (self.topic,)
        ).fetchone()
        return int(row[0]) if row else 0

    def stop(self) -> None:
        self.stopping.set()


def run_relay(relay: Relay) -> None:
    """Runs a relay, starting again after a failure (the broker or the database away)."""
    while not relay.stopping.is_set():
        try:
            relay.run()
        except Exception:
            log.exception("the relay failed; starting again")
            relay.stopping.wait(1)
        else:
            return
        time.sleep(0)
