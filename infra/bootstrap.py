"""The one composition root: builds every service from Settings."""

from __future__ import annotations

import logging
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from domain.pricing import PriceTable
from infra.application import ProcessPlatform
from infra.contacts import ContactStore, contact_store
from infra.feed import LogFeed, read_messages, upcasts
from infra.fenced_store import CONNINFO as STORE_CONNINFO
from infra.fenced_store import FACTORY as STORE_FACTORY
from infra.fenced_store import TOPIC as FENCED_RECORDER
from infra.gates import AdvisoryGates, FileGates
from infra.kafka_feed import KafkaFeed, StatsFeed
from infra.outbox import OutboxPublisher
from infra.outbox import backlog as outbox_backlog
from infra.ownership import process_name
from infra.process import SendingLock
from infra.realtime import (
    ChangeLogFeed,
    KafkaRealtimeFeed,
    RealtimeFeed,
    RealtimePublisher,
    RealtimeWorker,
)
from infra.relay import Relay, broker_connection, lock_key
from infra.sending import Sending, build_sending
from infra.settings import Settings
from projections.activity import Activity
from projections.campaign_list import CampaignListView
from projections.carrier_log import CarrierLog, LinkState
from projections.database import Database, PostgresDatabase, SQLiteDatabase
from projections.database_health import (
    DatabaseHealth,
    consumer_lags,
    database_health,
    stored_offsets,
)
from projections.disclosures import DisclosureLog
from projections.domain_usage import DomainUsageView
from projections.identity import store_id
from projections.leases import Lease, stuck_after
from projections.messages import EventMessage
from projections.projector import Projector
from projections.realtime import CampaignMarks, DomainMarks, RealtimeRows
from projections.sign_in_failures import SignInFailures
from projections.stored_replay import CAMPAIGN_VIEWS, DOMAIN_VIEWS, StoredEvents
from projections.stream_totals import message_totals
from projections.tokens import TokenStore

PROJECTOR_NAME = "campaign_views"
DOMAINS_PROJECTOR_NAME = "domain_views"

log = logging.getLogger(__name__)


def store_environment(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's settings for our store."""
    common = {"AGGREGATE_CACHE_MAXSIZE": "10000", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    pg = settings.postgres
    if pg is None:
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.data_dir / "events.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    return {
        **common,
        "PERSISTENCE_MODULE": STORE_FACTORY,
        STORE_CONNINFO: pg.url,
        # Saves of a sending process's batches check its fence in their transaction.
        "APPLICATION_RECORDER_TOPIC": FENCED_RECORDER,
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_DBNAME": pg.dbname,
        "POSTGRES_SCHEMA": pg.schema,
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(
            round(idle_in_transaction(settings) or 5)
        ),
    }


def ensure_schema(settings: Settings) -> None:
    import psycopg

    assert settings.postgres is not None
    with psycopg.connect(settings.postgres.url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.postgres.schema}"')


CONTACTS_TABLE = {"sqlite": "contact_lists.contacts", "postgres": "contacts"}


def read_database(settings: Settings) -> Database:
    if settings.postgres is None:
        # The contacts live in their own file; preparation joins them by attaching it.
        contacts = settings.data_dir / "contacts.sqlite3"
        return SQLiteDatabase(settings.data_dir / "views.sqlite3", {"contact_lists": contacts})
    return PostgresDatabase(
        settings.postgres.conninfo_in_schema(), idle_in_transaction=idle_in_transaction(settings)
    )


def idle_in_transaction(settings: Settings) -> float | None:
    """How long a sending process's session may stay idle inside a transaction before the
    server ends it: a process frozen in the middle of a fenced write would otherwise hold
    its stream's lease row, and keep another process from taking the stream over."""
    return stuck_after(settings.lease_seconds) if settings.sending else None


@dataclass
class Platform:
    """Everything one process runs: the application, the read models and their feed."""

    settings: Settings
    app: ProcessPlatform
    database: Database
    campaign_list: CampaignListView
    projector: Projector
    feed: LogFeed
    contacts: ContactStore
    sending: Sending
    domain_usage: DomainUsageView
    domain_projector: Projector  # its own position: a view added later catches up alone
    domain_feed: LogFeed
    realtime_rows: RealtimeRows
    realtime_worker: RealtimeWorker  # with the projectors: here, or `campaigns project`
    tokens: TokenStore
    sign_in_failures: SignInFailures  # shared by the gateways, as the tokens are
    store_id: str  # on every record this store's processes put on Kafka
    gates: AdvisoryGates | FileGates

    @property
    def projectors(self) -> dict[str, Projector]:
        """The event-fed read models by the name `rebuild` knows them by."""
        return {"campaigns": self.projector, "domains": self.domain_projector}

    def start(self) -> None:
        """Catches the read models up, keeps them fed in the background (unless Kafka feeds
        them, from the projector process), and starts sending."""
        if self.settings.kafka is None:
            for feed in (self.feed, self.domain_feed):
                feed.catch_up()
                feed.start()
            self.realtime_worker.start()
        if self.settings.sending:
            self.sending.start()

    def kafka_feed(self) -> KafkaFeed:
        """The scale-out feed of the campaign list and audit trail (`campaigns project`)."""
        return self.kafka_feeds()[0]

    def kafka_feeds(self) -> list[KafkaFeed]:
        """A scale-out feed per event-fed read model (`campaigns project`)."""
        assert self.settings.kafka is not None
        return [
            KafkaFeed(
                self.settings.kafka,
                self.settings.events_topic,
                projector,
                self.store_id,
                security=self.settings.kafka_security,
                replication=self.settings.kafka_replication,
            )
            for projector in self.projectors.values()
        ]

    def stats_feed(self) -> StatsFeed:
        """The activity topic into the stats (`campaigns project`)."""
        assert self.settings.kafka is not None
        return StatsFeed(
            self.settings.kafka,
            self.settings.activity_topic,
            self.projector,
            self.activity.stats,
            self.store_id,
            security=self.settings.kafka_security,
            replication=self.settings.kafka_replication,
        )

    def realtime_feed(self) -> RealtimeFeed:
        """The realtime rows' changes for this process's WebSocket hub: the change log here
        (woken by this process's worker), or the realtime topic with Kafka."""
        if self.settings.kafka is None:
            feed = ChangeLogFeed(self.realtime_rows)
            self.realtime_worker.listeners.append(feed.step_now)
            return feed
        return KafkaRealtimeFeed(
            self.realtime_rows,
            self.settings.kafka,
            self.settings.realtime_topic,
            self.store_id,
            security=self.settings.kafka_security,
            replication=self.settings.kafka_replication,
        )

    def realtime_publisher(self) -> RealtimePublisher:
        """The realtime rows' change log onto Kafka (`campaigns project`)."""
        assert self.settings.kafka is not None
        publisher = RealtimePublisher(
            self.realtime_rows,
            self.settings.kafka,
            self.settings.realtime_topic,
            self.store_id,
            security=self.settings.kafka_security,
            replication=self.settings.kafka_replication,
        )
        self.realtime_worker.listeners.append(publisher.nudge)
        self.realtime_worker.keep_from = publisher.read_published
        return publisher

    def outbox_publisher(self) -> OutboxPublisher:
        """The activity outbox onto Kafka (`campaigns relay`)."""
        assert self.settings.kafka is not None
        return OutboxPublisher(
            self.database,
            self.settings.kafka,
            self.settings.activity_topic,
            self.store_id,
            security=self.settings.kafka_security,
            replication=self.settings.kafka_replication,
        )

    def relay(self) -> Relay:
        """The store's log onto Kafka (`campaigns relay`)."""
        pg, kafka = self.settings.postgres, self.settings.kafka
        assert pg is not None and kafka is not None
        return Relay(
            self.read_events,
            pg.url,
            pg.schema,
            kafka,
            self.settings.events_topic,
            self.store_id,
            security=self.settings.kafka_security,
            replication=self.settings.kafka_replication,
        )

    def kafka_check(self) -> dict[str, Any] | None:
        """Whether a broker answers, and how far the relay got; None without Kafka."""
        if self.settings.kafka is None:
            return None
        reachable = any(broker_answers(address) for address in self.settings.kafka.split(","))
        check: dict[str, Any] = {"ok": reachable, "position": self.relay_position()}
        if not reachable:
            check["error"] = f"no broker of {self.settings.kafka} accepts connections"
        return check

    def relay_position(self) -> int:
        """The last store position the relay has published (0 before it first ran)."""
        with self.database.read() as cursor:
            cursor.execute("SELECT to_regclass('relay_tracking') IS NOT NULL")
            exists = cursor.fetchone()
            if not exists or not exists[0]:
                return 0  # the relay has not run yet: it creates its table
            cursor.execute(
                "SELECT position FROM relay_tracking WHERE topic = ?",
                (self.settings.events_topic,),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def stream_leases(self) -> dict[str, Lease]:
        """Every stream's lease: which sending process owns it, under which epoch."""
        return self.sending.leases.leases()

    def stream_links(self) -> dict[str, LinkState]:
        """Each real carrier's stream link, as its owning process last wrote it down."""
        return self.sending.carrier_log.links()

    def carrier_log(self) -> CarrierLog:
        """What real carriers were handed and answered; the streams' signing secrets."""
        return self.sending.carrier_log

    def positions(self) -> dict[str, int]:
        """Store positions reached along the pipeline: events stored, relayed (with Kafka),
        and applied to the read models. Counters: their rates are the throughputs."""
        found = {"stored": self.app.recorder.max_notification_id() or 0}
        if self.settings.kafka is not None:
            found["relayed"] = self.relay_position()
        found["projected"] = self.projector.position()
        return found

    def read_model_positions(self) -> dict[str, int]:
        """The store position each event-fed read model reflects, by its name."""
        return {name: projector.position() for name, projector in self.projectors.items()}

    def outbox_backlog(self) -> int | None:
        """Activity records waiting in the outbox for Kafka; None without Kafka."""
        return None if self.settings.kafka is None else outbox_backlog(self.database)

    def database_health(self) -> DatabaseHealth | None:
        """Dead rows, old and idle-in-transaction sessions of the read models' database, and
        (with Kafka) how far each consumer is behind its topic; None on SQLite."""
        found = database_health(self.database)
        if found is None or self.settings.kafka is None:
            return found
        stored = stored_offsets(self.database)
        try:
            ends = self.topic_ends({topic for _projection, topic, _partition in stored})
        except Exception:  # the broker away: the database's figures still count
            log.warning("the topics' end offsets could not be read", exc_info=True)
            return found
        return replace(found, lags=consumer_lags(stored, ends))

    def topic_ends(self, topics: set[str]) -> dict[tuple[str, int], int]:
        """The end offset of every partition of the topics."""
        from kafka import KafkaConsumer, TopicPartition

        assert self.settings.kafka is not None
        consumer = KafkaConsumer(
            **broker_connection(self.settings.kafka, self.settings.kafka_security),
            request_timeout_ms=5_000,
        )
        try:
            partitions = [
                TopicPartition(topic, number)
                for topic in sorted(topics)
                for number in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            found = consumer.end_offsets(partitions, timeout_ms=5_000) if partitions else {}
            return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}
        finally:
            consumer.close()

    def realtime_position(self) -> int:
        """The realtime rows' change log position (what the walls' hubs follow)."""
        return self.realtime_rows.position()

    def message_totals(self) -> dict[str, dict[str, int]]:
        """Messages per sending stream, by status, as the campaigns' stats count them."""
        return message_totals(self.database)

    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, view: str = "campaigns"
    ) -> int:
        """Replays the whole store into an event-fed read model (see Projector.rebuild)."""
        return self.projectors[view].rebuild(self.read_events, progress, self.stored_events())

    def stored_events(self) -> StoredEvents | None:
        """The store's table, when the read models live in the same PostgreSQL database
        and its events are stored as plain JSON: a rebuild can then run inside it."""
        mapper, postgres = self.app.mapper, self.settings.postgres
        if postgres is None or mapper.cipher or mapper.compressor:
            return None
        table = self.app.recorder.events_table_name  # type: ignore[attr-defined]
        return StoredEvents(postgres.schema, table, lambda topic: not upcasts(topic))

    def redraw_realtime(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Redraws every realtime row from the other read models; returns how many
        campaigns were redrawn (rows that changed are logged for the walls)."""
        total = self.realtime_rows.mark_all()
        while left := self.realtime_rows.pending():
            self.realtime_rows.refresh()
            if progress:
                progress(total - left, total)
        if progress:
            progress(total, total)
        return total

    def verify(self) -> list[str]:
        """Differences between the read models and a fresh replay of the store (the stats:
        a recount of the activity rows)."""
        differences = []
        with tempfile.TemporaryDirectory(prefix="campaigns-verify-") as folder:
            for name, projector in self.projectors.items():
                scratch = SQLiteDatabase(Path(folder) / f"{name}.sqlite3")
                try:
                    differences += projector.verify(self.read_events, scratch)
                finally:
                    scratch.close()
        return differences + self.activity.stats.verify_stats() + self.realtime_rows.verify()

    def close(self) -> None:
        self.sending.stop()
        self.sending.carrier.books.close()
        if isinstance(self.gates, AdvisoryGates):
            self.gates.close()
        self.realtime_worker.stop()
        self.feed.stop()
        self.domain_feed.stop()
        self.contacts.close()
        self.database.close()
        self.app.close()

    @property
    def activity(self) -> Activity:
        return self.sending.activity

    @property
    def disclosures(self) -> DisclosureLog:
        """Who was shown personal data: written by the gateway, read by the audit trail."""
        return DisclosureLog(self.database)

    def prices(self) -> PriceTable:
        """The price table the engine prices messages with (estimates use it too)."""
        return self.sending.engine.prices

    def wait_for_own_writes(self) -> bool:
        """Waits until the read models show what this process has written."""
        return self.projector.wait_for(self.app.last_position, self.settings.read_wait)

    def read_events(self, after: int, limit: int) -> list[EventMessage]:
        """Stored events after a position, as messages, straight from the store."""
        return read_messages(self.app, after, limit)

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def build(settings: Settings) -> Platform:
    settings.check()
    owner = process_name(settings.role)
    if settings.sending and settings.postgres is not None:
        settings = settings.with_changes(postgres=settings.postgres.named(owner))
    if settings.postgres is None:
        # The embedded store's files. On PostgreSQL a process keeps nothing on disk, so that
        # a role can run from a folder it cannot write (as the image's user does).
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    with schema_lock(settings):
        app = ProcessPlatform(env=store_environment(settings))
        app.ensure_demo_stream()
        database = read_database(settings)
        contacts = contact_store(settings, database, app)
        contacts.create_tables()  # first: the read models' database attaches its file
        campaign_list = CampaignListView()
        projector = Projector(
            database, [campaign_list, CampaignMarks()], PROJECTOR_NAME, CAMPAIGN_VIEWS
        )
        projector.create_tables()
        feed = LogFeed(app, projector)
        domain_usage = DomainUsageView()
        domain_projector = Projector(
            database, [domain_usage, DomainMarks()], DOMAINS_PROJECTOR_NAME, DOMAIN_VIEWS
        )
        domain_projector.create_tables()
        realtime_rows = RealtimeRows(database)
        realtime_rows.create_tables()
        realtime_worker = RealtimeWorker(realtime_rows)
        tokens = TokenStore(database)
        tokens.create_tables()
        DisclosureLog(database).create_tables()
        if settings.bootstrap_token:
            tokens.ensure_bootstrap(settings.bootstrap_token)
        sign_in_failures = SignInFailures(database)
        sign_in_failures.create_tables()
        identity = store_id(database)
        for each in (projector, domain_projector):
            each.listeners.append(realtime_worker.step_now)
        gates = sending_gates(settings)
        app.stopping_gate = gates.stopping
        sending = build_sending(
            app,
            database,
            campaign_list,
            carrier_books(settings, identity),
            gates,
            owner,
            CONTACTS_TABLE[database.dialect],
            lease_seconds=settings.lease_seconds,
            lock=SendingLock(settings.data_dir) if settings.postgres is None else None,
            outbox=settings.kafka is not None,  # counters go through Kafka
        )
    return Platform(
        settings,
        app,
        database,
        campaign_list,
        projector,
        feed,
        contacts,
        sending,
        domain_usage,
        domain_projector,
        LogFeed(app, domain_projector),
        realtime_rows,
        realtime_worker,
        tokens,
        sign_in_failures,
        identity,
        gates,
    )


def sending_gates(settings: Settings) -> AdvisoryGates | FileGates:
    """Where sending gates are held: shared by every process of the store. A stopping
    command waits for a handover at most a lease time and two seconds (see infra/gates)."""
    stop_wait = settings.lease_seconds + 2
    if settings.postgres is None:
        return FileGates(settings.data_dir / "gates", stop_wait)
    return AdvisoryGates(settings.postgres.url, stop_wait)


def carrier_books(settings: Settings, identity: str) -> Database:
    """The demo carrier's books, apart from the platform's tables as a real carrier's are,
    and shared by every process that may own its streams: a file of the data directory on
    the embedded store (one per store: a store made afresh numbers its messages afresh),
    the store's PostgreSQL database otherwise. Its lookups are of the messages just handed
    over: a small page cache does."""
    if settings.postgres is None:
        return SQLiteDatabase(
            settings.data_dir / f"demo-carrier-{identity}.sqlite3", cache_kib=-8192
        )
    return read_database(settings)


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """On PostgreSQL, processes starting together (the roles of the scale-out topology)
    create the schema and the tables one at a time: `CREATE ... IF NOT EXISTS` run at the
    same moment by two of them can still clash."""
    if settings.postgres is None:
        yield
        return
    import psycopg

    key = lock_key(f"schema:{settings.postgres.schema}")
    with psycopg.connect(settings.postgres.url, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.postgres.schema}"')
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def broker_answers(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False
