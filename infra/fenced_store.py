"""The event store's PostgreSQL recorder, with sending processes' fences.

A save given a `fence` (a stream, its owner and the owner's epoch) checks, in the
transaction that stores the events and before the events table's lock, that the epoch is
still the stream's, holding the lease's row until the transaction ends: a batch saved by a
process that lost its stream is refused, and a take-over waits for a save under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from projections.leases import Fence, LeaseLost

TOPIC = "infra.fenced_store:FencedPostgresRecorder"


class FencedPostgresRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        fence: Fence | None = kwargs.get("fence")
        if fence is not None:
            curs.execute(
                SQL(
                    "SELECT epoch FROM {0}.stream_leases WHERE stream = %s AND owner = %s "
                    "AND released = 0 FOR SHARE"
                ).format(Identifier(self.datastore.schema)),
                (fence.stream, fence.owner),
            )
            row = curs.fetchone()
            if row is None or int(row["epoch"]) != fence.epoch:
                raise LeaseLost(
                    fence.stream,
                    f"the stream {fence.stream} is no longer owned by {fence.owner} under "
                    f"epoch {fence.epoch}: its batch is not saved",
                    fence.epoch,
                )
        super()._insert_events(curs, stored_events, **kwargs)
