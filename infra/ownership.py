"""The sending streams this process owns (see `projections/leases.py`).

Each round (`refresh`) the process says it is alive, renews the leases it holds, gives up
streams beyond its fair share (once its engine has stopped working them) and takes free or
expired ones up to that share, so that work spreads over the live sending processes and a
stream whose owner stopped renewing is taken over within the lease time. A lease counts as
held locally until the moment its last renewal was sent plus the lease time: the database
can only give the stream away later than that.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from projections.leases import Fence, LeaseLost, StreamLeases, Taken, fair_share

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between rounds: how soon a free or expired stream is noticed


def process_name(role: str) -> str:
    """A sending process's name in leases and owner changes: role, host, PID, and a
    random part (a PID is reused)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


@dataclass
class Held:
    fence: Fence
    valid_until: float  # monotonic seconds


@dataclass
class Changes:
    """What happened to this process's streams since the engine last looked."""

    taken: list[Taken] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # taken by another, or lease ended


class Ownership:
    """This process's leases: renewed, balanced and taken in rounds, by a thread of its own
    once started, or by whoever calls `refresh` (tests step the engine)."""

    def __init__(
        self,
        leases: StreamLeases,
        owner: str,
        streams: Callable[[], list[str]],
        *,
        lease_seconds: float,
        exclusive: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.owner = owner
        self.streams = streams
        self.lease_seconds = lease_seconds
        # The only sending process there can be (a lock file says so): it takes every
        # stream at once, whoever held it before.
        self.exclusive = exclusive
        self.clock = clock
        self.margin = lease_seconds / 4  # a lease this close to its end is not relied on
        self.renew_every = lease_seconds / 4
        self.held: dict[str, Held] = {}
        self.leaving: set[str] = set()  # over the share: given up once the engine let go
        self.over_share = ""  # why, in words
        self.changes = Changes()
        self.lock = threading.Lock()
        self.listeners: list[Callable[[], None]] = []
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.next_renewal = 0.0

    # Asked by the engine.

    def fence(self, stream: str) -> Fence:
        """The fence of a stream this process holds; LeaseLost when it holds it no more."""
        with self.lock:
            held = self.held.get(stream)
        if held is None:
            raise LeaseLost(stream, f"this process does not own the stream {stream}")
        return held.fence

    def holds(self, fence: Fence) -> bool:
        """Whether the lease under `fence` is certainly still held, with a margin: what is
        checked right before messages go to the carrier."""
        with self.lock:
            held = self.held.get(fence.stream)
        return (
            held is not None
            and held.fence == fence
            and self.clock() + self.margin < held.valid_until
        )

    def reporting(self, stream: str) -> bool | None:
        """Whether the carrier may report on the stream's messages now: True while the lease
        certainly holds, None while it is near its end (later, once renewed), False once the
        stream is not this process's (its next owner reports)."""
        with self.lock:
            held = self.held.get(stream)
        if held is None:
            return False
        return True if self.clock() + self.margin < held.valid_until else None

    def working(self) -> list[str]:
        """The streams to send on: held, and not being given up."""
        with self.lock:
            return sorted(set(self.held) - self.leaving)

    def to_give_up(self) -> list[str]:
        with self.lock:
            return sorted(self.leaving & set(self.held))

    def take_changes(self) -> Changes:
        with self.lock:
            changes, self.changes = self.changes, Changes()
        return changes

    def lose(self, stream: str, epoch: int | None = None) -> None:
        """Forgets a stream whose fence (under `epoch`, when given) a write found stale."""
        with self.lock:
            held = self.held.get(stream)
            if held is not None and epoch is not None and held.fence.epoch != epoch:
                return  # a fence of before: the stream is held under a newer one
            self.held.pop(stream, None)
            self.leaving.discard(stream)
            if held is not None:
                self.changes.lost.append(stream)
        if held is not None:
            log.warning("lost the stream %s (epoch %d)", stream, held.fence.epoch)

    def give_up(self, stream: str, reason: str = "") -> None:
        """Releases a stream the engine no longer works: another process takes it at once."""
        with self.lock:
            held = self.held.pop(stream, None)
            self.leaving.discard(stream)
            reason = reason or self.over_share
        if held is not None:
            self.leases.release(held.fence, reason)
            log.info("gave up the stream %s (epoch %d): %s", stream, held.fence.epoch, reason)

    # Rounds.

    def refresh(self) -> None:
        """One round: heartbeat and renewals when due, the share, then take what is free."""
        now = self.clock()
        if now >= self.next_renewal:
            self.next_renewal = now + self.renew_every
            self.renew()
        streams = self.streams()
        live = self.leases.heartbeat(self.owner, self.lease_seconds)
        share = len(streams) if self.exclusive else fair_share(len(streams), live)
        with self.lock:
            held = sorted(self.held)
            over = len(held) - share
            self.leaving = set(held[share:]) if over > 0 else set()
            self.over_share = (
                f"it had {len(held)} streams, more than its share of {share} "
                f"({len(streams)} streams, {live} sending processes)"
            )
        for stream in streams:
            if len(self.held) >= share:
                break
            if stream not in self.held:
                self.take(stream)

    def renew(self) -> None:
        with self.lock:
            helds = list(self.held.values())
        for held in helds:
            sent = self.clock()
            if self.leases.renew(held.fence, self.lease_seconds):
                with self.lock:
                    if self.held.get(held.fence.stream) is held:
                        held.valid_until = sent + self.lease_seconds
            else:
                self.lose(held.fence.stream)
                self.notify()

    def take(self, stream: str) -> None:
        sent = self.clock()
        taken = self.leases.acquire(stream, self.owner, self.lease_seconds, force=self.exclusive)
        if taken is None:
            return
        with self.lock:
            self.held[stream] = Held(taken.fence, sent + self.lease_seconds)
            self.changes.taken.append(taken)
        log.info(
            "took the stream %s (epoch %d, %s%s)",
            stream,
            taken.fence.epoch,
            taken.how,
            f" from {taken.previous_owner}" if taken.previous_owner else "",
        )
        self.notify()

    def notify(self) -> None:
        for listener in self.listeners:
            listener()

    # The thread.

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self) -> None:
        self.stopping.clear()
        self.thread = threading.Thread(target=self.run, name="stream-leases", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.refresh()
            except Exception:  # the database is away: the leases run out unless it is back
                log.exception("could not renew or take stream leases; retrying")
            self.stopping.wait(TICK)

    def stop(self) -> None:
        """Stops the rounds, releases every stream and leaves the live processes."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
        for stream in list(self.held):
            try:
                self.give_up(stream, "it stopped")
            except Exception:
                log.exception("could not release the stream %s; its lease runs out", stream)
        try:
            self.leases.leave(self.owner)
        except Exception:
            log.exception("could not leave the live sending processes")
