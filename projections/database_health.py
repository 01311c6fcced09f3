"""What the read models' PostgreSQL says of itself that slows a long-used deployment down:
dead rows vacuum has not removed, transactions left open (vacuum keeps every row changed
since the oldest began), sessions idle inside a transaction, prepared transactions nobody
finished, and how far each Kafka consumer's stored offsets are behind its topic's end."""

from __future__ import annotations

from dataclasses import dataclass

from projections.database import Database

# A table is called bloated from this many dead rows, and this share of its rows dead.
BLOATED_ROWS = 10_000
BLOATED_SHARE = 0.2
# A transaction open this long is called old: nothing the platform does takes a minute.
OLD_TRANSACTION_SECONDS = 60.0


@dataclass(frozen=True)
class TableHealth:
    name: str
    live_rows: int
    dead_rows: int
    autovacuums: int
    bytes: int

    @property
    def bloated(self) -> bool:
        total = self.live_rows + self.dead_rows
        return self.dead_rows >= BLOATED_ROWS and self.dead_rows >= BLOATED_SHARE * total


@dataclass(frozen=True)
class ConsumerLag:
    projection: str
    topic: str
    partition: int
    records: int  # the partition's end offset minus the offset stored with the rows


@dataclass(frozen=True)
class DatabaseHealth:
    tables: tuple[TableHealth, ...]
    oldest_transaction_seconds: float  # of any session of the database, 0 with none open
    oldest_transaction_holder: str  # its application, state and query, "" with none
    idle_in_transaction: int  # sessions of the database idle inside a transaction
    prepared_transactions: int
    lags: tuple[ConsumerLag, ...] = ()

    def report(self) -> list[str]:
        """Lines for an operator: the largest tables, then what would hold vacuum back."""
        lines = [
            f"table {t.name}: {t.live_rows:,} live rows, {t.dead_rows:,} dead, "
            f"{t.autovacuums} autovacuums, {t.bytes / 2**20:,.1f} MiB"
            + (" (bloated: vacuum is not keeping up or is held back)" if t.bloated else "")
            for t in sorted(self.tables, key=lambda t: t.bytes, reverse=True)[:6]
        ]
        old = self.oldest_transaction_seconds >= OLD_TRANSACTION_SECONDS
        lines.append(
            f"oldest open transaction: {self.oldest_transaction_seconds:,.0f} s"
            + (f" ({self.oldest_transaction_holder})" if self.oldest_transaction_holder else "")
            + (" (old: vacuum keeps every row changed since it began)" if old else "")
        )
        lines.append(f"sessions idle in a transaction: {self.idle_in_transaction}")
        lines.append(f"prepared transactions: {self.prepared_transactions}")
        lines += [
            f"consumer {lag.projection} on {lag.topic}[{lag.partition}]: "
            f"{lag.records:,} records behind"
            for lag in self.lags
        ]
        return lines


def database_health(database: Database) -> DatabaseHealth | None:
    """The read models' database's health; None on SQLite (nothing of this applies)."""
    if database.dialect != "postgres":
        return None
    with database.read() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, "
            "pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema()"
        )
        tables = tuple(
            TableHealth(str(name), int(live), int(dead), int(runs), int(size))
            for name, live, dead, runs, size in cursor.fetchall()
        )
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM now() - xact_start), "
            "application_name || ' ' || state || ': ' || left(query, 80) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND xact_start IS NOT NULL AND pid <> pg_backend_pid() "
            "ORDER BY xact_start LIMIT 1"
        )
        oldest = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
        idle = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM pg_prepared_xacts")
        prepared = cursor.fetchone()
    return DatabaseHealth(
        tables,
        float(oldest[0]) if oldest else 0.0,
        str(oldest[1]).strip() if oldest else "",
        int(idle[0]) if idle else 0,
        int(prepared[0]) if prepared else 0,
    )


def stored_offsets(database: Database) -> dict[tuple[str, str, int], int]:
    """The next offset each Kafka-fed projection stored with its rows, per partition."""
    with database.read() as cursor:
        cursor.execute(
            "SELECT projection, topic, partition_no, next_offset FROM projection_partitions "
            "WHERE topic NOT LIKE '*%'"
        )
        return {(str(p), str(t), int(n)): int(o) for p, t, n, o in cursor.fetchall()}


def consumer_lags(
    stored: dict[tuple[str, str, int], int], end_offsets: dict[tuple[str, int], int]
) -> tuple[ConsumerLag, ...]:
    """Records each consumer has yet to apply: the topic's end offset minus its stored one
    (a stored offset past the end, as from a broker replaced under the same database,
    shows as a negative lag)."""
    return tuple(
        ConsumerLag(projection, topic, partition, end_offsets[(topic, partition)] - offset)
        for (projection, topic, partition), offset in sorted(stored.items())
        if (topic, partition) in end_offsets
    )
