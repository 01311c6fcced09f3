"""The store's identity: a random id made once per store and kept with its read models.

Every record the store's processes put on Kafka carries it in a `store` header, and every
consumer refuses records that carry another: two stores given the same topic prefix would
otherwise feed each other's read models.
"""

from __future__ import annotations

import uuid
from typing import Any

from projections.database import Database

HEADER = "store"

IDENTITY_TABLE = """
CREATE TABLE IF NOT EXISTS store_identity (
    singleton INTEGER PRIMARY KEY,
    id TEXT NOT NULL
)
"""


def store_id(database: Database) -> str:
    """The store's id, made on first use."""
    with database.transaction() as cursor:
        cursor.execute(IDENTITY_TABLE)
        cursor.execute(
            "INSERT INTO store_identity (singleton, id) VALUES (1, ?) "
            "ON CONFLICT (singleton) DO NOTHING",
            (uuid.uuid4().hex,),
        )
        cursor.execute("SELECT id FROM store_identity WHERE singleton = 1")
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


def header(store: str) -> tuple[str, bytes]:
    return HEADER, store.encode()


class ForeignRecord(RuntimeError):
    """A record on our topic that another store published."""


def check_records(store: str, topic: str, records: dict[Any, list[Any]]) -> None:
    """Refuses records this store did not publish: another store's, and records without
    the header (written by hand, or by a tool that is not ours)."""
    mine = store.encode()
    for batch in records.values():
        for record in batch:
            found = [value for key, value in record.headers or () if key == HEADER]
            if found == [mine]:
                continue
            by = (
                f"another store ({found[0].decode(errors='replace')}; this one is {store})"
                if found
                else f"something that is not this store (no {HEADER!r} header)"
            )
            raise ForeignRecord(
                f"{topic} partition {record.partition} offset {record.offset} was "
                f"published by {by}: give each store its own topic prefix "
                "(CAMPAIGNS_KAFKA_TOPIC_PREFIX), and write to its topics only through it"
            )
