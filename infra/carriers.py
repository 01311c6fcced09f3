"""Every stream's carrier, as the sending engine sees it: the demo carrier for demo streams,
and one link per SMPP or HTTP stream this process owns (opened when it takes the stream,
renewed when its settings change, closed when it loses or disables it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from domain.stream import UNKNOWN, Stream
from infra.demo_carrier import CarrierReports, DemoCarrier
from infra.http_carrier import HttpLink
from infra.smpp_carrier import CarrierUnavailable, SmppLink
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import WAITING_KEPT_FOR, CarrierLog
from projections.leases import Fence

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0  # how often the links are matched with the streams owned
BATCH_PER_WINDOW = 50  # a real carrier's batch: at most this many windows of messages
BATCH_SECONDS = 1.0  # and about this long at the pace the carrier took messages lately


class Link(Protocol):
    """A live link to one stream's carrier."""

    state: str

    def start(self) -> None: ...

    def recent_rate(self) -> float:
        """Messages the carrier took per second, lately."""

    def stop(self) -> None: ...

    def submit(
        self,
        messages: Sequence[OutgoingMessage],
        fence: Fence,
        sender: str,
        holds: Callable[[], bool],
    ) -> set[str]: ...


class Carriers:
    """Routes each stream's messages to its carrier. `submit` returns the messages the
    carrier took (or may have taken); the others may be handed over again."""

    def __init__(
        self,
        demo: DemoCarrier,
        carrier_log: CarrierLog,
        reports: CarrierReports,
        find_stream: Callable[[str], Stream | None],
        process: str,
    ) -> None:
        self.demo = demo
        self.carrier_log = carrier_log
        self.reports = reports
        self.find_stream = find_stream
        self.process = process
        self.kinds: dict[str, str] = {}  # a stream's carrier, which never changes
        # By stream: the version of its settings the link was opened with, and the link.
        self.links: dict[str, tuple[int, Link]] = {}
        self.rates: dict[str, int] = {}
        self.windows: dict[str, int] = {}
        self.lock = threading.Lock()
        self.followed = 0.0

    @property
    def may_report(self) -> Callable[[str], bool | None]:
        return self.demo.may_report

    @may_report.setter
    def may_report(self, value: Callable[[str], bool | None]) -> None:
        self.demo.may_report = value

    def kind(self, stream: str) -> str:
        kind = self.kinds.get(stream)
        if kind is None:
            found = self.find_stream(stream)
            if found is None:
                return "demo"  # no such stream (yet): nothing is sent on it
            kind = self.kinds[stream] = found.carrier
        return kind

    # The links of the streams owned.

    def follow(self, streams: Collection[str], *, now: bool = False) -> None:
        """Opens, renews and closes links to match the SMPP and HTTP streams this process
        works, at most once a second unless `now`."""
        if not now and time.monotonic() - self.followed < FOLLOW_SECONDS:
            return
        self.followed = time.monotonic()
        wanted: dict[str, Stream] = {}
        for name in streams:
            if self.kind(name) == "demo":
                continue
            stream = self.find_stream(name)
            if stream is not None and stream.enabled:
                wanted[name] = stream
                self.rates[name] = stream.rate
        with self.lock:
            for name in [n for n in self.links if n not in wanted]:
                self.close(name)
            for name, stream in wanted.items():
                current = self.links.get(name)
                if current is not None and current[0] == stream.settings_version:
                    continue  # a change of rate applies without binding again
                if current is not None:
                    self.close(name)
                self.links[name] = (stream.settings_version, self.open(stream))

    def open(self, stream: Stream) -> Link:
        secrets = self.carrier_log.secrets_of(stream.name)
        self.windows[stream.name] = int(stream.options.get("window", 10))
        kind: type[SmppLink] | type[HttpLink] = SmppLink if stream.carrier == "smpp" else HttpLink
        link: Link = kind(
            stream.name,
            dict(stream.options),
            secrets,
            self.carrier_log,
            self.reports,
            self.process,
            lambda: self.rates.get(stream.name, 0),
        )
        log.info("stream %s: opening its %s link", stream.name, stream.carrier)
        link.start()
        return link

    def close(self, name: str) -> None:
        _version, link = self.links.pop(name)
        log.info("stream %s: closing its link", name)
        link.stop()

    def ready(self, stream: str) -> bool:
        """Whether the stream's carrier takes messages now."""
        if self.kind(stream) == "demo":
            return True
        found = self.links.get(stream)
        return found is not None and found[1].state == "bound"

    def batch_limit(self, stream: str) -> int | None:
        """Messages per batch for the stream's carrier (None: the engine's own size): about
        a second of what the carrier took lately, between one and BATCH_PER_WINDOW windows.
        A batch holds its campaign's sending gate while it is handed over, and a pause
        waits for it: a slow carrier gets small batches."""
        if self.kind(stream) == "demo":
            return None
        window = self.windows.get(stream, 10)
        found = self.links.get(stream)
        lately = found[1].recent_rate() if found is not None else 0.0
        return int(min(BATCH_PER_WINDOW * window, max(window, lately * BATCH_SECONDS)))

    # What the engine asks.

    def submit(
        self,
        messages: Sequence[OutgoingMessage],
        two_way: bool,
        stream: str,
        *,
        fence: Fence,
        sender: str,
        holds: Callable[[], bool],
    ) -> set[str]:
        if self.kind(stream) == "demo":
            self.demo.submit(messages, two_way=two_way, stream=stream, wait=False)
            return {m.id for m in messages}
        found = self.links.get(stream)
        if found is None:
            raise CarrierUnavailable(f"the stream {stream} has no link in this process")
        return found[1].submit(messages, fence, sender, holds)

    def taken(self, message_ids: Sequence[str], stream: str) -> set[str]:
        """Which of these messages the stream's carrier took, or may have."""
        if self.kind(stream) == "demo":
            return self.demo.taken(message_ids)
        return self.carrier_log.taken(message_ids)

    def take_over(self, fence: Fence) -> None:
        """A new owner's first step on a real carrier's stream: what the previous owner
        submitted without an answer is unknown, for good."""
        if self.kind(fence.stream) == "demo":
            return
        now = datetime.now(UTC)
        unknown = self.carrier_log.left_unanswered(fence, now)
        if unknown:
            log.warning(
                "stream %s: %d messages submitted by its previous owner got no answer: unknown",
                fence.stream,
                len(unknown),
            )
            self.reports.on_receipts([Receipt(m, UNKNOWN, now) for m in unknown])

    def resume(self, messages: Sequence[OutgoingMessage], two_way: bool, stream: str) -> int:
        """Messages taken whose outcome never came: the demo carrier reports on them
        again; a real carrier's refusals and unknowns recorded are applied again."""
        if self.kind(stream) == "demo":
            return self.demo.resume(messages, two_way, stream)
        now = datetime.now(UTC)
        outcomes = self.carrier_log.outcomes([m.id for m in messages])
        receipts = [
            Receipt(m, state, now) for m, state, _error in outcomes if state != "submitting"
        ]
        if receipts:
            self.reports.on_receipts(receipts)
        return len(receipts)

    def forget(self, stream: str) -> None:
        self.demo.forget(stream)
        with self.lock:
            if stream in self.links:
                self.close(stream)

    def make_room(self, stream: str) -> None:
        if self.kind(stream) == "demo":
            self.demo.make_room()

    def stop_waiting(self) -> None:
        self.demo.stop_waiting()

    def start(self) -> None:
        self.demo.start()

    def stop(self) -> None:
        with self.lock:
            for name in list(self.links):
                self.close(name)
        self.demo.stop()

    def housekeeping(self, now: datetime) -> None:
        """Receipts that named no message for a day (of messages that are unknown, or of
        another system's) are dropped."""
        self.carrier_log.prune_waiting(now - timedelta(seconds=WAITING_KEPT_FOR))

    def states(self) -> dict[str, Any]:
        return {name: link.state for name, (_v, link) in self.links.items()}
