"""The HTTP carrier's link, against a local HTTP server that answers from a script, with
the carrier log on a SQLite file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.http_carrier import HttpLink
from infra.smpp_carrier import CarrierUnavailable
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import CarrierLog
from projections.database import SQLiteDatabase
from projections.leases import Fence, LeaseLost, StreamLeases

STREAM = "carrier-a"
# An answer the carrier gives: (status, headers, body), or None to read the request and
# close the connection without answering.
Answer = tuple[int, dict[str, str], bytes] | None


class Carrier:
    """A local HTTP carrier: answers requests with its script in order, then accepts
    every message as `c-<id>`; keeps every request it read."""

    def __init__(self, script: Sequence[Answer] = (), delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.requests: list[tuple[dict[str, str], dict[str, Any], float]] = []
        self.busy = 0
        self.most_busy = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms?v=1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with carrier.lock:
                    carrier.requests.append((dict(self.headers), body, time.monotonic()))
                    carrier.busy += 1
                    carrier.most_busy = max(carrier.most_busy, carrier.busy)
                    answer = (
                        carrier.script.pop(0)
                        if carrier.script
                        else (200, {}, json.dumps({"id": f"c-{body['id']}"}).encode())
                    )
                time.sleep(carrier.delay)
                with carrier.lock:
                    carrier.busy -= 1
                if answer is None:
                    self.close_connection = True
                    return
                status, headers, payload = answer
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Reports:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.receipts.extend(receipts)


def message(number: int) -> OutgoingMessage:
    return OutgoingMessage(
        f"m{number}", "opt", "campaign", number, f"+4470000000{number:02d}", "v", 1,
        f"Hello {number}", 1, 1, None, None,
    )  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> SQLiteDatabase:
    database = SQLiteDatabase(tmp_path / "x.sqlite3")
    CarrierLog(database).create_tables()
    StreamLeases(database).create_tables()
    return database


@pytest.fixture
def carrier_log(database: SQLiteDatabase) -> CarrierLog:
    return CarrierLog(database)


@pytest.fixture
def fence(database: SQLiteDatabase) -> Fence:
    taken = StreamLeases(database).acquire(STREAM, "process-1", 60)
    assert taken is not None
    return taken.fence


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def link_to(carrier_log: CarrierLog, reports: Reports) -> Iterator[Callable[..., HttpLink]]:
    links: list[HttpLink] = []

    def make(url: str, *, token: str = "", window: int = 4, rate: int = 0) -> HttpLink:
        link = HttpLink(
            STREAM,
            {"url": url, "window": window, "timeout": 2.0},
            {"token": token} if token else {},
            carrier_log,
            reports,
            "process-1",
            lambda: rate,
        )
        link.start()
        links.append(link)
        wait_for(lambda: link.state == "bound")
        return link

    yield make
    for link in links:
        link.stop()


@pytest.fixture
def carrier() -> Iterator[Carrier]:
    carrier = Carrier()
    yield carrier
    carrier.close()


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def submit(link: HttpLink, fence: Fence, *messages: OutgoingMessage) -> set[str]:
    return link.submit(list(messages), fence, "Shop", lambda: True)


def submitted(database: SQLiteDatabase, message_id: str) -> tuple[str, str | None, str | None]:
    """(state, carrier id, error) of a message's row in carrier_submits."""
    with database.read() as cursor:
        cursor.execute(
            "SELECT state, carrier_id, error FROM carrier_submits WHERE message_id = ?",
            (message_id,),
        )
        row = cursor.fetchone()
    assert row is not None
    return str(row[0]), row[1], row[2]


def test_an_accepted_message_is_recorded_with_the_carriers_id(
    link_to: Callable[..., HttpLink],
    carrier: Carrier,
    fence: Fence,
    database: SQLiteDatabase,
    reports: Reports,
) -> None:
    link = link_to(carrier.url)

    assert submit(link, fence, message(1)) == {"m1"}

    assert submitted(database, "m1") == ("accepted", "c-m1", None)
    assert reports.receipts == []
    [(headers, body, _at)] = carrier.requests
    assert body == {
        "id": "m1",
        "to": "+447000000001",
        "from": "Shop",
        "text": "Hello 1",
        "parts": 1,
    }
    assert headers["Content-Type"] == "application/json"
    assert "Authorization" not in headers


def test_the_token_is_sent_as_a_bearer_and_message_id_is_taken_as_the_carriers_id(
    link_to: Callable[..., HttpLink], fence: Fence, database: SQLiteDatabase
) -> None:
    carrier = Carrier([(201, {}, b'{"message_id": 42}')])
    try:
        link = link_to(carrier.url, token="s3cret")
        assert submit(link, fence, message(1)) == {"m1"}
    finally:
        carrier.close()
    assert carrier.requests[0][0]["Authorization"] == "Bearer s3cret"
    assert submitted(database, "m1") == ("accepted", "42", None)


def test_a_throttled_message_is_posted_again_after_retry_after_until_accepted(
    link_to: Callable[..., HttpLink], fence: Fence, database: SQLiteDatabase
) -> None:
    carrier = Carrier([(429, {"Retry-After": "1"}, b"slow down")])
    try:
        link = link_to(carrier.url)
        assert submit(link, fence, message(1)) == {"m1"}
    finally:
        carrier.close()
    first, second = carrier.requests
    assert first[1]["id"] == second[1]["id"] == "m1"
    assert second[2] - first[2] >= 0.9
    assert submitted(database, "m1") == ("accepted", "c-m1", None)


def test_a_client_error_rejects_the_message_with_its_code(
    link_to: Callable[..., HttpLink], fence: Fence, database: SQLiteDatabase, reports: Reports
) -> None:
    carrier = Carrier([(400, {}, b"invalid number " + b"x" * 300)])
    try:
        link = link_to(carrier.url)
        assert submit(link, fence, message(1), message(2)) == {"m1", "m2"}
    finally:
        carrier.close()
    states = {m: submitted(database, m) for m in ("m1", "m2")}
    rejected = next(m for m, (state, _c, _e) in states.items() if state == "rejected")
    _state, carrier_id, error = states[rejected]
    assert carrier_id is None
    assert error == "HTTP 400: invalid number " + "x" * 185
    assert [(r.message_id, r.status) for r in reports.receipts] == [(rejected, "rejected")]
    assert len(carrier.requests) == 2


def test_a_request_left_unanswered_is_unknown_and_never_posted_again(
    link_to: Callable[..., HttpLink], fence: Fence, database: SQLiteDatabase, reports: Reports
) -> None:
    carrier = Carrier([None])
    try:
        link = link_to(carrier.url)
        assert submit(link, fence, message(1)) == {"m1"}
        assert submit(link, fence, message(1)) == {"m1"}
    finally:
        carrier.close()
    assert len(carrier.requests) == 1
    state, _carrier_id, error = submitted(database, "m1")
    assert state == "unknown"
    assert error is not None and error.startswith("no answer: ")
    assert [(r.message_id, r.status) for r in reports.receipts] == [("m1", "unknown")]


def test_a_gateway_error_is_unknown_and_never_posted_again(
    link_to: Callable[..., HttpLink], fence: Fence, database: SQLiteDatabase, reports: Reports
) -> None:
    carrier = Carrier([(504, {}, b"upstream timed out"), (502, {}, b"bad gateway")])
    try:
        link = link_to(carrier.url)
        assert submit(link, fence, message(1)) == {"m1"}
        assert submit(link, fence, message(1)) == {"m1"}
    finally:
        carrier.close()
    assert len(carrier.requests) == 1  # the carrier may have taken it behind its gateway
    state, _carrier_id, error = submitted(database, "m1")
    assert (state, error) == ("unknown", "HTTP 504: upstream timed out")
    assert [(r.message_id, r.status) for r in reports.receipts] == [("m1", "unknown")]


def test_a_carrier_refusing_connections_takes_nothing(
    link_to: Callable[..., HttpLink], fence: Fence, carrier_log: CarrierLog
) -> None:
    carrier = Carrier()
    link = link_to(carrier.url)
    carrier.close()

    with pytest.raises(CarrierUnavailable):
        submit(link, fence, message(1), message(2))

    assert carrier_log.taken(["m1", "m2"]) == set()
    assert link.state == "reconnecting"
    assert link.error is not None and "refused" in link.error.lower()
    with pytest.raises(CarrierUnavailable):  # until the carrier is back
        submit(link, fence, message(1))


def test_a_message_submitted_twice_is_posted_once(
    link_to: Callable[..., HttpLink], carrier: Carrier, fence: Fence
) -> None:
    link = link_to(carrier.url)

    assert submit(link, fence, message(1)) == {"m1"}
    assert submit(link, fence, message(1), message(2)) == {"m1", "m2"}

    assert [body["id"] for _h, body, _at in carrier.requests] == ["m1", "m2"]


def test_a_stale_fence_sends_nothing(
    link_to: Callable[..., HttpLink],
    carrier: Carrier,
    fence: Fence,
    database: SQLiteDatabase,
    carrier_log: CarrierLog,
) -> None:
    link = link_to(carrier.url)
    StreamLeases(database).acquire(STREAM, "process-2", 60, force=True)

    with pytest.raises(LeaseLost):
        submit(link, fence, message(1))

    assert carrier.requests == []
    assert carrier_log.taken(["m1"]) == set()


def test_requests_keep_to_the_window_and_the_rate(
    link_to: Callable[..., HttpLink], fence: Fence
) -> None:
    carrier = Carrier(delay=0.1)
    try:
        link = link_to(carrier.url, window=3)
        assert len(submit(link, fence, *map(message, range(12)))) == 12
        assert 1 < carrier.most_busy <= 3
        paced = link_to(carrier.url, rate=10)
        started = time.monotonic()
        assert len(submit(paced, fence, *map(message, range(20, 26)))) == 6
        assert time.monotonic() - started >= 0.5
    finally:
        carrier.close()


def test_the_link_reports_its_state(
    link_to: Callable[..., HttpLink], carrier: Carrier, carrier_log: CarrierLog
) -> None:
    link = link_to(carrier.url, window=2)
    wait_for(lambda: STREAM in carrier_log.links())

    shown = carrier_log.links()[STREAM]
    assert (shown.state, shown.window, shown.process) == ("bound", 2, "process-1")
    link.stop()
    assert carrier_log.links()[STREAM].state == "stopped"


def test_a_carrier_failing_for_a_minute_takes_nothing(
    link_to: Callable[..., HttpLink],
    fence: Fence,
    carrier_log: CarrierLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("infra.http_carrier.RETRY_FOR", 0.5)  # the minute, shortened
    carrier = Carrier([(503, {}, b"busy")] * 1000)
    try:
        link = link_to(carrier.url, window=2)
        with pytest.raises(CarrierUnavailable, match="429 or 503"):
            submit(link, fence, *map(message, range(50)))
    finally:
        carrier.close()
    assert carrier_log.taken([f"m{n}" for n in range(50)]) == set()
    assert len(carrier.requests) < 10  # the link paused, then left the rest untried
