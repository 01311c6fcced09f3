"""Clicks on short links, as a gateway takes them: written in batches (not one write per
visit), a message's repeated clicks within REPEAT_SECONDS counted once, and each address
allowed LINK_REQUESTS visits per LINK_SECONDS to the links in messages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

REPEAT_SECONDS = 10.0  # a message's clicks this close together count once
FLUSH_SECONDS = 0.5  # clicks wait at most this long for their write
LINK_REQUESTS, LINK_SECONDS = 60, 60.0  # visits an address may make to links, per minute
REMEMBERED = 100_000  # messages and addresses remembered at most (the oldest go first)

Click = tuple[str, datetime, str]  # message id, when, user agent


class ClickWriter:
    """Collects clicks and writes them every FLUSH_SECONDS in one call; a click of a message
    counted less than REPEAT_SECONDS ago (by this gateway) is not counted again."""

    def __init__(self, record: Callable[[Sequence[Click]], int]) -> None:
        self.record = record
        self.pending: list[Click] = []
        self.counted: dict[str, float] = {}  # message id: when its last counted click came
        self.task: asyncio.Task[None] | None = None

    def add(self, message_id: str, agent: str) -> bool:
        """Takes a click; False when it repeats one counted a moment ago."""
        now = time.monotonic()
        last = self.counted.get(message_id)
        if last is not None and now - last < REPEAT_SECONDS:
            return False
        self.counted.pop(message_id, None)  # to the end: the oldest are forgotten first
        self.counted[message_id] = now
        forget_oldest(self.counted)
        self.pending.append((message_id, datetime.now(UTC), agent))
        return True

    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            await run_in_threadpool(self.record, batch)
        except Exception:  # the visitors got where the links lead; their clicks are lost
            log.exception("could not record %d clicks", len(batch))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.flush()


class AddressLimit:
    """At most LINK_REQUESTS visits per LINK_SECONDS from one address (a sliding count)."""

    def __init__(self) -> None:
        self.visits: dict[str, tuple[float, float]] = {}  # address: (allowance, when)

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        allowance, when = self.visits.get(address, (float(LINK_REQUESTS), now))
        allowance = min(
            float(LINK_REQUESTS), allowance + (now - when) * LINK_REQUESTS / LINK_SECONDS
        )
        if allowance < 1:
            self.visits[address] = (allowance, now)
            return False
        self.visits.pop(address, None)
        self.visits[address] = (allowance - 1, now)
        forget_oldest(self.visits)
        return True


def forget_oldest(remembered: dict[str, Any]) -> None:
    """Keeps a dictionary to REMEMBERED entries, dropping those put in first."""
    while len(remembered) > REMEMBERED:
        del remembered[next(iter(remembered))]
