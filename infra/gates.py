"""Sending gates: a campaign's batch is handed to the carrier only while no command that
stops the campaign's sending (pause, abort, a suspension, a window closing) is committing.

The handover holds the campaign's gate shared from its check of the campaign's status until
the carrier has the messages; a stopping command holds it exclusively until it has
committed. So a batch either went to the carrier before the command committed, or its
handover sees the new status and sends nothing. Neither side waits for ever:

- a stopping command waits for a handover at most `stop_wait` seconds (past that, the
  holder was frozen and has lost its lease: it checks its lease right before the carrier);
- a handover waits for a stopping command at most `stop_wait` seconds, then tries again
  later (on PostgreSQL a frozen command's hold ends with its session, idle in its
  transaction);
- a handover hands nothing over once it has held the gate for half of `stop_wait`
  (`Hold.check`), as a stopping command may have stopped waiting for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

GATE_FILES = 256  # SQLite: campaigns share this many lock files
GATE_CLASS = 0x53454E44  # PostgreSQL: the first key of every gate's advisory lock ("SEND")


class GateBusy(Exception):
    """The gate could not be had, or held, in time: the handover is tried again later."""


class Hold:
    """A handover's hold of a campaign's gate."""

    def __init__(self, campaign_id: str, limit: float, alive: Any = None) -> None:
        self.campaign_id = campaign_id
        self.until = time.monotonic() + limit
        self.alive = alive  # raises when the hold's session is gone

    def check(self) -> None:
        """Raises GateBusy unless the gate is certainly still held: right before the
        carrier takes the messages."""
        if time.monotonic() > self.until:
            raise GateBusy(f"campaign {self.campaign_id}: its gate was held too long")
        if self.alive is not None:
            try:
                self.alive()
            except Exception as error:
                raise GateBusy(f"campaign {self.campaign_id}: its gate's session ended") from error


class SendingGate(Protocol):
    def handing_over(self, campaign_id: str) -> contextlib.AbstractContextManager[Hold]: ...

    def stopping(self, campaign_id: str) -> contextlib.AbstractContextManager[None]: ...


def gate_number(campaign_id: str, buckets: int = 2**31) -> int:
    digest = hashlib.blake2b(campaign_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


class FileGates:
    """Gates as flock locks on files of the data directory: shared by every process using
    it (the embedded store), released when a process ends, whatever way it ends."""

    def __init__(self, folder: Path, stop_wait: float) -> None:
        self.folder = folder
        self.stop_wait = stop_wait

    def path(self, campaign_id: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{gate_number(campaign_id, GATE_FILES)}.lock"

    def take(self, gate: Any, mode: int) -> bool:
        deadline = time.monotonic() + self.stop_wait
        while True:
            try:
                fcntl.flock(gate, mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)

    @contextlib.contextmanager
    def handing_over(self, campaign_id: str) -> Iterator[Hold]:
        with open(self.path(campaign_id), "a+b") as gate:
            if not self.take(gate, fcntl.LOCK_SH):
                raise GateBusy(f"campaign {campaign_id}: a stopping command holds its gate")
            yield Hold(campaign_id, self.stop_wait / 2)  # the lock ends with the file's closing

    @contextlib.contextmanager
    def stopping(self, campaign_id: str) -> Iterator[None]:
        with open(self.path(campaign_id), "a+b") as gate:
            if not self.take(gate, fcntl.LOCK_EX):
                log.warning("campaign %s: a handover held its gate too long", campaign_id)
            yield


class AdvisoryGates:
    """Gates as PostgreSQL advisory locks: shared by every process using the database. The
    handover side keeps one connection per thread (a lock of its session); stopping commands
    borrow one from a small pool and hold the lock in a transaction, which the server ends
    if it sits idle for `stop_wait` (its process frozen)."""

    def __init__(self, url: str, stop_wait: float) -> None:
        self.url = url
        self.stop_wait = stop_wait
        self.local = threading.local()
        self.connections: list[Any] = []
        self.pool: Any = None
        self.pool_lock = threading.Lock()

    def key(self, campaign_id: str) -> tuple[int, int]:
        return GATE_CLASS, gate_number(campaign_id) - 2**30

    def own_connection(self) -> Any:
        import psycopg

        connection = getattr(self.local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.url, autocommit=True)
            connection.execute(f"SET lock_timeout = {int(self.stop_wait * 1000)}")
            self.local.connection = connection
            with self.pool_lock:
                self.connections.append(connection)
        return connection

    @contextlib.contextmanager
    def handing_over(self, campaign_id: str) -> Iterator[Hold]:
        import psycopg

        connection = self.own_connection()
        key = self.key(campaign_id)
        try:
            connection.execute("SELECT pg_advisory_lock_shared(%s, %s)", key)
        except psycopg.errors.LockNotAvailable:
            raise GateBusy(f"campaign {campaign_id}: a stopping command holds its gate") from None
        except Exception:
            connection.close()  # a broken session: the next handover opens a new one
            raise
        try:
            yield Hold(campaign_id, self.stop_wait / 2, lambda: connection.execute("SELECT 1"))
        finally:
            try:
                connection.execute("SELECT pg_advisory_unlock_shared(%s, %s)", key)
            except Exception:
                connection.close()  # the session's end releases the lock

    def borrowed(self) -> Any:
        with self.pool_lock:
            if self.pool is None:
                from psycopg_pool import ConnectionPool

                wait = int(self.stop_wait * 1000)

                def configure(connection: Any) -> None:
                    connection.execute(f"SET idle_in_transaction_session_timeout = {wait}")
                    connection.execute(f"SET lock_timeout = {wait}")

                self.pool = ConnectionPool(
                    self.url,
                    min_size=0,
                    max_size=4,
                    open=True,
                    kwargs={"autocommit": True},
                    configure=configure,
                )
        return self.pool.connection()

    @contextlib.contextmanager
    def stopping(self, campaign_id: str) -> Iterator[None]:
        import psycopg

        key = self.key(campaign_id)
        with self.borrowed() as connection, connection.transaction():
            try:
                with connection.transaction():  # a savepoint: a lock not had leaves it usable
                    connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", key)
            except psycopg.errors.LockNotAvailable:
                log.warning("campaign %s: a handover held its gate too long", campaign_id)
            yield  # the command commits meanwhile; the lock ends with this transaction

    def close(self) -> None:
        with self.pool_lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            connection.close()
        if self.pool is not None:
            self.pool.close()
