"""What each long-running process of the platform sets for itself once it has started."""

from __future__ import annotations

import fcntl
import gc
import os
import time
from pathlib import Path
from typing import IO

# Young collections every 50,000 new container objects (Python's default: 700), each older
# generation after 20 and 100 collections of the one before (default: 10 and 10).
GC_THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    """Tunes the garbage collector for a process that runs for long, once it has started.

    What exists now lives as long as the process: it is left out of the collector's sight
    (`gc.freeze`), so every full collection has that much less to walk. Collections then come
    rarer: a wall's broadcast keeps thousands of short-lived objects alive at once, and each
    collection that catches them promotes them, until a full collection (hundreds of ms with
    10,000 connections, pausing the event loop) finds nothing; the dispatcher, with the
    defaults, spent a sixth of its CPU in the collector, mostly in full collections that
    went through every long-lived object again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class AlreadySending(RuntimeError):
    """Another process sends from the same data directory; the message names it."""


class SendingLock:
    """The embedded store's one sending process: a lock on a file of the data directory,
    held while the process sends and released when it ends, whatever way it ends."""

    NAME = "sending.lock"

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / self.NAME
        self.file: IO[str] | None = None

    def acquire(self, description: str) -> None:
        """Takes the lock, or raises AlreadySending naming the process holding it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        held = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (kept open: the lock)
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.seek(0)
            holder = held.read().strip() or "another process"
            held.close()
            raise AlreadySending(
                f"{holder} already sends from {self.path.parent}; one process sends per data "
                "directory (use PostgreSQL for several), or run this one with "
                "CAMPAIGNS_SENDING=off"
            ) from None
        held.seek(0)
        held.truncate()
        held.write(f"{description} (pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')})")
        held.flush()
        self.file = held

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
