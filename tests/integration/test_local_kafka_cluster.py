"""The three-node Kafka cluster of infra/local_kafka.py: real brokers, replication factor 3 and
min.insync.replicas=2, so writes acknowledged by all in-sync replicas outlive their leader."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from infra import local_kafka

PORTS = (29131, 29132, 29133)
CONTROLLER_PORTS = (29134, 29135, 29136)


@dataclass(frozen=True)
class Cluster:
    folder: Path
    bootstrap: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the module: starting three JVMs costs seconds. Each test leaves every
    node running."""
    folder = tmp_path_factory.mktemp("kafka-cluster")
    try:
        yield Cluster(folder, local_kafka.start_cluster(folder, PORTS, CONTROLLER_PORTS))
    finally:
        local_kafka.stop_cluster(folder)


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.1)


def create_replicated_topic(bootstrap: str) -> str:
    topic = f"replicated-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)])
    finally:
        admin.close()
    eventually(
        lambda: local_kafka.partition_leader(bootstrap, topic) is not None,
        f"a leader for {topic}",
    )
    return topic


def partition_state(bootstrap: str, topic: str) -> dict[str, Any]:
    """The topic's one partition as the brokers describe it, once their metadata has it (a
    topic just made may be described for a moment without its partition)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        deadline = time.monotonic() + 30
        while True:
            [described] = admin.describe_topics([topic])
            if described["partitions"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        admin.close()
    [state] = described["partitions"]
    return dict(state)


def acks_all_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        retries=2**31 - 1,
        linger_ms=0,
        delivery_timeout_ms=60_000,
        reconnect_backoff_ms=50,
        reconnect_backoff_max_ms=1000,
    )


def send_acknowledged(producer: KafkaProducer, topic: str, values: list[bytes]) -> None:
    for value in values:
        producer.send(topic, value=value).get(timeout=60)


def read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    """Every record of the topic's partition 0 from the start, once ``count`` arrived."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        deadline = time.monotonic() + 30
        while len(values) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                values.extend(record.value for record in records)
    finally:
        consumer.close(autocommit=False)
    return values


def test_the_cluster_runs_three_brokers_and_takes_writes_acknowledged_by_all(
    cluster: Cluster,
) -> None:
    assert cluster.bootstrap == "127.0.0.1:29131,127.0.0.1:29132,127.0.0.1:29133"
    assert local_kafka.live_brokers(cluster.bootstrap) == {1, 2, 3}
    assert all(local_kafka.node_pid(cluster.folder, node) is not None for node in (1, 2, 3))
    # Starting it again reuses the running nodes.
    again = local_kafka.start_cluster(cluster.folder, PORTS, CONTROLLER_PORTS)
    assert again == cluster.bootstrap

    topic = create_replicated_topic(cluster.bootstrap)
    state = partition_state(cluster.bootstrap, topic)
    assert sorted(state["replica_nodes"]) == [1, 2, 3]

    sent = [f"record {n}".encode() for n in range(10)]
    producer = acks_all_producer(cluster.bootstrap)
    try:
        send_acknowledged(producer, topic, sent)
    finally:
        producer.close(timeout=5)
    assert read_all(cluster.bootstrap, topic, len(sent)) == sent


def test_acknowledged_writes_outlive_a_killed_leader_and_the_node_rejoins(
    cluster: Cluster,
) -> None:
    topic = create_replicated_topic(cluster.bootstrap)
    leader = local_kafka.partition_leader(cluster.bootstrap, topic)
    assert leader is not None
    before = [f"before {n}".encode() for n in range(20)]
    after = [f"after {n}".encode() for n in range(20)]
    producer = acks_all_producer(cluster.bootstrap)
    try:
        send_acknowledged(producer, topic, before)

        local_kafka.kill_node(cluster.folder, leader, signal.SIGKILL)
        assert local_kafka.node_pid(cluster.folder, leader) is None
        # Two replicas are left, as many as min.insync.replicas asks for: the producer's
        # retries reach the new leader and every write is acknowledged.
        send_acknowledged(producer, topic, after)
    finally:
        producer.close(timeout=5)

    new_leader = local_kafka.partition_leader(cluster.bootstrap, topic)
    assert new_leader is not None
    assert new_leader != leader
    assert leader not in local_kafka.live_brokers(cluster.bootstrap)
    assert read_all(cluster.bootstrap, topic, len(before) + len(after)) == before + after

    local_kafka.start_node(cluster.folder, leader)
    assert local_kafka.node_pid(cluster.folder, leader) is not None
    assert local_kafka.live_brokers(cluster.bootstrap) == {1, 2, 3}
    eventually(
        lambda: leader in partition_state(cluster.bootstrap, topic)["isr_nodes"],
        f"node {leader} back in the in-sync replicas of {topic}",
    )
