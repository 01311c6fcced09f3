"""Group commit: the events of concurrent commands saved in one transaction of the store.

Every save is a transaction, and in PostgreSQL each one also holds the events table's lock
across its round trips; commands arriving together therefore share one. The first caller
to arrive leads: it saves the events of every command waiting (its own first) in one
transaction, then hands the lead to the oldest caller still waiting, so that no caller works
for others after its own answer is ready. Each caller returns once its own events are
committed and the application has been notified of them, exactly as after its own `save()`.

A batch never holds two callers' events for the same aggregate: they would clash with each
other, so the later one waits for a later batch. When a combined save fails (a version clash
with another writer), nothing of it was stored, and each caller's events are saved again on
their own, so only the caller that clashed sees the error.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Recording

Store = Callable[[list[Any]], list[Recording[uuid.UUID]]]
Notify = Callable[[list[Recording[uuid.UUID]]], None]

MAX_BATCH = 64  # callers per transaction: bounds its size and the leader's wait


class Pending:
    """One caller's events, waiting to be saved, then its answer."""

    __slots__ = ("error", "events", "ids", "lead", "recordings", "settled", "wake")

    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.ids = frozenset(event.originator_id for event in events)
        self.wake = threading.Event()
        self.lead = False  # set when this caller must lead the next batch
        self.settled = False
        self.recordings: list[Recording[uuid.UUID]] = []
        self.error: BaseException | None = None

    def answer(self) -> list[Recording[uuid.UUID]]:
        if self.error is not None:
            raise self.error
        return self.recordings


class GroupCommit:
    """Saves the events of concurrent callers in as few transactions as it safely can.

    `store` writes a list of events in one transaction (IntegrityError on a version clash);
    `notify` then tells the application what was stored.
    """

    def __init__(self, store: Store, notify: Notify, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.notify = notify
        self.max_batch = max_batch
        self.lock = threading.Lock()
        self.waiting: list[Pending] = []
        self.leading = False  # whether some caller is saving a batch right now
        self.batches = 0
        self.saved = 0

    def save(self, events: Sequence[Any]) -> list[Recording[uuid.UUID]]:
        """Saves these events, maybe with other callers'; returns their recordings."""
        if not events:
            return []
        pending = Pending(list(events))
        with self.lock:
            self.waiting.append(pending)
            if not self.leading:
                self.leading = pending.lead = True
        if not pending.lead:
            pending.wake.wait()
        if pending.lead:
            self.lead()
        return pending.answer()

    def lead(self) -> None:
        """Saves one batch, which starts with the oldest caller waiting: the leader itself."""
        with self.lock:
            batch = self.take_batch()
        try:
            self.save_batch(batch)
        finally:
            for pending in batch:
                if not pending.settled:  # interrupted: fail, rather than leave anyone waiting
                    pending.error = RuntimeError("the save was interrupted")
            with self.lock:
                if self.waiting:
                    self.waiting[0].lead = True
                    self.waiting[0].wake.set()
                else:
                    self.leading = False
            for pending in batch:
                pending.wake.set()

    def take_batch(self) -> list[Pending]:
        """Waiting callers in arrival order, skipping any that shares an aggregate with an
        earlier one (taken or skipped), so each aggregate's callers keep their order."""
        batch: list[Pending] = []
        left: list[Pending] = []
        seen: set[uuid.UUID] = set()
        for pending in self.waiting:
            if len(batch) < self.max_batch and not seen.intersection(pending.ids):
                batch.append(pending)
            else:
                left.append(pending)
            seen.update(pending.ids)
        self.waiting = left
        self.batches += 1
        self.saved += len(batch)
        return batch

    def save_batch(self, batch: list[Pending]) -> None:
        if len(batch) > 1:
            try:
                recordings = self.store([event for p in batch for event in p.events])
            except Exception:  # nothing was stored: each caller's events on their own
                pass
            else:
                for pending in batch:
                    pending.recordings = [
                        r for r in recordings if r.domain_event.originator_id in pending.ids
                    ]
                self.settle(batch, recordings)
                return
        for pending in batch:
            try:
                pending.recordings = self.store(pending.events)
            except Exception as error:
                pending.error = error
                pending.settled = True
            else:
                self.settle([pending], pending.recordings)

    def settle(self, stored: list[Pending], recordings: list[Recording[uuid.UUID]]) -> None:
        """Notifies of what was stored; a failure to notify is each caller's error, as it
        would be after its own save, and never a reason to store anything again."""
        try:
            self.notify(recordings)
        except Exception as error:
            for pending in stored:
                pending.error = error
        for pending in stored:
            pending.settled = True
