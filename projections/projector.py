"""Applies event messages to read models, exactly once.

Rows and the position they reflect are written in one transaction, so a crash anywhere
leaves a consistent pair, and messages at or below the stored position are skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

from projections.database import Cursor, Database
from projections.messages import EventMessage


class View(Protocol):
    """One read model: its tables and how a message changes its rows."""

    tables: tuple[str, ...]

    def create_tables(self, cursor: Cursor, dialect: str) -> None: ...

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        """Applies a batch of messages, in position order, in the caller's transaction."""


TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS projection_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""


class Projector:
    """Feeds messages to its views; remembers how far it got under `name`."""

    def __init__(self, database: Database, views: Sequence[View], name: str) -> None:
        self.database = database
        self.views = list(views)
        self.name = name
        self.changed = threading.Condition()
        self.known_position = 0

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(TRACKING_TABLE)
            for view in self.views:
                view.create_tables(cursor, self.database.dialect)
            self.known_position = self.read_position(cursor)

    def drop_tables(self) -> None:
        """Forgets every row and the position: the next feed rebuilds from the start."""
        with self.database.transaction() as cursor:
            cursor.execute(TRACKING_TABLE)
            for view in self.views:
                for table in view.tables:
                    cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute("DELETE FROM projection_tracking WHERE projection = ?", (self.name,))
        with self.changed:
            self.known_position = 0

    def read_position(self, cursor: Cursor) -> int:
        cursor.execute(
            "SELECT position FROM projection_tracking WHERE projection = ?", (self.name,)
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def position(self) -> int:
        with self.database.transaction() as cursor:
            position = self.read_position(cursor)
        with self.changed:
            self.known_position = max(self.known_position, position)
        return position

    def handle(self, messages: Sequence[EventMessage]) -> int:
        """Applies the messages not applied yet, in one transaction; returns how many."""
        if not messages:
            return 0
        with self.database.transaction() as cursor:
            position = self.read_position(cursor)
            fresh = [m for m in messages if m.position > position]
            if fresh:
                for view in self.views:
                    view.apply(cursor, fresh)
                position = fresh[-1].position
                cursor.execute(
                    "INSERT INTO projection_tracking (projection, position) VALUES (?, ?) "
                    "ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
                    (self.name, position),
                )
        with self.changed:
            self.known_position = max(self.known_position, position)
            self.changed.notify_all()
        return len(fresh)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Waits until the rows reflect `position`; False when the time ran out."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.known_position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(min(remaining, 0.05))
        if self.known_position >= position:
            return True
        return self.position() >= position
