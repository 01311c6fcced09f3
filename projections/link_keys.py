"""The store's link keys: the secrets that key the MAC of every link code (LinkCoder).

A key is 256 random bits made once per store, on first start, and kept in this table of
the read models' database only: never in an event, so never in an export, on Kafka, or in
`GET /api/events`. The sending engine alone reads it. Nobody can then compute a code from
what URLs, exports and logs show (a campaign's id, the numbering of messages).

Rotating adds a key with the next id; the engine makes every batch after it with the new
key. Codes keep their length (they carry no key id) and the codes already sent keep
working: a link is found by its whole code among the stored messages, which checks its MAC
without any key. The keys a store used stay in the table, each with its id and when it
became current.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.fields import format_time
from projections.database import Cursor, Database

KEY_BYTES = 32

TABLE = """
CREATE TABLE IF NOT EXISTS link_keys (
    id INTEGER PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""


@dataclass(frozen=True)
class LinkKey:
    id: int
    secret: bytes
    created_at: str

    def __repr__(self) -> str:  # never the secret: keys end up in logs and tracebacks
        return f"LinkKey(id={self.id}, created_at={self.created_at!r})"


class LinkKeys:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        """The table, and the store's first key when it has none."""
        with self.database.transaction() as cursor:
            cursor.execute(TABLE)
            add_key(cursor, 1)

    def current(self) -> LinkKey:
        """The key new codes are made with: the newest."""
        with self.database.read() as cursor:
            cursor.execute("SELECT id, secret, created_at FROM link_keys ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        assert row is not None, "the store has no link key: LinkKeys.create_tables makes it"
        return LinkKey(int(row[0]), bytes.fromhex(row[1]), str(row[2]))

    def rotate(self) -> LinkKey:
        """Makes a new key current; codes already made stay as they are."""
        with self.database.transaction() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM link_keys")
            row = cursor.fetchone()
            add_key(cursor, int(row[0]) + 1 if row else 1)
        return self.current()

    def every_key(self) -> list[LinkKey]:
        """Every key the store has had, oldest first."""
        with self.database.read() as cursor:
            cursor.execute("SELECT id, secret, created_at FROM link_keys ORDER BY id")
            rows = cursor.fetchall()
        return [LinkKey(int(r[0]), bytes.fromhex(r[1]), str(r[2])) for r in rows]


def add_key(cursor: Cursor, key_id: int) -> None:
    # Processes starting together, or two rotations at once, make one key of that id.
    cursor.execute(
        "INSERT INTO link_keys (id, secret, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (key_id, secrets.token_bytes(KEY_BYTES).hex(), format_time(datetime.now(UTC))),
    )
