"""Sending gates: a campaign's batch is handed to the carrier only while no command that
stops the campaign's sending (pause, abort, a suspension, a window closing) is committing.

The handover holds the campaign's gate shared from its check of the campaign's status until
the carrier has the messages; a stopping command holds it exclusively until it has
committed. So a batch either went to the carrier before the command committed, or its
handover sees the new status and sends nothing. A command waits for a gate at most
`stop_wait` seconds: past that the holder has lost its lease (it was frozen) and hands
nothing over when it wakes, since it checks its lease right before the carrier.
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


class SendingGate(Protocol):
    def handing_over(self, campaign_id: str) -> contextlib.AbstractContextManager[None]: ...

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

    @contextlib.contextmanager
    def handing_over(self, campaign_id: str) -> Iterator[None]:
        with open(self.path(campaign_id), "a+b") as gate:
            fcntl.flock(gate, fcntl.LOCK_SH)
            yield  # the lock ends with the file's closing

    @contextlib.contextmanager
    def stopping(self, campaign_id: str) -> Iterator[None]:
        with open(self.path(campaign_id), "a+b") as gate:
            deadline = time.monotonic() + self.stop_wait
            while True:
                try:
                    fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        log.warning("campaign %s: a handover held its gate too long", campaign_id)
                        break
                    time.sleep(0.005)
            yield


class AdvisoryGates:
    """Gates as PostgreSQL advisory locks: shared by every process using the database,
    released when a holder's session ends. The handover side keeps one connection per
    thread; stopping commands borrow one from a small pool."""

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
            self.local.connection = connection
            with self.pool_lock:
                self.connections.append(connection)
        return connection

    @contextlib.contextmanager
    def handing_over(self, campaign_id: str) -> Iterator[None]:
        connection = self.own_connection()
        key = self.key(campaign_id)
        try:
            connection.execute("SELECT pg_advisory_lock_shared(%s, %s)", key)
        except Exception:
            connection.close()  # a broken session: the next handover opens a new one
            raise
        try:
            yield
        finally:
            try:
                connection.execute("SELECT pg_advisory_unlock_shared(%s, %s)", key)
            except Exception:
                connection.close()  # the session's end releases the lock

    def borrowed(self) -> Any:
        with self.pool_lock:
            if self.pool is None:
                from psycopg_pool import ConnectionPool

                self.pool = ConnectionPool(
                    self.url, min_size=0, max_size=4, open=True, kwargs={"autocommit": True}
                )
        return self.pool.connection()

    @contextlib.contextmanager
    def stopping(self, campaign_id: str) -> Iterator[None]:
        import psycopg

        key = self.key(campaign_id)
        with self.borrowed() as connection:
            connection.execute(f"SET lock_timeout = {int(self.stop_wait * 1000)}")
            try:
                connection.execute("SELECT pg_advisory_lock(%s, %s)", key)
                locked = True
            except psycopg.errors.LockNotAvailable:
                log.warning("campaign %s: a handover held its gate too long", campaign_id)
                locked = False
            finally:
                connection.execute("RESET lock_timeout")
            try:
                yield
            finally:
                if locked:
                    connection.execute("SELECT pg_advisory_unlock(%s, %s)", key)

    def close(self) -> None:
        with self.pool_lock:
            connections, self.connections = self.connections, []
        for connection in connections:
            connection.close()
        if self.pool is not None:
            self.pool.close()
