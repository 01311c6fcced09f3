"""The scale-out path on the real broker and PostgreSQL: store -> relay -> Kafka -> projector.

The relay and the projector run as real `campaigns` processes where a test kills them;
otherwise in threads of the test's process. Every test ends with `verify`: the read models
equal a fresh replay of the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from infra import local_kafka
from infra.bootstrap import Platform, build
from infra.relay import Relay, encode, run_relay
from infra.settings import Settings, parse_database_url
from projections.identity import ForeignRecord, check_records, header
from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN
from tests.integration.conftest import drop_schema, postgres_url
from tests.integration.scenarios import create, stored_events

KAFKA_VARIABLE = "CAMPAIGNS_TEST_KAFKA_BOOTSTRAP"
ROOT = Path(__file__).resolve().parents[2]


def kafka_bootstrap() -> str:
    bootstrap = os.environ.get(KAFKA_VARIABLE, "").strip()
    if not bootstrap:
        pytest.fail(
            f"{KAFKA_VARIABLE} is not set: run the tests with ./infra/test, which starts a real "
            "Kafka broker; these tests are never skipped.",
            pytrace=False,
        )
    return bootstrap


@pytest.fixture
def scale_out(tmp_path: Path) -> Iterator[Settings]:
    """PostgreSQL in a fresh schema and Kafka under fresh topic names."""
    schema = f"k_{uuid.uuid4().hex[:12]}"
    location = parse_database_url(postgres_url(), schema)
    settings = Settings(
        data_dir=tmp_path,
        postgres=location,
        sending=False,
        kafka=kafka_bootstrap(),
        topic_prefix=f"test-{uuid.uuid4().hex[:12]}",
        read_wait=10.0,
        bootstrap_token=ADMIN_TOKEN,
    )
    try:
        yield settings
    finally:
        drop_schema(location.url, schema)


class Workers:
    """A relay and a projector in threads of this process."""

    def __init__(self, platform: Platform) -> None:
        self.relay = platform.relay()
        self.feed = platform.kafka_feed()
        self.relay_thread = threading.Thread(target=run_relay, args=(self.relay,), daemon=True)

    def __enter__(self) -> Workers:
        self.relay_thread.start()
        self.feed.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.relay.stop()
        self.feed.stop()
        self.relay_thread.join(timeout=15)


def wait_until_projected(platform: Platform, timeout: float = 60.0) -> None:
    target = stored_events(platform)
    deadline = time.monotonic() + timeout
    while platform.projector.position() < target:
        assert time.monotonic() < deadline, (
            f"the read models reached {platform.projector.position()} of {target}"
        )
        time.sleep(0.05)


def test_campaigns_created_over_the_api_reach_the_list_through_kafka(
    scale_out: Settings,
) -> None:
    platform = build(scale_out)
    with (
        TestClient(create_app(platform, own_platform=True), headers=ADMIN_HEADERS) as client,
        Workers(platform),
    ):
        ids = [create(client, name=f"Through Kafka {n}")["id"] for n in range(5)]
        # The API waits for the read models to show its own writes, here fed from Kafka.
        response = client.get("/api/campaigns", params={"per_page": 50})
        assert response.status_code == 200, response.text
        assert {item["id"] for item in response.json()["items"]} == set(ids)
        response = client.patch(f"/api/campaigns/{ids[0]}", json={"name": "Renamed"})
        assert response.status_code == 200, response.text
        wait_until_projected(platform)
        history = platform.campaign_list.history(platform.database, ids[0])
        assert [row["version"] for row in history] == [1, 2]
        assert platform.verify() == []
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["checks"]["kafka"]["ok"] is True
        assert ready["checks"]["kafka"]["position"] == stored_events(platform)
        metrics = client.get("/metrics").text
        assert f"campaigns_events_relayed_total {stored_events(platform)}" in metrics
        assert "campaigns_relayed_lag_events 0" in metrics


def test_a_record_delivered_twice_is_counted_once(scale_out: Settings) -> None:
    platform = build(scale_out)
    with (
        TestClient(create_app(platform, own_platform=True), headers=ADMIN_HEADERS) as client,
        Workers(platform),
    ):
        for n in range(4):
            create(client, name=f"Once {n}")
        wait_until_projected(platform)
        history_before = platform.campaign_list.history(
            platform.database,
            platform.campaign_list.with_statuses(platform.database, ["Draft"])[0][0],
        )
        # Publish the whole log again, as a relay would after a crash before saving its
        # position: every record arrives a second time.
        from infra.relay import new_producer

        producer = new_producer(scale_out.kafka or "", scale_out.kafka_security)
        try:
            for message in platform.read_events(0, 1000):
                key, value, headers = encode(message, platform.store_id)
                producer.send(scale_out.events_topic, key=key, value=value, headers=headers)
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=10)
        marker = create(client, name="After the duplicates")
        wait_until_projected(platform)
        campaign_id = platform.campaign_list.with_statuses(platform.database, ["Draft"])[0][0]
        assert platform.campaign_list.history(platform.database, campaign_id) == history_before
        listed = client.get("/api/campaigns", params={"per_page": 50}).json()
        assert listed["total"] == 5 and marker["id"] in [i["id"] for i in listed["items"]]
        assert platform.verify() == []


def worker(settings: Settings, command: str) -> subprocess.Popen[bytes]:
    assert settings.postgres is not None
    env = {
        **os.environ,
        "CAMPAIGNS_DATABASE_URL": settings.postgres.url,
        "CAMPAIGNS_DATABASE_SCHEMA": settings.postgres.schema,
        "CAMPAIGNS_KAFKA": settings.kafka or "",
        "CAMPAIGNS_KAFKA_TOPIC_PREFIX": settings.topic_prefix,
        "CAMPAIGNS_DATA_DIR": str(settings.data_dir),
        "CAMPAIGNS_SENDING": "off",
    }
    log = (settings.data_dir / f"{command}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", command],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def logs(settings: Settings) -> str:
    return "\n".join(
        f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
        for path in sorted(settings.data_dir.glob("*.log"))
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_the_relay_and_the_projector_killed_mid_stream_lose_and_double_nothing(
    scale_out: Settings,
) -> None:
    platform = build(scale_out)
    try:
        relay, projector = worker(scale_out, "relay"), worker(scale_out, "project")
        writing = threading.Event()
        created: list[str] = []

        def write() -> None:
            for n in range(300):
                campaign = platform.app.create_campaign({"name": f"Stream {n}"}, actor="test")
                created.append(str(campaign.id))
                if n == 30:
                    writing.set()

        writer = threading.Thread(target=write)
        writer.start()
        writing.wait(30)
        for _round in range(2):
            time.sleep(0.3)
            kill(relay)
            relay = worker(scale_out, "relay")
            time.sleep(0.3)
            kill(projector)
            projector = worker(scale_out, "project")
        writer.join(timeout=120)
        try:
            wait_until_projected(platform, timeout=120)
        except AssertionError:
            print(logs(scale_out))
            raise
        with platform.database.transaction() as cursor:
            cursor.execute("SELECT COUNT(*) FROM campaign_list")
            row = cursor.fetchone()
        assert row is not None and int(row[0]) == len(created) == 300
        assert platform.verify() == []
    finally:
        for process in (relay, projector):
            process.terminate()
            process.wait(timeout=30)
        platform.close()


def test_one_relay_is_active_at_a_time(scale_out: Settings) -> None:
    platform = build(scale_out)
    try:
        first, second = platform.relay(), platform.relay()
        active: list[Relay] = []
        threads = [
            threading.Thread(target=r.run, kwargs={"on_active": lambda r=r: active.append(r)})
            for r in (first, second)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while not active and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        assert len(active) == 1
        active[0].stop()
        deadline = time.monotonic() + 30
        while len(active) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(active) == 2  # the standby took over once the first let go
    finally:
        first.stop()
        second.stop()
        for thread in threads:
            thread.join(timeout=15)
        platform.close()


def broker_of(settings: Settings) -> tuple[Path, int]:
    """The tests' broker's folder and port, so that a test can stop and start it."""
    folder = os.environ.get("CAMPAIGNS_TEST_KAFKA_DIR", "").strip()
    if not folder:
        pytest.fail("CAMPAIGNS_TEST_KAFKA_DIR is not set: run the tests with ./infra/test")
    return Path(folder), int((settings.kafka or "").rsplit(":", 1)[1])


def test_the_broker_stopped_and_started_again_mid_stream_loses_nothing(
    scale_out: Settings,
) -> None:
    folder, port = broker_of(scale_out)
    platform = build(scale_out)
    try:
        with Workers(platform):
            for n in range(20):
                platform.app.create_campaign({"name": f"Before {n}"}, actor="test")
            wait_until_projected(platform)  # the pipeline is flowing
            local_kafka.stop(folder)
            for n in range(20):  # the store goes on while the broker is away
                platform.app.create_campaign({"name": f"While down {n}"}, actor="test")
            local_kafka.start(folder, port)
            for n in range(20):
                platform.app.create_campaign({"name": f"After {n}"}, actor="test")
            wait_until_projected(platform, timeout=180)
        with platform.database.transaction() as cursor:
            cursor.execute("SELECT COUNT(*) FROM campaign_list")
            row = cursor.fetchone()
        assert row is not None and int(row[0]) == 60
        assert platform.verify() == []
    finally:
        local_kafka.start(folder, port)  # running again for the tests after this one
        platform.close()


def test_activity_counters_reach_the_stats_through_kafka_once_each(scale_out: Settings) -> None:
    from infra.relay import new_producer
    from projections.activity import Deltas

    platform = build(scale_out)
    publisher, stats = platform.outbox_publisher(), platform.stats_feed()
    thread = threading.Thread(target=publisher.run, daemon=True)
    thread.start()
    stats.start()
    campaign_id = str(uuid.uuid4())
    try:
        for _ in range(10):
            with platform.database.transaction() as cursor:
                deltas = Deltas()
                deltas.add(campaign_id, "sent", 3, variant="v1", domain="go.example.com")
                platform.activity.stats.count(cursor, deltas)
        wait_for_counter(platform, campaign_id, "sent", 30)
        with platform.database.transaction() as cursor:
            cursor.execute("SELECT COUNT(*) FROM activity_outbox")
            row = cursor.fetchone()
        assert row is not None and int(row[0]) == 0  # every record published and removed
        # The same records delivered again (a publisher that crashed before deleting them).
        producer = new_producer(scale_out.kafka or "", scale_out.kafka_security)
        try:
            # Outbox ids start at 1 in a fresh schema: these are the ten records above.
            record = json.dumps(
                {"v": 1, "counters": [[campaign_id, "v1", "go.example.com", None, "sent", 3]]}
            )
            for record_id in range(1, 11):
                producer.send(
                    scale_out.activity_topic,
                    key=str(record_id).encode(),
                    value=record.encode(),
                    headers=[header(platform.store_id)],  # as the publisher sends them
                )
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=10)
        marker = str(uuid.uuid4())
        with platform.database.transaction() as cursor:
            deltas = Deltas()
            deltas.add(marker, "sent", 1)
            platform.activity.stats.count(cursor, deltas)
        wait_for_counter(platform, marker, "sent", 1)  # everything before it was read
        assert platform.activity.stats.campaign_counters(campaign_id)["sent"] == 30
    finally:
        publisher.stop()
        stats.stop()
        thread.join(timeout=15)
        platform.close()


def wait_for_counter(platform: Platform, campaign_id: str, metric: str, value: int) -> None:
    deadline = time.monotonic() + 60
    while platform.activity.stats.campaign_counters(campaign_id).get(metric, 0) != value:
        assert time.monotonic() < deadline, platform.activity.stats.campaign_counters(campaign_id)
        time.sleep(0.05)


def test_the_pipeline_starts_while_the_broker_is_down_and_flows_once_it_is_up(
    scale_out: Settings,
) -> None:
    folder, port = broker_of(scale_out)
    platform = build(scale_out)
    local_kafka.stop(folder)
    try:
        with Workers(platform):
            for n in range(10):
                platform.app.create_campaign({"name": f"Early {n}"}, actor="test")
            time.sleep(3)  # the relay and the feed keep trying meanwhile
            local_kafka.start(folder, port)
            wait_until_projected(platform, timeout=120)
        assert platform.verify() == []
    finally:
        local_kafka.start(folder, port)  # running again for the tests after this one
        platform.close()


def test_a_feed_that_starts_after_a_rebuild_skips_what_the_rebuild_covered(
    scale_out: Settings,
) -> None:
    platform = build(scale_out)
    relay = platform.relay()
    thread = threading.Thread(target=run_relay, args=(relay,), daemon=True)
    thread.start()
    try:
        for n in range(15):
            platform.app.create_campaign({"name": f"Before the rebuild {n}"}, actor="test")
        deadline = time.monotonic() + 60
        while relay.position < stored_events(platform):
            assert time.monotonic() < deadline, "the relay did not publish the log"
            time.sleep(0.05)
        platform.rebuild()  # the view is complete; its feed has never read the topic
        feed = platform.kafka_feed()
        feed.start()
        try:
            platform.app.create_campaign({"name": "After the rebuild"}, actor="test")
            wait_until_projected(platform)
            assert feed.consumed == 1  # everything older was skipped, not applied again
            assert feed.thread is not None and feed.thread.is_alive()
        finally:
            feed.stop()
        assert platform.verify() == []
    finally:
        relay.stop()
        thread.join(timeout=15)
        platform.close()


def test_a_store_refuses_the_records_of_another_store_on_its_topics(
    scale_out: Settings, tmp_path: Path
) -> None:
    schema = f"k_{uuid.uuid4().hex[:12]}"
    other = scale_out.with_changes(  # the same topic prefix: a mistake of configuration
        data_dir=tmp_path / "other", postgres=parse_database_url(postgres_url(), schema)
    )
    mine, theirs = build(scale_out), build(other)
    try:
        assert mine.store_id != theirs.store_id
        with Workers(theirs):
            theirs.app.create_campaign({"name": "Not yours"}, actor="ann")
            wait_until_projected(theirs)
        feed = mine.kafka_feed()
        consumer = feed.new_consumer()
        try:
            from kafka import TopicPartition

            partition = TopicPartition(scale_out.events_topic, 0)
            consumer.assign([partition])
            consumer.seek_to_beginning(partition)
            records: dict[Any, list[Any]] = {}
            deadline = time.monotonic() + 30
            while not records and time.monotonic() < deadline:
                records = consumer.poll(timeout_ms=500)
        finally:
            consumer.close(autocommit=False)
        assert records
        with pytest.raises(ForeignRecord, match="another store"):
            check_records(mine.store_id, scale_out.events_topic, records)
        check_records(theirs.store_id, scale_out.events_topic, records)  # theirs: taken

        feed.start()  # the live feed refuses them too, and writes nothing
        time.sleep(2)
        feed.stop()
        assert mine.projector.position() == 0
        assert mine.campaign_list.with_statuses(mine.database, ["Draft"]) == []
    finally:
        mine.close()
        theirs.close()
        drop_schema(postgres_url(), schema)


def test_the_feeds_report_how_far_they_are_to_their_consumer_group(scale_out: Settings) -> None:
    """Kafka's own tools see each feed's progress: the group's committed offsets follow
    the offsets stored with the rows, within a second or two."""
    from kafka import KafkaConsumer, TopicPartition

    platform = build(scale_out)
    try:
        with Workers(platform) as workers:
            for n in range(3):
                platform.app.create_campaign({"name": f"Reported {n}"}, actor="ann")
            wait_until_projected(platform)
            stored = platform.projector.next_offsets(scale_out.events_topic)
            probe = KafkaConsumer(
                bootstrap_servers=(scale_out.kafka or "").split(","),
                group_id=f"{scale_out.events_topic}.{workers.feed.name}",
                enable_auto_commit=False,
            )
            try:
                deadline = time.monotonic() + 15
                committed: dict[int, int | None] = {}
                while time.monotonic() < deadline:
                    committed = {
                        p: probe.committed(TopicPartition(scale_out.events_topic, p))
                        for p in stored
                    }
                    if committed == stored:
                        break
                    time.sleep(0.2)
            finally:
                probe.close()
        assert stored and committed == stored
    finally:
        platform.close()
