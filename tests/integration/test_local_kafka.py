"""The real Kafka broker that ./infra/test starts (infra/local_kafka.py) speaks to our client.

Without `CAMPAIGNS_TEST_KAFKA_BOOTSTRAP` these tests fail; they are never skipped.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

BOOTSTRAP_VARIABLE = "CAMPAIGNS_TEST_KAFKA_BOOTSTRAP"


def kafka_bootstrap() -> str:
    address = os.environ.get(BOOTSTRAP_VARIABLE, "").strip()
    if not address:
        pytest.fail(
            f"{BOOTSTRAP_VARIABLE} is not set, so the Kafka tests cannot run. Run them with "
            "./infra/test, which starts a throwaway Kafka broker and sets it; these tests are "
            "never skipped.",
            pytrace=False,
        )
    return address


@pytest.fixture
def bootstrap() -> str:
    return kafka_bootstrap()


@pytest.fixture
def admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-local-kafka")
    try:
        yield client
    finally:
        client.close()


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(admin: KafkaAdminClient, name: str, partitions: int = 1) -> None:
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=0
    )
    try:
        for index, value in enumerate(values):
            producer.send(topic, key=str(index).encode(), value=value).get(timeout=10)
    finally:
        producer.close(timeout=5)


def consume(consumer: KafkaConsumer, count: int) -> list[bytes]:
    """Poll until ``count`` records arrived (or ~30 s passed)."""
    values: list[bytes] = []
    for _ in range(150):
        for records in consumer.poll(timeout_ms=200).values():
            values.extend(record.value for record in records)
        if len(values) >= count:
            break
    return values


def group_consumer(bootstrap: str, group: str, topic: str) -> KafkaConsumer:
    """A group member subscribed to `topic`, once its metadata shows the topic's partitions
    (a group whose leader joins without them starts with no partitions at all)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    deadline = time.monotonic() + 30
    while not consumer.partitions_for_topic(topic):
        assert time.monotonic() < deadline, f"no partitions of {topic} in the metadata"
        time.sleep(0.1)
    consumer.subscribe([topic])
    return consumer


def test_topic_creation_is_visible(admin: KafkaAdminClient) -> None:
    topic = unique_topic("created")
    create_topic(admin, topic, partitions=3)
    assert topic in admin.list_topics()
    [description] = admin.describe_topics([topic])
    assert len(description["partitions"]) == 3


def test_records_round_trip_with_manual_commits(bootstrap: str, admin: KafkaAdminClient) -> None:
    topic = unique_topic("round-trip")
    group = unique_topic("group")
    create_topic(admin, topic)
    sent = [f"message {n}".encode() for n in range(5)]
    produce(bootstrap, topic, sent)

    consumer = group_consumer(bootstrap, group, topic)
    try:
        assert consume(consumer, len(sent)) == sent
        consumer.commit()
        assert consumer.committed(TopicPartition(topic, 0)) == len(sent)
    finally:
        consumer.close(autocommit=False)

    # The committed offsets survive the consumer: a new member of the group starts after them.
    produce(bootstrap, topic, [b"later"])
    consumer = group_consumer(bootstrap, group, topic)
    try:
        assert consume(consumer, 1) == [b"later"]
    finally:
        consumer.close(autocommit=False)
