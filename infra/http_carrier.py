"""HTTP streams: each message is POSTed as JSON to the carrier's URL by the process that
owns the stream.

A small pool of workers, each with its own keep-alive connection, keeps up to `window`
requests in flight at the stream's rate. A 429 or 503 (the carrier says it took nothing) is
asked again with backoff (and the whole link pauses), for at most a minute; another 4xx
rejects the message; another 5xx (a gateway's 502 or 504 may come after the carrier took
it) makes it `unknown`.

At most once: each message is written to the carrier log, under the owner's fence, before
its request leaves, and a message written there is never posted again. A request written
whose answer never came (a timeout, the connection dropped) makes its message `unknown`;
a message is posted again only after an answer that says the carrier did not take it.
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import queue
import select
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from domain.stream import UNKNOWN
from infra.smpp_carrier import BACKOFF, CHUNK, CarrierUnavailable, describe
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import Answer, CarrierLog, LinkState
from projections.leases import Fence

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 503)  # answers that say the message was not taken
RETRY_FIRST = 0.2  # seconds before asking again after a 429 or 503, doubling...
RETRY_MOST = 5.0  # ...up to this
RETRY_FOR = 60.0  # a message the carrier kept refusing for now this long is left for later
UNSENT = "unsent"  # decided without leaving: may be handed over again


@dataclass
class _Post:
    """One message's request, and its outcome once decided."""

    message: OutgoingMessage
    body: bytes
    state: str | None = None  # accepted, rejected, unknown or unsent
    carrier_id: str | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def decide(self, state: str, error: str | None = None, carrier_id: str | None = None) -> None:
        self.state, self.error, self.carrier_id = state, error, carrier_id


class HttpLink:
    """The link of one HTTP stream to its carrier, while this process owns the stream."""

    def __init__(
        self,
        stream: str,
        options: dict[str, Any],
        secrets: dict[str, str],
        carrier_log: CarrierLog,
        reports: Any,
        process: str,
        rate: Callable[[], int],
    ) -> None:
        self.stream = stream
        self.carrier_log = carrier_log
        self.reports = reports
        self.process = process
        self.rate = rate
        url = urlsplit(options["url"])
        self.tls = ssl.create_default_context() if url.scheme == "https" else None
        self.host = url.hostname or ""
        self.port = url.port
        self.path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self.window = int(options.get("window", 4))
        self.timeout = float(options.get("timeout", 10.0))
        self.headers = {"Content-Type": "application/json"}
        if secrets.get("token"):
            self.headers["Authorization"] = f"Bearer {secrets['token']}"
        self.lock = threading.Lock()
        self.posts: queue.Queue[_Post | None] = queue.Queue()
        self.state = "connecting"
        self.error: str | None = None
        self.since = datetime.now(UTC)
        self.in_flight = 0
        self.accepted_at: collections.deque[float] = collections.deque()
        self.next_send = 0.0  # no request leaves before (the rate)
        self.paused_until = 0.0  # nor before (the carrier said 429 or 503)
        self.refused_since: float | None = None  # the carrier has said only 429 or 503 since
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    # Running.

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self.work, name=f"http-{self.stream}-{n}", daemon=True)
            for n in range(self.window)
        ]
        self.threads.append(
            threading.Thread(target=self.run, name=f"http-{self.stream}", daemon=True)
        )
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for _ in range(self.window):
            self.posts.put(None)
        for thread in self.threads:
            thread.join(timeout=self.timeout + 1)
        with self.lock:  # posts no worker will take: they never left
            while not self.posts.empty():
                post = self.posts.get()
                if post is not None:
                    post.decide(UNSENT, "the link stopped")
                    post.done.set()
        self.set_state("stopped", None)

    def run(self) -> None:
        """Writes the link's state down every second; while it is not bound, tries a
        connection to the carrier, with backoff, and is bound once one opens."""
        failures, next_try = 0, 0.0
        while not self.stopping.is_set():
            if self.state != "bound" and time.monotonic() >= next_try:
                try:
                    self.open().close()
                    failures = 0
                    self.set_state("bound", None)
                except OSError as error:
                    self.set_state("reconnecting", describe(error))
                    next_try = time.monotonic() + BACKOFF[min(failures, len(BACKOFF) - 1)]
                    failures += 1
            self.report_state()
            self.stopping.wait(1.0)

    def open(self) -> http.client.HTTPConnection:
        address, timeout = (self.host, self.port), self.timeout
        connection = (
            http.client.HTTPSConnection(*address, timeout=timeout, context=self.tls)
            if self.tls
            else http.client.HTTPConnection(*address, timeout=timeout)
        )
        connection.connect()
        return connection

    # Submitting.

    def submit(
        self,
        messages: Sequence[OutgoingMessage],
        fence: Fence,
        sender: str,
        holds: Callable[[], bool],
    ) -> set[str]:
        """Posts the messages and waits for the carrier's answers; returns the messages
        that left (accepted, rejected or unknown, as recorded, or written before). Stops
        early when a message could not leave or `holds` says the stream is no longer ours;
        raises CarrierUnavailable when none left for want of the carrier."""
        if self.state != "bound":
            raise CarrierUnavailable(
                f"the stream {self.stream} is not bound: {self.error or self.state}"
            )
        with self.lock:
            self.refused_since = None  # a new hand-over gives the carrier a new minute
        taken: set[str] = set()
        unsent: list[_Post] = []
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start : start + CHUNK]
            if not holds() or unsent or self.state != "bound":
                break
            fresh = set(
                self.carrier_log.submitting(fence, [m.id for m in chunk], datetime.now(UTC))
            )
            taken.update(m.id for m in chunk if m.id not in fresh)  # left before: never again
            posts = [self.post_of(m, sender) for m in chunk if m.id in fresh]
            self.hand(posts)
            taken.update(self.record(posts))
            unsent = [p for p in posts if p.state == UNSENT]
        if unsent and not taken:
            raise CarrierUnavailable(
                f"the carrier of {self.stream} took nothing: {unsent[-1].error or self.error}"
            )
        return taken

    def post_of(self, message: OutgoingMessage, sender: str) -> _Post:
        body = {
            "id": message.id,
            "to": "+" + message.recipient.lstrip("+"),
            "from": sender,
            "text": message.text,
            "parts": message.parts,
        }
        return _Post(message, json.dumps(body, separators=(",", ":")).encode())

    def hand(self, posts: list[_Post]) -> None:
        """Gives the posts to the workers and waits until each is decided."""
        with self.lock:
            for post in posts:
                if self.stopping.is_set():
                    post.decide(UNSENT, "the link stopped")
                    post.done.set()
                else:
                    self.posts.put(post)
        for post in posts:
            post.done.wait()

    def work(self) -> None:
        """One worker: takes posts one at a time over its own keep-alive connection."""
        connection: http.client.HTTPConnection | None = None
        while (post := self.posts.get()) is not None:
            try:
                connection = self.deliver(post, connection)
            except Exception as error:  # whether it left is not known: never again
                log.exception("stream %s: posting a message failed", self.stream)
                post.decide(UNKNOWN, f"no answer: {describe(error)}")
                connection = None
            finally:
                post.done.set()
        if connection is not None:
            connection.close()

    def deliver(
        self, post: _Post, connection: http.client.HTTPConnection | None
    ) -> http.client.HTTPConnection | None:
        """Posts one message until its outcome is decided; returns the connection to keep."""
        delay, first_refused = RETRY_FIRST, None
        while True:
            self.pace()
            refused = [t for t in (first_refused, self.refused_since) if t is not None]
            if self.stopping.is_set():
                post.decide(UNSENT, "the link stopped")
                return connection
            if refused and time.monotonic() - min(refused) > RETRY_FOR:
                post.decide(UNSENT, f"the carrier answered 429 or 503 for {RETRY_FOR:.0f} s")
                return connection
            if connection is not None and not idle_and_open(connection):
                connection.close()
                connection = None
            fresh = connection is None
            if connection is None:
                connection = self.connect()
                if connection is None:
                    post.decide(UNSENT, f"cannot connect: {self.error}")
                    return None
            try:
                connection.request("POST", self.path, post.body, self.headers)
            except (OSError, http.client.HTTPException) as error:
                # Not written whole: the carrier has nothing to act on.
                connection.close()
                connection = None
                if fresh:
                    self.set_state("reconnecting", describe(error))
                    post.decide(UNSENT, f"cannot connect: {self.error}")
                    return None
                continue
            try:
                response, body = self.answer(connection)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                post.decide(UNKNOWN, f"no answer: {describe(error)}")
                return None
            if response.will_close:
                connection.close()
                connection = None
            status = response.status
            if status in RETRY_STATUSES:
                first_refused = first_refused or time.monotonic()
                self.pause(max(delay, retry_after(response)))
                delay = min(RETRY_MOST, delay * 2)
                continue
            with self.lock:
                self.refused_since = None
            if 200 <= status < 300:
                post.decide("accepted", carrier_id=carrier_id_of(body))
                with self.lock:
                    self.accepted_at.append(time.monotonic())
            elif status >= 500:
                post.decide(UNKNOWN, f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
            else:
                post.decide("rejected", f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
            return connection

    def connect(self) -> http.client.HTTPConnection | None:
        """A new connection; None (and the link reconnecting) when it cannot be opened."""
        if self.state == "reconnecting":
            return None  # the link's own thread finds when the carrier is back
        try:
            return self.open()
        except OSError as error:
            self.set_state("reconnecting", describe(error))
            log.warning("stream %s: cannot connect to its carrier: %s", self.stream, self.error)
            return None

    def answer(
        self, connection: http.client.HTTPConnection
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """The answer to the request just written, and its body."""
        with self.lock:
            self.in_flight += 1
        try:
            response = connection.getresponse()
            body = response.read()
        finally:
            with self.lock:
                self.in_flight -= 1
        self.set_state("bound", None)
        return response, body

    def pace(self) -> None:
        """Waits for a request's turn: after any pause the carrier asked for, within the
        stream's rate (0: unlimited)."""
        rate = self.rate()
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.paused_until, self.next_send)
            self.next_send = slot + (1.0 / rate if rate else 0.0)
        if slot > now:
            self.stopping.wait(slot - now)

    def pause(self, seconds: float) -> None:
        """The carrier said 429 or 503: no request leaves for a while."""
        now = time.monotonic()
        with self.lock:
            self.paused_until = max(self.paused_until, now + min(seconds, RETRY_FOR))
            self.refused_since = self.refused_since or now

    def record(self, posts: list[_Post]) -> set[str]:
        """Writes the answers down; reports rejected and unknown messages, and receipts
        that came before their submit's answer. Returns the messages that left."""
        now = datetime.now(UTC)
        unsent = [p.message.id for p in posts if p.state == UNSENT]
        answers = [
            Answer(p.message.id, p.state or UNKNOWN, p.carrier_id, p.error)
            for p in posts
            if p.state != UNSENT
        ]
        self.carrier_log.not_submitted(unsent)
        matched = self.carrier_log.answered(self.stream, answers, now)
        outcomes = [Receipt(a.message_id, a.state, now) for a in answers if a.state != "accepted"]
        receipts = outcomes + [Receipt(m.message_id, m.status, m.at) for m in matched]
        if receipts:
            self.reports.on_receipts(receipts)
        return {a.message_id for a in answers}

    # State.

    def set_state(self, state: str, error: str | None) -> None:
        with self.lock:
            if self.stopping.is_set() and state != "stopped":
                return
            changed = state != self.state
            if changed:
                self.since = datetime.now(UTC)
            self.state, self.error = state, error
        if changed:
            self.report_state()

    def recent_rate(self) -> float:
        """Messages the carrier took per second over the last 5 seconds."""
        now = time.monotonic()
        with self.lock:
            while self.accepted_at and now - self.accepted_at[0] > 5.0:
                self.accepted_at.popleft()
            return len(self.accepted_at) / 5.0

    def report_state(self) -> None:
        now = time.monotonic()
        with self.lock:
            while self.accepted_at and now - self.accepted_at[0] > 5.0:
                self.accepted_at.popleft()
            state = LinkState(
                self.stream,
                self.process,
                self.state,
                self.error if self.state != "bound" else None,
                self.in_flight,
                self.window,
                len(self.accepted_at) / 5.0,
                None,  # receipts come to the gateway, not to this link
                self.since.isoformat(),
                datetime.now(UTC).isoformat(),
            )
        try:
            self.carrier_log.report_link(state)
        except Exception:  # the state shown is a view; sending goes on
            log.debug("stream %s: could not write its link state", self.stream, exc_info=True)


def idle_and_open(connection: http.client.HTTPConnection) -> bool:
    """Whether a kept connection may carry the next request: an idle one with something to
    read was closed by the carrier meanwhile."""
    if connection.sock is None:
        return False
    readable, _, _ = select.select([connection.sock], [], [], 0)
    return not readable


def retry_after(response: http.client.HTTPResponse) -> float:
    """The seconds a 429 or 503 asks to wait (0 when it names none, or a date)."""
    try:
        return max(0.0, float(response.getheader("Retry-After") or 0))
    except ValueError:
        return 0.0


def carrier_id_of(body: bytes) -> str | None:
    """The carrier's message id in an answer: `{"id": ...}` or `{"message_id": ...}`."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    found = (answer.get("id") or answer.get("message_id")) if isinstance(answer, dict) else None
    return None if found is None else str(found)
