"""What this process last committed of each aggregate it changed, ready for the next command.

A command decided on this copy needs no read of the store. The copy may be stale when
another process has written since; the store's version check then refuses the save, and the
command is decided again on an aggregate loaded afresh (see `ProcessPlatform.run_command`).
It is never a state that was not committed: it is taken after a successful save only.

The states are kept pickled: bytes cannot change, so threads share them without locks and
each command gets its own aggregate; unpickling also costs about half a `deepcopy`.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import uuid
from typing import Any, TypeVar

from eventsourcing.application import LRUCache

T = TypeVar("T")


class CommittedStates:
    def __init__(self, maxsize: int) -> None:
        self.states: LRUCache[uuid.UUID, tuple[int, bytes]] = LRUCache(maxsize=maxsize)
        self.lock = threading.Lock()

    def remember(self, aggregate: Any) -> None:
        """Keeps the aggregate's state; call it only once its events are committed."""
        if aggregate.pending_events:  # events not saved: not a committed state
            self.forget(aggregate.id)
            return
        try:
            state = pickle.dumps(aggregate, pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable: its commands load it from the store
            self.forget(aggregate.id)
            return
        with self.lock:  # a slower thread must not replace a later version with its own
            try:
                known, _ = self.states.get(aggregate.id)
            except KeyError:
                known = 0
            if aggregate.version > known:
                self.states.put(aggregate.id, (aggregate.version, state))

    def forget(self, aggregate_id: uuid.UUID) -> None:
        with self.lock, contextlib.suppress(KeyError):
            self.states.get(aggregate_id, evict=True)

    def copy(self, cls: type[T], aggregate_id: uuid.UUID) -> T | None:
        """A private copy of the last committed state, or None when there is none."""
        try:
            _version, state = self.states.get(aggregate_id)
        except KeyError:
            return None
        aggregate = pickle.loads(state)
        return aggregate if isinstance(aggregate, cls) else None
