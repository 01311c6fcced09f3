"""The embedded feed: tails the store's notification log into the projector.

Woken at once by this process's own saves, and polling for other processes' writes. Under a
steady stream of writes it catches up at most once per `min_interval`, so that the events of
that interval share one read-model transaction instead of paying for one each.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from eventsourcing.utils import resolve_topic

from domain.application import CampaignPlatform
from infra.application import ProcessPlatform
from projections.messages import EventMessage, message_from_event, message_from_state
from projections.projector import Projector

log = logging.getLogger(__name__)

BATCH = 1000
POLL_SECONDS = 0.25
MIN_INTERVAL = 0.02  # seconds between catch-ups when woken again at once


def read_messages(app: CampaignPlatform, after: int, limit: int) -> list[EventMessage]:
    """Up to `limit` stored events after `position`, as messages."""
    notifications = app.recorder.select_notifications(
        start=after, limit=limit, inclusive_of_start=False
    )
    plain_json = app.mapper.cipher is None and app.mapper.compressor is None
    return [
        message_from_state(n.id, n.topic, n.originator_id, n.originator_version, n.state)
        if plain_json and not upcasts(n.topic)
        else message_from_event(n.id, app.mapper.to_domain_event(n))
        for n in notifications
    ]


@functools.cache
def upcasts(topic: str) -> bool:
    """Whether events of this topic may need upcasting (then the library decodes them)."""
    return int(getattr(resolve_topic(topic), "class_version", 1)) != 1


class LogFeed:
    def __init__(
        self, app: ProcessPlatform, projector: Projector, min_interval: float = MIN_INTERVAL
    ) -> None:
        self.app = app
        self.projector = projector
        self.min_interval = min_interval
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        app.listeners.append(lambda _position: self.wake.set())

    def catch_up(
        self, progress: Callable[[int, int], None] | None = None, *, known: bool = False
    ) -> int:
        """Applies everything stored so far; returns how many events were applied.

        `known` starts from the position this process last saw the read models at, instead of
        reading it: the projector skips what another writer applied meanwhile anyway.
        """
        applied = 0
        position = self.projector.known_position if known else self.projector.position()
        last = (self.app.recorder.max_notification_id() or 0) if progress else 0
        while True:
            messages = read_messages(self.app, position, BATCH)
            if not messages:
                return applied
            applied += self.projector.handle(messages)
            position = max(messages[-1].position, self.projector.known_position)
            if progress:
                progress(position, max(last, position))
            if len(messages) < BATCH:
                return applied  # that was the end of the log a moment ago

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="log-feed", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                self.catch_up(known=True)
            except Exception:  # a bad moment of the database: log it and go on polling
                log.exception("the read models could not catch up; retrying")
                self.stopping.wait(1)
            self.wake.wait(POLL_SECONDS)
            # A write right after a quiet spell is applied at once; a stream of writes waits
            # for the rest of the interval and is applied in one batch.
            self.stopping.wait(self.min_interval - (time.monotonic() - began))
            self.wake.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=10)
