"""The demo carrier (F17): simulates a real carrier, deterministically from a seed.

It takes messages once (keyed by message id, remembered in its own books, so a message
handed over again after a crash is not sent twice), and later reports back like a carrier
does: receipts delayed, out of order and sometimes twice; outcomes delivered, undelivered,
failed, no route or rejected; and, from the people who got the messages, clicks, opt-outs
and replies at the stream's rates.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import math
import struct
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from domain.stream import OUTCOMES
from projections.activity import OutgoingMessage, Receipt
from projections.database import Database, add_missing_column

log = logging.getLogger(__name__)

DUPLICATE_SHARE = 0.05  # receipts reported twice
LATE_SENT_SHARE = 0.10  # "sent" receipts that arrive after the final outcome
PREVIEW_AGENT = "demo-phone"
DELIVERY = 5000  # reports handed over at once, at most
MAX_PENDING = 200_000  # reports waiting to be made, at most, before `submit` waits
REPLY_TEXTS = ("Thanks!", "STOP", "When does it end?", "stop", "UNSUBSCRIBE", "Great, see you")


class CarrierReports(Protocol):
    """Where a carrier's reports go: the same paths as the HTTP endpoints."""

    def on_receipts(self, receipts: Sequence[Receipt]) -> None: ...

    def on_clicks(self, clicks: Sequence[tuple[str, datetime, str]]) -> None: ...

    def on_opt_outs(self, codes: Sequence[tuple[str, datetime]]) -> None: ...

    def on_replies(self, replies: Sequence[tuple[str, str, datetime]]) -> None: ...


PURPOSES = (
    "outcome",
    "final",
    "sent",
    "late",
    "duplicate",
    "act",
    "click",
    "optout",
    "reply",
    "reply-text",
)
_DRAWS = struct.Struct(">10I")


class Draws:
    """Numbers in [0, 1) that depend only on the seed, the message and the purpose: one
    hash per message, cut into one draw per purpose."""

    __slots__ = ("values",)

    def __init__(self, seed: int, message_id: str) -> None:
        digest = hashlib.blake2b(f"{seed}:{message_id}".encode(), digest_size=40).digest()
        self.values = _DRAWS.unpack(digest)

    def __getitem__(self, purpose: str) -> float:
        return float(self.values[_PURPOSE_INDEX[purpose]]) / 2**32


_PURPOSE_INDEX = {purpose: index for index, purpose in enumerate(PURPOSES)}


def outcome_for(draw: float, shares: dict[str, float]) -> str:
    total = 0.0
    for outcome in OUTCOMES:
        total += shares.get(outcome, 0.0)
        if draw < total:
            return outcome
    return "delivered"


class Report(NamedTuple):
    """A report waiting in the carrier's queue: a heap of plain tuples, ordered by when it
    is due and then by when it was queued (compared in C: a carrier queues millions)."""

    due: float
    order: int
    kind: str
    payload: Any
    stream: str


Due = tuple[str, Any, str]  # a report to hand over: kind, payload, stream


class Plan(NamedTuple):
    """What will happen to one message, decided from the seed."""

    outcome: str
    reports: list[tuple[float, str, Any]]


_OUTCOME, _FINAL, _SENT, _LATE, _DUPLICATE, _ACT, _CLICK, _OPTOUT, _REPLY, _REPLY_TEXT = range(10)
_SCALE = 1.0 / 2**32
_WHOLE = 2**32


def _threshold(share: float) -> int:
    """A draw d (as an integer of 32 bits) is under `share` exactly when d < this."""
    return max(0, min(_WHOLE, math.ceil(share * _WHOLE)))


class Planner:
    """Plans messages for one set of stream options: the same draws as `Draws`, compared
    as integers against thresholds worked out once."""

    def __init__(self, options: dict[str, Any], two_way: bool, delay_scale: float) -> None:
        self.seeded = hashlib.blake2b(f"{int(options.get('seed', 1))}:".encode(), digest_size=40)
        shares = options.get("outcomes", {"delivered": 1.0})
        self.outcomes: list[tuple[int, str]] = []
        total = 0.0
        for outcome in OUTCOMES:
            total += shares.get(outcome, 0.0)
            self.outcomes.append((_threshold(total), outcome))
        self.click = _threshold(float(options.get("click_rate", 0)))
        self.optout = _threshold(float(options.get("optout_rate", 0)))
        self.reply = _threshold(float(options.get("reply_rate", 0))) if two_way else 0
        self.late = _threshold(LATE_SENT_SHARE)
        self.duplicate = _threshold(DUPLICATE_SHARE)
        self.scale = delay_scale

    def outcome(self, draw: int) -> str:
        for threshold, outcome in self.outcomes:
            if draw < threshold:
                return outcome
        return "delivered"

    def plan(self, message: OutgoingMessage) -> Plan:
        hasher = self.seeded.copy()
        hasher.update(message.id.encode())
        draw = _DRAWS.unpack(hasher.digest())
        mid = message.id
        scale = self.scale
        outcome = self.outcome(draw[_OUTCOME])
        final_delay = (0.2 + 1.8 * draw[_FINAL] * _SCALE) * scale
        if draw[_LATE] < self.late:
            sent_delay = final_delay + 0.1 * scale
        else:
            sent_delay = (0.05 + 0.25 * draw[_SENT] * _SCALE) * scale
        reports: list[tuple[float, str, Any]] = [
            (sent_delay, "receipt", (mid, "sent")),
            (final_delay, "receipt", (mid, outcome)),
        ]
        if draw[_DUPLICATE] < self.duplicate:
            reports.append((final_delay + 0.3 * scale, "receipt", (mid, outcome)))
        if outcome == "delivered":
            later = final_delay + (0.5 + 2.5 * draw[_ACT] * _SCALE) * scale
            if draw[_CLICK] < self.click:
                reports.append((later, "click", mid))
            if draw[_OPTOUT] < self.optout:
                reports.append((later + 0.2 * scale, "optout", message.optout_code))
            elif draw[_REPLY] < self.reply:
                text = REPLY_TEXTS[int(draw[_REPLY_TEXT] * _SCALE * len(REPLY_TEXTS))]
                reports.append((later + 0.4 * scale, "reply", (message.recipient, text)))
        return Plan(outcome, reports)


def plan_for(
    message: OutgoingMessage, options: dict[str, Any], two_way: bool, delay_scale: float
) -> Plan:
    return Planner(options, two_way, delay_scale).plan(message)


class DemoCarrier:
    """The demo streams' carrier. `submit` is idempotent by message id; its books (what it
    has taken, per stream) are shared by every process that sends on a stream, as a real
    carrier is, so whoever owns a stream next can ask it what it took (`taken`)."""

    def __init__(
        self,
        books: Database,
        reports: CarrierReports,
        options: Callable[[str], dict[str, Any]],
        *,
        delay_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.books = books  # what it has taken: its own, as a real carrier's are
        self.options = options  # a stream's demo options, by its name
        self.reports = reports
        self.delay_scale = delay_scale
        self.clock = clock
        self.queue: list[Report] = []
        self.queued = itertools.count()  # breaks ties between reports due at once
        # Reports due at once (an unthrottled stream: `delay_scale` 0), in the order they
        # were made: they need no heap.
        self.ready: list[tuple[float, str, Any, str]] = []
        # Whether this process may report on a stream's messages now (it owns the stream),
        # later (None: its ownership is in doubt), or never (its next owner reports).
        self.may_report: Callable[[str], bool | None] = lambda _stream: True
        self.in_flight = 0  # reports taken from the queue and being handed over
        self.lock = threading.Condition()
        self.stopping = threading.Event()
        self.intake_waits = threading.Event()  # cleared while the dispatcher stops
        self.intake_waits.set()
        self.thread: threading.Thread | None = None

    def create_tables(self) -> None:
        with self.books.transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS demo_carrier_accepted ("
                "message_id TEXT PRIMARY KEY, stream TEXT NOT NULL DEFAULT 'demo', "
                "recipient TEXT NOT NULL, outcome TEXT NOT NULL, accepted_at TEXT NOT NULL)"
            )
            add_missing_column(
                cursor,
                self.books.dialect,
                "demo_carrier_accepted",
                "stream",
                "TEXT NOT NULL DEFAULT 'demo'",
            )

    def submit(
        self,
        messages: Sequence[OutgoingMessage],
        two_way: bool,
        stream: str = "demo",
        *,
        wait: bool = True,
    ) -> int:
        """Takes the messages it has not taken before; returns how many were new. With
        `wait`, first waits while its queue of reports is full (`make_room`)."""
        if not messages:
            return 0
        if wait:
            self.make_room()
        planner = Planner(self.options(stream), two_way, self.delay_scale)
        now = datetime.now(UTC).isoformat()
        with self.books.transaction() as cursor:
            rows = cursor.fetch_in(
                "SELECT message_id FROM demo_carrier_accepted WHERE message_id IN ?",
                [m.id for m in messages],
            )
            seen = {str(row[0]) for row in rows}
            fresh = [m for m in messages if m.id not in seen]
            plans = [planner.plan(m) for m in fresh]
            cursor.copy_rows(
                "demo_carrier_accepted",
                "message_id, stream, recipient, outcome, accepted_at",
                [
                    (m.id, stream, m.recipient, p.outcome, now)
                    for m, p in zip(fresh, plans, strict=True)
                ],
            )
        self.schedule([(d, k, p, stream) for plan in plans for d, k, p in plan.reports])
        return len(plans)

    def resume(self, messages: Sequence[OutgoingMessage], two_way: bool, stream: str) -> int:
        """Plans again the reports of messages it took whose outcome never came (the process
        that made them stopped first); returns how many messages it took of these."""
        taken = self.taken([m.id for m in messages])
        planner = Planner(self.options(stream), two_way, self.delay_scale)
        resumed = [m for m in messages if m.id in taken]
        self.schedule([(d, k, p, stream) for m in resumed for d, k, p in planner.plan(m).reports])
        return len(resumed)

    def forget(self, stream: str) -> None:
        """Drops the reports waiting for a stream this process no longer owns: its next
        owner makes them (`resume`)."""
        with self.lock:
            self.queue = [report for report in self.queue if report.stream != stream]
            heapq.heapify(self.queue)
            self.ready = [report for report in self.ready if report[3] != stream]
            self.lock.notify_all()

    def make_room(self) -> None:
        """Waits while the carrier's own thread has MAX_PENDING reports or more to make, as a
        carrier takes no more while its queue is full: whoever hands it messages waits, and
        a campaign the platform can record faster than it applies receipts does not pile
        its reports up in memory."""
        if self.thread is None:
            return
        with self.lock:
            while len(self.queue) + len(self.ready) + self.in_flight >= MAX_PENDING:
                if self.stopping.is_set() or not self.intake_waits.is_set():
                    return
                self.lock.wait(0.1)

    def stop_waiting(self) -> None:
        """From now on `submit` takes messages however full the queue is: the dispatcher is
        stopping, and hands over what it has recorded without waiting on reports."""
        self.intake_waits.clear()

    def schedule(self, reports: list[tuple[float, str, Any, str]]) -> None:
        """Queues (delay, kind, payload, stream) reports."""
        if not reports:
            return
        start = self.clock()
        if self.delay_scale == 0 and self.thread is None:
            # Reporting at once and no thread of its own: the caller hands them over.
            left = self.hand_over(
                [(kind, payload, stream) for _d, kind, payload, stream in reports]
            )
            if not left:
                return
            reports = [(1.0, kind, payload, stream) for kind, payload, stream in left]
        order = self.queued
        with self.lock:
            if self.delay_scale == 0 and self.thread is not None:
                self.ready += reports
            else:
                for delay, kind, payload, stream in reports:
                    heapq.heappush(
                        self.queue, Report(start + delay, next(order), kind, payload, stream)
                    )
            self.lock.notify_all()

    def hand_over(self, due: list[Due]) -> list[Due]:
        """Hands reports over, one call per kind, but those of streams this process may not
        report on (dropped: their next owner makes them) or not yet; returns those not taken
        (to be handed over later)."""
        at = datetime.now(UTC)
        kinds: dict[str, list[Any]] = {}
        streams: dict[str, list[str]] = {}
        allowed: dict[str, bool | None] = {}
        left: list[Due] = []
        for kind, payload, stream in due:
            if stream not in allowed:
                allowed[stream] = self.may_report(stream)
            may = allowed[stream]
            if may is None:
                left.append((kind, payload, stream))
            if not may:
                continue
            payloads = kinds.get(kind)
            if payloads is None:
                kinds[kind] = [payload]
                streams[kind] = [stream]
            else:
                payloads.append(payload)
                streams[kind].append(stream)
        handlers: dict[str, Callable[[list[Any]], None]] = {
            "receipt": lambda ps: self.reports.on_receipts(
                [Receipt(mid, status, at) for mid, status in ps]
            ),
            "click": lambda ps: self.reports.on_clicks([(p, at, PREVIEW_AGENT) for p in ps]),
            "optout": lambda ps: self.reports.on_opt_outs([(p, at) for p in ps]),
            "reply": lambda ps: self.reports.on_replies([(p[0], p[1], at) for p in ps]),
        }
        for kind, payloads in kinds.items():
            try:
                handlers[kind](payloads)
            except Exception:  # the platform was busy: these are reported again later
                log.exception("the demo carrier could not report %d %s events", len(payloads), kind)
                left += [
                    (kind, payload, stream)
                    for payload, stream in zip(payloads, streams[kind], strict=True)
                ]
        return left

    def taken(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messages it has taken."""
        with self.books.read() as cursor:
            rows = cursor.fetch_in(
                "SELECT message_id FROM demo_carrier_accepted WHERE message_id IN ?",
                list(message_ids),
            )
        return {str(row[0]) for row in rows}

    def accepted_count(self, recipient: str | None = None) -> int:
        with self.books.read() as cursor:
            if recipient is None:
                cursor.execute("SELECT COUNT(*) FROM demo_carrier_accepted")
            else:
                cursor.execute(
                    "SELECT COUNT(*) FROM demo_carrier_accepted WHERE recipient = ?", (recipient,)
                )
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def recipients_taken_more_than_once(self) -> list[str]:
        with self.books.read() as cursor:
            cursor.execute(
                "SELECT recipient FROM demo_carrier_accepted GROUP BY recipient HAVING COUNT(*) > 1"
            )
            return [str(row[0]) for row in cursor.fetchall()]

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="demo-carrier", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                while not self.queue and not self.ready and not self.stopping.is_set():
                    self.lock.wait(0.5)
                now = self.clock()
                due: list[Due] = [
                    (kind, payload, stream)
                    for _delay, kind, payload, stream in self.ready[:DELIVERY]
                ]
                del self.ready[:DELIVERY]
                while self.queue and self.queue[0].due <= now and len(due) < DELIVERY:
                    report = heapq.heappop(self.queue)
                    due.append((report.kind, report.payload, report.stream))
                wait = self.queue[0].due - now if self.queue and not due else 0
                self.in_flight = len(due)
            if due:
                left = self.hand_over(due)
                if left:
                    self.schedule([(1.0, kind, payload, stream) for kind, payload, stream in left])
                with self.lock:
                    self.in_flight = 0
                    self.lock.notify_all()  # room for a submit waiting in `make_room`
                if left:
                    self.stopping.wait(0.5)
            elif wait > 0:
                self.stopping.wait(min(wait, 0.05))

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            self.lock.notify_all()
        if self.thread:
            self.thread.join(timeout=5)

    def pending(self) -> int:
        """Reports not handed over yet, those being handed over included."""
        with self.lock:
            return len(self.queue) + len(self.ready) + self.in_flight
