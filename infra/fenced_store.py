"""The event store on PostgreSQL: connected with the database URL as given, and its
recorder checks sending processes' fences.

A save given a `fence` (a stream, its owner and the owner's epoch) checks, in the
transaction that stores the events and before the events table's lock, that the epoch is
still the stream's, holding the lease's row until the transaction ends: a batch saved by a
process that lost its stream is refused, and a take-over waits for a save under way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InfrastructureFactoryError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from projections.leases import Fence, LeaseLost

TOPIC = "infra.fenced_store:FencedPostgresRecorder"
FACTORY = "infra.fenced_store:StoreFactory"
CONNINFO = "POSTGRES_CONNINFO"  # the store's setting naming the database URL


class StoreFactory(PostgresFactory):
    """The library's PostgreSQL persistence, whose connections are made from the whole
    database URL (`POSTGRES_CONNINFO`): its options (sslmode, sslrootcert,
    target_session_attrs, application_name, ...) reach every connection of the store, as
    they reach the read models'."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        conninfo = self.env.get(CONNINFO)
        if not conninfo:
            raise InfrastructureFactoryError(f"the event store needs {CONNINFO}")
        # Host, user, password and database name are given again as keyword arguments,
        # parsed from the same URL: libpq takes them over the URL's, equal to them.
        self.datastore.pool.conninfo = conninfo


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
