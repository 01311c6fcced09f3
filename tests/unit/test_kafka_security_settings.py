"""Review finding 15: the platform reaches Kafka brokers over TLS and SASL. The settings are
read once from the environment, refused when a client could not use them, keep the password
out of every repr, and reach every producer, consumer and admin client the platform builds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import kafka
import psycopg
import pytest

from infra.kafka_feed import KafkaFeed, StatsFeed
from infra.outbox import OutboxPublisher
from infra.realtime import KafkaRealtimeFeed, RealtimePublisher
from infra.relay import Relay, ensure_topic, new_producer
from infra.settings import KafkaSecurity, Settings, SettingsError, parse_kafka_security

PASSWORD = "s3cret password"


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name in ("ca", "client", "client-key"):
        path = tmp_path / f"{name}.pem"
        path.write_text("-----BEGIN CERTIFICATE-----\n")
        files[name] = str(path)
    return files


@pytest.fixture
def sasl_ssl(pem_files: dict[str, str]) -> dict[str, str]:
    return {
        "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CAMPAIGNS_KAFKA_SSL_CAFILE": pem_files["ca"],
        "CAMPAIGNS_KAFKA_SSL_CERTFILE": pem_files["client"],
        "CAMPAIGNS_KAFKA_SSL_KEYFILE": pem_files["client-key"],
        "CAMPAIGNS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CAMPAIGNS_KAFKA_SASL_USERNAME": "campaigns",
        "CAMPAIGNS_KAFKA_SASL_PASSWORD": PASSWORD,
    }


def test_without_settings_the_clients_connect_in_plaintext_with_no_extra_arguments() -> None:
    security = Settings.from_environment({}).kafka_security
    assert security == KafkaSecurity(protocol="PLAINTEXT")
    assert security.client_arguments() == {}
    explicit = {"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "plaintext"}
    assert parse_kafka_security(explicit).client_arguments() == {}


def test_sasl_ssl_with_every_setting_gives_kafka_python_every_argument(
    sasl_ssl: dict[str, str], pem_files: dict[str, str]
) -> None:
    security = Settings.from_environment(sasl_ssl).kafka_security
    assert security.client_arguments() == {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": pem_files["ca"],
        "ssl_certfile": pem_files["client"],
        "ssl_keyfile": pem_files["client-key"],
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "campaigns",
        "sasl_plain_password": PASSWORD,
    }


def test_the_arguments_are_names_every_kafka_python_client_takes(
    sasl_ssl: dict[str, str],
) -> None:
    arguments = parse_kafka_security(sasl_ssl).client_arguments()
    for client in (kafka.KafkaProducer, kafka.KafkaConsumer, kafka.KafkaAdminClient):
        assert set(arguments) <= set(client.DEFAULT_CONFIG), client.__name__


def test_ssl_alone_uses_the_systems_certificate_authorities() -> None:
    security = parse_kafka_security({"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert security.client_arguments() == {"security_protocol": "SSL"}


def test_sasl_plaintext_needs_no_tls_files() -> None:
    security = parse_kafka_security(
        {
            "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CAMPAIGNS_KAFKA_SASL_MECHANISM": "plain",
            "CAMPAIGNS_KAFKA_SASL_USERNAME": "campaigns",
            "CAMPAIGNS_KAFKA_SASL_PASSWORD": PASSWORD,
        }
    )
    assert security.client_arguments() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "campaigns",
        "sasl_plain_password": PASSWORD,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL must be"),
        ({"CAMPAIGNS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "CAMPAIGNS_KAFKA_SASL_MECHANISM must be"),
        ({"CAMPAIGNS_KAFKA_SASL_MECHANISM": ""}, "needs CAMPAIGNS_KAFKA_SASL_MECHANISM"),
        ({"CAMPAIGNS_KAFKA_SASL_USERNAME": " "}, "needs CAMPAIGNS_KAFKA_SASL_USERNAME"),
        ({"CAMPAIGNS_KAFKA_SASL_PASSWORD": ""}, "needs CAMPAIGNS_KAFKA_SASL_PASSWORD"),
        ({"CAMPAIGNS_KAFKA_SSL_CAFILE": "/no/such/ca.pem"}, "CAMPAIGNS_KAFKA_SSL_CAFILE names no"),
        ({"CAMPAIGNS_KAFKA_SSL_CERTFILE": ""}, "KEYFILE needs CAMPAIGNS_KAFKA_SSL_CERTFILE"),
        # Settings a client would silently ignore are refused too.
        ({"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SSL"}, "CAMPAIGNS_KAFKA_SASL_MECHANISM is set"),
        ({"CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "CAMPAIGNS_KAFKA_SSL_CAFILE is"),
    ],
)
def test_settings_a_client_could_not_use_are_refused_naming_the_variable(
    sasl_ssl: dict[str, str], changes: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        Settings.from_environment({**sasl_ssl, **changes})
    assert PASSWORD not in str(refused.value)


def test_sasl_without_a_username_is_refused() -> None:
    environ = {
        "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CAMPAIGNS_KAFKA_SASL_MECHANISM": "PLAIN",
        "CAMPAIGNS_KAFKA_SASL_PASSWORD": PASSWORD,
    }
    with pytest.raises(SettingsError, match="SASL_SSL needs CAMPAIGNS_KAFKA_SASL_USERNAME"):
        Settings.from_environment(environ)


def test_the_password_is_in_no_repr(sasl_ssl: dict[str, str]) -> None:
    settings = Settings.from_environment(sasl_ssl)
    assert settings.kafka_security.sasl_password == PASSWORD
    assert PASSWORD not in repr(settings.kafka_security)
    assert PASSWORD not in repr(settings)
    assert "campaigns" in repr(settings.kafka_security)  # the rest is shown


# Every client the platform builds, recorded instead of connecting.


class Client:
    """Stands for a kafka-python client: keeps its arguments, answers every call with None."""

    built: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, *_topics: str, **arguments: Any) -> None:
        self.built.append((type(self).__name__, arguments))

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class KafkaProducer(Client):
    pass


class KafkaConsumer(Client):
    pass


class KafkaAdminClient(Client):
    pass


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    Client.built = []
    for fake in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        monkeypatch.setattr(kafka, fake.__name__, fake)
    yield Client.built


class Rows:
    """The realtime rows, empty."""

    def changes_after(self, *_args: Any) -> list[Any]:
        return []

    def snapshot(self) -> tuple[int, list[Any]]:
        return 0, []


class Projector:
    name = "campaign_views"

    def next_offsets(self, _topic: str) -> dict[int, int]:
        return {}


class Connection:
    """A PostgreSQL connection that grants the relay's lock and holds no position."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: Any) -> None:
        pass

    def execute(self, *_args: Any) -> Any:
        return self

    def fetchone(self) -> tuple[bool] | None:
        return (True,)


def stopped(worker: Any) -> Any:
    """A worker told to stop: it builds its clients and returns."""
    worker.stopping = threading.Event()
    worker.stopping.set()
    return worker


def test_every_kafka_client_the_platform_builds_gets_the_security_arguments(
    sasl_ssl: dict[str, str],
    built: list[tuple[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    security = parse_kafka_security(sasl_ssl)
    expected = security.client_arguments()
    store = "store"
    rows: Any = Rows()
    projector: Any = Projector()
    no_database: Any = None

    def relay() -> None:
        monkeypatch.setattr(psycopg, "connect", lambda *_a, **_k: Connection())
        worker = Relay(lambda *_: [], "postgresql://x", "s", "b:1", "t", store, security=security)
        stopped(worker).run()

    def realtime_publisher() -> None:
        publisher = RealtimePublisher(rows, "b:1", "t", store, security=security)
        publisher.published = 0
        publisher.step()

    def realtime_feed() -> None:
        feed = stopped(KafkaRealtimeFeed(rows, "b:1", "t", store, security=security))
        feed.deliver = feed.reset = lambda *_: None
        feed.follow()

    entry_points = {
        "new_producer": lambda: new_producer("b:1", security),
        "ensure_topic": lambda: ensure_topic("b:1", "t", 1, security),
        "relay": relay,
        "outbox": lambda: stopped(
            OutboxPublisher(no_database, "b:1", "t", store, security=security)
        ).publish_until_stopped(),
        "kafka feed": lambda: stopped(
            KafkaFeed("b:1", "t", projector, store, security=security)
        ).consume(),
        "stats feed": lambda: StatsFeed(
            "b:1", "t", projector, no_database, store, security=security
        ).new_consumer(),
        "realtime publisher": realtime_publisher,
        "realtime feed": realtime_feed,
    }
    for name, build in entry_points.items():
        built.clear()
        build()
        assert built, f"{name} built no Kafka client"
        for client, arguments in built:
            assert arguments["bootstrap_servers"] == ["b:1"], (name, client)
            assert {key: arguments.get(key) for key in expected} == expected, (name, client)
