"""Stream leases: which sending process owns each sending stream, under a fencing epoch.

A stream is owned by at most one process at a time. Its row names the owner, an epoch that
grows by one with every change of owner, and when the lease ends unless the owner renews
it; times are the database's clock, so the hosts' clocks need not agree. Every write a
sending process makes for a stream checks in its own transaction that its epoch is still
the stream's (`check_fence`), holding the row meanwhile: an owner that lost the stream
writes nothing more, and a take-over waits for the writes already under way.

On PostgreSQL a sending process's sessions are named after it (`application_name`). A
write under way ends with its transaction; the server ends a transaction whose process
froze between two statements (`idle_in_transaction_session_timeout`), but not one frozen in
the middle of a statement (a COPY, a pipeline), which would keep its stream's row held for
as long as it stays frozen. So a process that finds the row held past the lease's end ends
its owner's sessions that have sat in a transaction as long as that timeout: their
transactions roll back, as the timeout's would.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from projections.database import Cursor, Database

LEASES_TABLE = """
CREATE TABLE IF NOT EXISTS stream_leases (
    stream TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    released INTEGER NOT NULL,
    release_reason TEXT,
    previous_owner TEXT,
    previous_expires_at DOUBLE PRECISION,
    previous_released INTEGER,
    previous_release_reason TEXT,
    changed_at DOUBLE PRECISION NOT NULL
)
"""
PROCESSES_TABLE = """
CREATE TABLE IF NOT EXISTS sending_processes (
    owner TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL
)
"""
# The database's clock, in seconds since 1970.
NOW = {
    "postgres": "EXTRACT(EPOCH FROM clock_timestamp())::double precision",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}
FORGOTTEN_AFTER = 10  # leases: a process silent this many lease times is forgotten
ACQUIRE_WAIT_MS = 200  # how long taking a stream waits for its row
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code for a lock not had in time
NAME_LENGTH = 63  # PostgreSQL keeps this many bytes of a session's application_name

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The stream's epoch moved on: another process owns it now (or nobody)."""

    def __init__(self, stream: str, message: str, epoch: int | None = None) -> None:
        super().__init__(message)
        self.stream = stream
        self.epoch = epoch  # the stale one, when known


@dataclass(frozen=True)
class Fence:
    """What a sending process's writes for a stream carry: the stream, its owner, and the
    epoch under which it owns it."""

    stream: str
    owner: str
    epoch: int


@dataclass(frozen=True)
class Taken:
    """A stream just taken: its fence, and whom it was taken from and how."""

    fence: Fence
    previous_owner: str | None
    previous_expires_at: float | None  # when the previous owner's lease ended (seconds)
    how: str  # "new", "released", "expired" or "forced"
    release_reason: str | None = None  # why the previous owner gave it up


@dataclass(frozen=True)
class Lease:
    """A row of the leases table, as the API shows it."""

    stream: str
    owner: str
    epoch: int
    expires_at: float
    released: bool
    now: float  # the database's clock when it was read

    @property
    def held(self) -> bool:
        return not self.released and self.expires_at >= self.now


def check_fence(cursor: Cursor, dialect: str, fence: Fence) -> None:
    """Raises LeaseLost unless `fence` is the stream's current epoch. On PostgreSQL the row
    is held (FOR SHARE) until the caller's transaction ends: a take-over waits for it."""
    lock = " FOR SHARE" if dialect == "postgres" else ""
    cursor.execute(
        f"SELECT epoch FROM stream_leases WHERE stream = ? AND owner = ? AND released = 0{lock}",
        (fence.stream, fence.owner),
    )
    row = cursor.fetchone()
    if row is None or int(row[0]) != fence.epoch:
        raise LeaseLost(
            fence.stream,
            f"the stream {fence.stream} is no longer owned by {fence.owner} under epoch "
            f"{fence.epoch}",
            fence.epoch,
        )


class StreamLeases:
    """The leases table and the sending processes' heartbeats, in the read models'
    database. Every statement runs in a transaction of its own."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.now = NOW[database.dialect]

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(LEASES_TABLE)
            cursor.execute(PROCESSES_TABLE)

    def acquire(
        self, stream: str, owner: str, seconds: float, *, force: bool = False
    ) -> Taken | None:
        """Takes the stream when nobody holds it (never held, released, or its lease
        ended), or whoever holds it with `force`; None when another process holds it."""
        now = self.now
        condition = (
            ""
            if force
            else f" WHERE stream_leases.released = 1 OR stream_leases.expires_at < {now}"
        )
        if not force and self.held_by_another(stream, owner):
            return None  # asked without a lock: the owner's writes are not held up
        try:
            with self.database.transaction() as cursor:
                if self.database.dialect == "postgres":
                    # A row held by a write under way (its process maybe frozen, until the server
                    # ends its session): the next round tries again, renewals are not held up.
                    cursor.execute(f"SET LOCAL lock_timeout = {ACQUIRE_WAIT_MS}")
                cursor.execute(
                    "INSERT INTO stream_leases (stream, owner, epoch, expires_at, released, "
                    f"changed_at) VALUES (?, ?, 1, {now} + ?, 0, {now}) "
                    "ON CONFLICT (stream) DO UPDATE SET owner = excluded.owner, "
                    "epoch = stream_leases.epoch + 1, expires_at = excluded.expires_at, "
                    "released = 0, release_reason = NULL, previous_owner = stream_leases.owner, "
                    "previous_expires_at = stream_leases.expires_at, "
                    "previous_released = stream_leases.released, "
                    "previous_release_reason = stream_leases.release_reason, "
                    f"changed_at = excluded.changed_at{condition} "
                    "RETURNING epoch, previous_owner, previous_expires_at, previous_released, "
                    "changed_at, previous_release_reason",
                    (stream, owner, seconds),
                )
                row = cursor.fetchone()
        except Exception as error:
            if getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                self.end_stuck_writes(stream, stuck_after(seconds))
                return None  # the next round tries again
            raise
        if row is None:
            return None
        epoch, previous, previous_expires, previous_released, changed, reason = row
        if previous is None:
            how = "new"
        elif previous_released:
            how = "released"
        elif float(previous_expires) < float(changed):
            how = "expired"
        else:
            how = "forced"
        return Taken(
            Fence(stream, owner, int(epoch)),
            None if previous is None else str(previous),
            None if previous_expires is None else float(previous_expires),
            how,
            reason if how == "released" else None,
        )

    def end_stuck_writes(self, stream: str, after: float) -> int:
        """Ends the sessions of the stream's owner, its lease over, that have sat in a
        transaction for `after` seconds without a change (PostgreSQL); how many."""
        try:
            with self.database.transaction() as cursor:
                cursor.execute(
                    "SELECT l.owner, pg_terminate_backend(a.pid) FROM stream_leases AS l "
                    "JOIN pg_stat_activity AS a ON a.application_name = left(l.owner, ?) "
                    f"WHERE l.stream = ? AND l.released = 0 AND l.expires_at < {self.now} "
                    "AND a.datname = current_database() AND a.pid <> pg_backend_pid() "
                    "AND a.xact_start IS NOT NULL "
                    "AND a.state_change < clock_timestamp() - make_interval(secs => ?)",
                    (NAME_LENGTH, stream, after),
                )
                ended = [str(row[0]) for row in cursor.fetchall() if row[1]]
        except Exception:  # not allowed to end them, say: the next round tries again
            log.exception("could not end the stuck writes on the stream %s", stream)
            return 0
        if ended:
            log.warning(
                "ended %d of the sessions of %s, stuck in a transaction holding the stream %s past "
                "its lease",
                len(ended),
                ended[0],
                stream,
            )
        return len(ended)

    def held_by_another(self, stream: str, owner: str) -> bool:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT 1 FROM stream_leases WHERE stream = ? AND owner <> ? AND released = 0 "
                f"AND expires_at >= {self.now}",
                (stream, owner),
            )
            return cursor.fetchone() is not None

    def renew(self, fence: Fence, seconds: float) -> bool:
        """Extends the lease from now; False when the stream's epoch moved on."""
        with self.database.transaction() as cursor:
            cursor.execute(
                f"UPDATE stream_leases SET expires_at = {self.now} + ? "
                "WHERE stream = ? AND owner = ? AND epoch = ? AND released = 0 RETURNING epoch",
                (seconds, fence.stream, fence.owner, fence.epoch),
            )
            return cursor.fetchone() is not None

    def release(self, fence: Fence, reason: str) -> None:
        """Gives the stream up at once, saying why: any process may take it from now on."""
        with self.database.transaction() as cursor:
            cursor.execute(
                f"UPDATE stream_leases SET released = 1, release_reason = ?, "
                f"expires_at = {self.now} WHERE stream = ? AND owner = ? AND epoch = ?",
                (reason, fence.stream, fence.owner, fence.epoch),
            )

    def heartbeat(self, owner: str, seconds: float) -> int:
        """Says this process is alive; returns how many sending processes are (those
        heard from within `seconds`), this one included."""
        now = self.now
        with self.database.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO sending_processes (owner, started_at, seen_at) VALUES (?, {now}, "
                f"{now}) ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
                (owner,),
            )
            cursor.execute(
                f"DELETE FROM sending_processes WHERE seen_at < {now} - ?",
                (seconds * FORGOTTEN_AFTER,),
            )
            cursor.execute(
                f"SELECT COUNT(*) FROM sending_processes WHERE seen_at >= {now} - ?", (seconds,)
            )
            row = cursor.fetchone()
        return max(1, int(row[0]) if row else 1)

    def leave(self, owner: str) -> None:
        """This process stops sending: it no longer counts among the live ones."""
        with self.database.transaction() as cursor:
            cursor.execute("DELETE FROM sending_processes WHERE owner = ?", (owner,))

    def leases(self) -> dict[str, Lease]:
        """Every stream's lease row, by stream."""
        with self.database.read() as cursor:
            cursor.execute(
                f"SELECT stream, owner, epoch, expires_at, released, {self.now} FROM stream_leases"
            )
            rows: list[Any] = cursor.fetchall()
        return {
            str(stream): Lease(
                str(stream), str(owner), int(epoch), float(expires), bool(released), float(now)
            )
            for stream, owner, epoch, expires, released, now in rows
        }


def stuck_after(lease_seconds: float) -> float:
    """How long a sending process's session may sit idle inside a transaction before the
    server ends it, and a write may sit in one statement before a successor ends it."""
    return max(1.0, lease_seconds / 2)


def fair_share(streams: int, processes: int) -> int:
    """How many streams each of `processes` live sending processes should own at most."""
    return math.ceil(streams / max(processes, 1))
