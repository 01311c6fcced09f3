"""Applies event messages to read models, exactly once.

Rows and the position they reflect are written in one transaction, so a crash anywhere
leaves a consistent pair, and messages at or below the stored position are skipped.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from projections.database import Cursor, Database
from projections.messages import EventMessage
from projections.stored_replay import StoredEvents, StoredReplay, rebuild_inside

Reader = Callable[[int, int], list[EventMessage]]  # (after position, limit) -> messages


class Replay(Protocol):
    """A view's whole history applied to its empty tables, in the rebuild's transaction."""

    def add(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        """Takes the next batch of messages, in position order."""

    def finish(self, cursor: Cursor) -> None:
        """Writes what is left: the rows come out as `apply` would have left them."""


class View(Protocol):
    """One read model: its tables and how a message changes its rows."""

    tables: tuple[str, ...]

    def create_tables(self, cursor: Cursor, dialect: str) -> None: ...

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        """Applies a batch of messages, in position order, in the caller's transaction."""

    def replay(self) -> Replay:
        """A rebuild's way to the same rows, free to keep them in memory until the end."""


REBUILD_BATCH = 2000
READ_AHEAD = 2  # batches a rebuild's reader may be ahead of the replay
REBUILT = "*rebuilt*"  # the topic name of a rebuild's floor row in projection_partitions
POLL_SECONDS = 0.02  # how often a waiting reader looks at the stored position

TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS projection_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""


# Fed from Kafka: per partition of a topic, the next offset to read and the last store
# position applied from it, written in the same transaction as the rows.
PARTITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS projection_partitions (
    projection TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_no INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (projection, topic, partition_no)
)
"""


@dataclass(frozen=True)
class PartitionBatch:
    """Messages read from one partition, and the offset after the last of them."""

    partition: int
    next_offset: int
    messages: Sequence[EventMessage]


class Projector:
    """Feeds messages to its views; remembers how far it got under `name`."""

    def __init__(
        self,
        database: Database,
        views: Sequence[View],
        name: str,
        stored: StoredReplay | None = None,
    ) -> None:
        self.database = database
        self.views = list(views)
        self.name = name
        self.stored = stored  # the views' rebuild inside the database, when they have one
        self.rebuilt_in_database = False  # how the last rebuild went
        self.changed = threading.Condition()
        self.known_position = 0
        # Called with the new position after each transaction that applied messages.
        self.listeners: list[Callable[[int], None]] = []

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(TRACKING_TABLE)
            cursor.execute(PARTITIONS_TABLE)
            for view in self.views:
                view.create_tables(cursor, self.database.dialect)
            # The row exists from the start, so that feeders can queue on it.
            cursor.execute(
                "INSERT INTO projection_tracking (projection, position) VALUES (?, 0) "
                "ON CONFLICT (projection) DO NOTHING",
                (self.name,),
            )
            self.known_position = self.read_position(cursor)

    def drop_tables(self) -> None:
        """Forgets every row and the position: the next feed rebuilds from the start."""
        with self.database.transaction() as cursor:
            cursor.execute(TRACKING_TABLE)
            for view in self.views:
                for table in view.tables:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                "UPDATE projection_tracking SET position = 0 WHERE projection = ?", (self.name,)
            )
        with self.changed:
            self.known_position = 0

    def read_position(self, cursor: Cursor, *, lock: bool = False) -> int:
        cursor.execute(
            "SELECT position FROM projection_tracking WHERE projection = ?"
            + (self.locking if lock else ""),
            (self.name,),
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def position(self) -> int:
        with self.database.read() as cursor:
            position = self.read_position(cursor)
        with self.changed:
            self.known_position = max(self.known_position, position)
        return position

    def handle(self, messages: Sequence[EventMessage]) -> int:
        """Applies the messages not applied yet, in one transaction; returns how many."""
        if not messages:
            return 0
        with self.database.transaction() as cursor:
            position = self.read_position(cursor, lock=True)
            fresh = [m for m in messages if m.position > position]
            if fresh:
                for view in self.views:
                    view.apply(cursor, fresh)
                position = fresh[-1].position
                self.write_position(cursor, position)
        with self.changed:
            self.known_position = max(self.known_position, position)
            self.changed.notify_all()
        if fresh:
            self.tell(position)
        return len(fresh)

    # Rebuilding and verifying.

    def rebuild(
        self,
        read: Reader,
        progress: Callable[[int, int], None] | None = None,
        store: StoredEvents | None = None,
    ) -> int:
        """Replays the whole store into the views' tables, made afresh, in one transaction
        that holds the projector's position from the start: a live feed waits, then goes on
        after the rebuilt position with no gap (the Kafka feed's partitions skip what the
        replay covered). Returns how many events were replayed.

        With `store` (the store's table, in this database) the views' rows are drawn from
        the stored events inside the database when every event allows it, and the old rows
        stay readable until the new ones replace them (projections.stored_replay);
        otherwise each view replays the events in Python."""
        with self.database.transaction() as cursor:
            cursor.execute(PARTITIONS_TABLE)
            self.read_position(cursor, lock=True)
            done = None
            if store is not None and self.stored is not None:
                done = rebuild_inside(
                    self.database, self.views, self.name, cursor, store, self.stored, progress
                )
            self.rebuilt_in_database = done is not None
            if done is None:
                for view in self.views:
                    for table in view.tables:
                        cursor.execute(f"DROP TABLE IF EXISTS {table}")
                    view.create_tables(cursor, self.database.dialect)
                done = self.replay(cursor, read, progress)
            position, replayed = done
            if progress:
                progress(position, replayed)
            self.write_position(cursor, position)
            # The replay covers every partition of every topic up to `position`, those this
            # projector has not read from yet included: a floor for all of them.
            cursor.execute(
                "INSERT INTO projection_partitions "
                "(projection, topic, partition_no, next_offset, position) "
                "VALUES (?, ?, -1, 0, ?) ON CONFLICT (projection, topic, partition_no) "
                "DO UPDATE SET position = excluded.position",
                (self.name, REBUILT, position),
            )
        with self.changed:
            self.known_position = position
            self.changed.notify_all()
        self.tell(position)
        return replayed

    def replay(
        self, cursor: Cursor, read: Reader, progress: Callable[[int, int], None] | None
    ) -> tuple[int, int]:
        """Replays every stored message into the views' empty tables, in Python; returns
        the last position and how many messages."""
        replays = [view.replay() for view in self.views]
        position = replayed = 0
        with collector_paused():
            for messages in read_ahead(read):
                for replay in replays:
                    replay.add(cursor, messages)
                position = messages[-1].position
                replayed += len(messages)
                if progress:
                    progress(position, replayed)
            for replay in replays:
                replay.finish(cursor)
        return position, replayed

    def tell(self, position: int) -> None:
        for listener in self.listeners:
            listener(position)

    def verify(self, read: Reader, scratch: Database) -> list[str]:
        """Compares the views' rows with a fresh replay of the store, up to the position
        the rows reflect, into `scratch` (an empty database); returns the differences."""
        with self.database.snapshot() as cursor:
            position = self.read_position(cursor)
            live = {
                table: table_rows(cursor, table) for view in self.views for table in view.tables
            }
        replay = Projector(scratch, [type(view)() for view in self.views], self.name)
        replay.create_tables()
        after = 0
        while after < position and (messages := read(after, REBUILD_BATCH)):
            wanted = [m for m in messages if m.position <= position]
            if wanted:
                replay.handle(wanted)
            after = messages[-1].position
        differences = []
        with scratch.snapshot() as cursor:
            for table, rows in live.items():
                fresh = table_rows(cursor, table)
                missing, extra = fresh - rows, rows - fresh
                for row in sorted(missing, key=repr)[:5]:
                    differences.append(f"{table}: missing {row}")
                for row in sorted(extra, key=repr)[:5]:
                    differences.append(f"{table}: not in the replay {row}")
                if len(missing) > 5 or len(extra) > 5:
                    differences.append(
                        f"{table}: {len(missing)} rows missing, {len(extra)} not in the replay"
                    )
        return differences

    def next_offsets(self, topic: str) -> dict[int, int]:
        """Per partition of `topic`, the offset to read next (partitions never read: absent)."""
        with self.database.transaction() as cursor:
            cursor.execute(PARTITIONS_TABLE)
            cursor.execute(
                "SELECT partition_no, next_offset FROM projection_partitions "
                "WHERE projection = ? AND topic = ?",
                (self.name, topic),
            )
            return {int(p): int(o) for p, o in cursor.fetchall()}

    def handle_partitions(self, topic: str, batches: Sequence[PartitionBatch]) -> int:
        """Applies messages read from Kafka, with the offsets they were read up to, in one
        transaction. Per partition, messages at or below the last position applied from it
        are skipped: a relay that published again after a crash, or a record delivered
        twice, changes nothing. Returns how many messages were applied."""
        fresh: list[EventMessage] = []
        with self.database.transaction() as cursor:
            # The tracking row first, as a rebuild takes it: then the rebuild's floor row.
            position = self.read_position(cursor, lock=True)
            cursor.execute(
                "SELECT position FROM projection_partitions "
                "WHERE projection = ? AND topic = ? AND partition_no = -1" + self.locking,
                (self.name, REBUILT),
            )
            row = cursor.fetchone()
            floor = int(row[0]) if row else 0  # what the last rebuild covered
            for batch in batches:
                cursor.execute(
                    "SELECT position FROM projection_partitions "
                    "WHERE projection = ? AND topic = ? AND partition_no = ?" + self.locking,
                    (self.name, topic, batch.partition),
                )
                row = cursor.fetchone()
                last = max(int(row[0]) if row else 0, floor)
                mine = [m for m in batch.messages if m.position > last]
                fresh += mine
                cursor.execute(
                    "INSERT INTO projection_partitions "
                    "(projection, topic, partition_no, next_offset, position) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection, topic, partition_no) "
                    "DO UPDATE SET next_offset = excluded.next_offset, "
                    "position = excluded.position",
                    (
                        self.name,
                        topic,
                        batch.partition,
                        batch.next_offset,
                        max([last, *(m.position for m in mine)]),
                    ),
                )
            if fresh:
                fresh.sort(key=lambda m: m.position)
                for view in self.views:
                    view.apply(cursor, fresh)
                position = max(position, fresh[-1].position)
                self.write_position(cursor, position)
        with self.changed:
            self.known_position = max(self.known_position, position)
            self.changed.notify_all()
        if fresh:
            self.tell(position)
        return len(fresh)

    def write_position(self, cursor: Cursor, position: int) -> None:
        cursor.execute(
            "INSERT INTO projection_tracking (projection, position) VALUES (?, ?) "
            "ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
            (self.name, position),
        )

    @property
    def locking(self) -> str:
        """Two feeders of one projection (a rebuild and the live feed) queue on the row."""
        return " FOR UPDATE" if self.database.dialect == "postgres" else ""

    def wait_for(self, position: int, timeout: float) -> bool:
        """Waits until the rows reflect `position`; False when the time ran out. Woken by
        this process's own feed, and reading the stored position now and then for a feed
        in another process (the scale-out projector)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.changed:
                if self.known_position < position:
                    self.changed.wait(max(0.0, min(deadline - time.monotonic(), POLL_SECONDS)))
                if self.known_position >= position:
                    return True
            if self.position() >= position:
                return True
            if time.monotonic() >= deadline:
                return False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector. A replay makes millions of containers (decoded
    events, rows kept until the end) that form no cycles; the collector's passes over them
    cost about a fifth of a rebuild. Reference counting still frees them as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_ahead(read: Reader, batch: int = REBUILD_BATCH) -> Iterator[list[EventMessage]]:
    """Every stored message from the start, batch after batch. A thread reads and decodes
    the next batches while the caller applies this one, so the store's database works on
    the next read while the read models' database works on the last write."""
    batches: queue.Queue[list[EventMessage] | BaseException | None] = queue.Queue(READ_AHEAD)
    stopping = threading.Event()

    def put(item: list[EventMessage] | BaseException | None) -> None:
        while not stopping.is_set():
            try:
                batches.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def reader() -> None:
        position = 0
        try:
            while not stopping.is_set() and (messages := read(position, batch)):
                put(messages)
                position = messages[-1].position
            put(None)
        except BaseException as error:  # handed to the caller, which raises it
            put(error)

    thread = threading.Thread(target=reader, name="rebuild-reader", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopping.set()
        thread.join()


def table_rows(cursor: Cursor, table: str) -> Counter[tuple[str | None, ...]]:
    """Every row of a table as text, counted (the same in SQLite and PostgreSQL)."""
    cursor.execute(f"SELECT * FROM {table}")
    return Counter(
        tuple(None if value is None else _text(value) for value in row) for row in cursor.fetchall()
    )


def _text(value: object) -> str:
    if isinstance(value, float):
        return repr(round(value, 9))
    return str(value)
