"""Review finding 15 on real brokers: the Kafka security settings, read from the environment,
carry the scale-out path end to end. PLAINTEXT, set explicitly, on the tests' broker; and
SASL_PLAINTEXT with a PLAIN login on a broker of this module's own, whose SASL listener refuses
clients without the password: the relay, the outbox, the projector's feeds and the realtime
publisher and feed all get through, so every client the platform builds logs in."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient

from infra import local_kafka
from infra.bootstrap import build
from infra.relay import broker_connection
from infra.settings import Settings
from projections.activity import Deltas
from tests.integration.scenarios import stored_events
from tests.integration.test_kafka_pipeline import (  # noqa: F401  (scale_out: a fixture)
    Workers,
    scale_out,
    wait_for_counter,
    wait_until_projected,
)
from tests.integration.test_realtime_kafka import Seen, wait_until

# Beside the tests' broker (29092) and the cluster test's nodes (29131 to 29136).
PORT, CONTROLLER_PORT, SASL_PORT = 29142, 29143, 29144
USER, PASSWORD = "campaigns", "broker-login-2f9c"
SASL = {
    "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "CAMPAIGNS_KAFKA_SASL_MECHANISM": "PLAIN",
    "CAMPAIGNS_KAFKA_SASL_USERNAME": USER,
    "CAMPAIGNS_KAFKA_SASL_PASSWORD": PASSWORD,
}


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker whose SASL_PLAINTEXT listener takes the PLAIN login of USER only."""
    folder = tmp_path_factory.mktemp("sasl-kafka")
    listener = local_kafka.SaslListener(SASL_PORT, {USER: PASSWORD})
    try:
        local_kafka.start(folder, PORT, CONTROLLER_PORT, listener)
        yield f"127.0.0.1:{SASL_PORT}"
    finally:
        local_kafka.stop(folder)


def secured(settings: Settings, environ: dict[str, str], bootstrap: str) -> Settings:
    return settings.with_changes(
        kafka=bootstrap, kafka_security=Settings.from_environment(environ).kafka_security
    )


def test_explicit_plaintext_carries_events_through_the_relay(scale_out: Settings) -> None:  # noqa: F811
    settings = secured(
        scale_out, {"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, scale_out.kafka or ""
    )
    platform = build(settings)
    try:
        with Workers(platform):
            for n in range(3):
                platform.app.create_campaign({"name": f"Plain {n}"}, actor="t")
            wait_until_projected(platform)
        assert platform.relay_position() == stored_events(platform)
        assert platform.verify() == []
    finally:
        platform.close()


def test_a_sasl_listener_refuses_clients_without_the_login(sasl_broker: str) -> None:
    for environ in ({}, {**SASL, "CAMPAIGNS_KAFKA_SASL_PASSWORD": "wrong"}):
        security = Settings.from_environment(environ).kafka_security
        with pytest.raises(Exception, match="Unable to bootstrap"):
            KafkaAdminClient(**broker_connection(sasl_broker, security), bootstrap_timeout_ms=3000)


def test_every_role_logs_in_over_sasl_and_the_pipeline_flows(
    scale_out: Settings,  # noqa: F811
    sasl_broker: str,
) -> None:
    platform = build(secured(scale_out, SASL, sasl_broker))
    workers = Workers(platform)  # the relay and the campaign list's feed
    outbox, stats = platform.outbox_publisher(), platform.stats_feed()
    publisher, wall = platform.realtime_publisher(), platform.realtime_feed()
    seen = Seen()
    outbox_thread = threading.Thread(target=outbox.run, daemon=True)
    try:
        with workers:
            outbox_thread.start()
            stats.start()
            publisher.start()
            wall.start(seen.deliver, seen.reset)
            wait_until(lambda: bool(seen.snapshots), "the wall's snapshot")

            ids = [
                str(platform.app.create_campaign({"name": f"Logged in {n}"}, actor="t").id)
                for n in range(3)
            ]
            campaign_id = str(uuid.uuid4())
            with platform.database.transaction() as cursor:
                deltas = Deltas()
                deltas.add(campaign_id, "sent", 4, variant="v1", domain="go.example.com")
                platform.activity.stats.count(cursor, deltas)

            wait_until_projected(platform)
            wait_for_counter(platform, campaign_id, "sent", 4)
            rows = platform.realtime_rows
            while rows.pending():
                rows.refresh()
            last = rows.position()
            publisher.nudge()
            wait_until(lambda: seen.position() >= last, "the wall's changes")
            assert {row["id"] for _seq, row in seen.changes} >= set(ids)
    finally:
        for worker in (outbox, stats, publisher, wall):
            worker.stop()
        outbox_thread.join(timeout=15)
        platform.close()
