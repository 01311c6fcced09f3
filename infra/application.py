"""The application as a process of the store runs it: commands that arrive together commit
in one transaction, a command that clashes with another writer is decided again, and the
positions it commits are told to whoever waits on them (the feeds, the engine)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

from domain.application import A, CampaignPlatform
from domain.audited import Audited
from domain.errors import VersionConflict
from infra.committed import CommittedStates
from infra.group_commit import GroupCommit

SAVE_ATTEMPTS = 5
COMMITTED_STATES = 10_000  # aggregates whose last committed state commands start from


class ProcessPlatform(CampaignPlatform):
    """`CampaignPlatform` with group commit, retries on a clash, committed-state copies and
    the positions it has committed (`last_position`, `listeners`)."""

    name = CampaignPlatform.name  # the store's tables are named after it (PostgreSQL)

    def __init__(
        self, env: dict[str, str] | None = None, *, committed_states: int = COMMITTED_STATES
    ) -> None:
        super().__init__(env)
        self.position_lock = threading.Lock()
        self.last_position = 0
        self.listeners: list[Callable[[int], None]] = []
        self.group_commit = GroupCommit(self.store_events, self._notify)
        # With 0, commands start from the library's cache, fast-forwarded from the store.
        self.committed = CommittedStates(committed_states) if committed_states else None

    def store_events(self, events: list[Any], **options: Any) -> list[Recording[uuid.UUID]]:
        """Stores events in one transaction, as `save()` does with aggregates (without its
        check of each object against the event protocol, a slow isinstance); `options` go
        to the recorder (a sending process's fence)."""
        processing_event = ProcessingEvent[uuid.UUID]()
        processing_event.events.extend(events)
        processing_event.saved_kwargs.update(options)
        return self._record(processing_event)

    def _record(self, processing_event: ProcessingEvent[uuid.UUID]) -> list[Recording[uuid.UUID]]:
        recordings = super()._record(processing_event)
        # Whatever saved these may keep changing its aggregates: commands reload them.
        if self.committed is not None:
            for event in processing_event.events:
                self.committed.forget(event.originator_id)
        return recordings

    def _notify(self, recordings: list[Recording[uuid.UUID]]) -> None:
        if not recordings:
            return
        position = max(r.notification.id for r in recordings)
        with self.position_lock:
            self.last_position = max(self.last_position, position)
        for listener in self.listeners:
            listener(position)

    def run_command(
        self,
        cls: type[A],
        aggregate_id: uuid.UUID,
        what: str,
        action: Callable[[A], Iterable[Audited] | None],
        *,
        command_id: str | None = None,
        expected_version: int | None = None,
    ) -> A:
        """As `CampaignPlatform.run_command`, starting from this process's copy of what it
        last committed when it has one, and deciding again on a fresh load when the store
        refuses the save or the copy refuses the command: a stale copy never refuses (nor
        answers a version conflict) wrongly."""
        fresh = False
        for _attempt in range(SAVE_ATTEMPTS):
            copied = None if fresh else self.committed_copy(cls, aggregate_id)
            aggregate = self.load(cls, aggregate_id, what) if copied is None else copied
            try:
                done, others = self.decide(aggregate, what, action, command_id, expected_version)
            except Exception:
                if copied is None:
                    raise
                fresh = True
                continue
            if done is not None:
                return self.load(cls, aggregate_id, what, version=done)
            if self.save_new(aggregate, *others):
                return aggregate
            if copied is None and expected_version is not None:
                raise VersionConflict(
                    f"{what} was changed by someone else meanwhile; reload and retry",
                    details={"expected_version": expected_version},
                )
            fresh = True
        raise VersionConflict(f"{what} is changing too often right now; retry")

    def save_with_catalogue(self, kind: str, aggregates: list[Audited], *, actor: str) -> None:
        """As `CampaignPlatform.save_with_catalogue`, entered again (without the aggregates
        another writer saved) while the catalogue changes under it."""
        for _attempt in range(SAVE_ATTEMPTS):
            if self.enter_in_catalogue(kind, aggregates, actor=actor):
                return
            aggregates = [a for a in aggregates if not self.exists(a.id)]
        raise VersionConflict(f"the {kind} catalogue is changing too often right now; retry")

    def committed_copy(self, cls: type[A], aggregate_id: uuid.UUID) -> A | None:
        return None if self.committed is None else self.committed.copy(cls, aggregate_id)

    def save_new(self, *aggregates: Audited, **options: Any) -> bool:
        """Saves in a transaction that commands arriving at the same time share; with
        recorder options (a sending process's fence), in a transaction of its own. Returns
        once the events are committed and notified."""
        events = [event for a in aggregates for event in a.collect_events()]
        try:
            if options:
                self._notify(self.store_events(events, **options))
            else:
                self.group_commit.save(events)
        except IntegrityError:
            return False
        if self.committed is not None:
            for aggregate in aggregates:
                self.committed.remember(aggregate)
        return True
