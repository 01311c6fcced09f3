"""An SMPP stream's link against a scripted SMSC: windows, throttling, refusals, receipts
before answers, dropped links, replies, and at most one submit per message."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from domain.sms import parts, split
from infra.smpp_carrier import (
    CarrierUnavailable,
    SmppLink,
    decode_text,
    encode_message,
    gsm7_octets,
)
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import CarrierLog
from projections.database import SQLiteDatabase
from projections.leases import Fence, LeaseLost, StreamLeases
from tests.smpp_peer import SmppPeer, accept, drop, silent, status


class Reports:
    """What the link reports, as the platform would apply it."""

    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.replies: list[tuple[str, str, datetime]] = []

    def on_receipts(self, receipts: list[Receipt]) -> None:
        self.receipts += receipts

    def on_replies(self, replies: list[tuple[str, str, datetime]]) -> None:
        self.replies += replies

    def statuses(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for receipt in self.receipts:
            found.setdefault(receipt.message_id, set()).add(receipt.status)
        return found


class World:
    def __init__(self, tmp_path: Path, peer: SmppPeer) -> None:
        self.database = SQLiteDatabase(tmp_path / "carrier.sqlite3")
        self.log = CarrierLog(self.database)
        self.log.create_tables()
        self.leases = StreamLeases(self.database)
        self.leases.create_tables()
        taken = self.leases.acquire("smsc", "test@host", 60)
        assert taken is not None
        self.fence = taken.fence
        self.peer = peer
        self.reports = Reports()
        self.links: list[SmppLink] = []

    def link(self, rate: int = 0, **options: Any) -> SmppLink:
        settings = {
            "host": "127.0.0.1",
            "port": self.peer.port,
            "system_id": "peer",
            "window": 10,
            **options,
        }
        link = SmppLink(
            "smsc", settings, {"password": "secret"}, self.log, self.reports, "test", lambda: rate
        )
        link.start()
        self.links.append(link)
        assert wait_for(lambda: link.state == "bound"), link.error
        return link

    def submit(self, link: SmppLink, messages: list[OutgoingMessage]) -> set[str]:
        return link.submit(messages, self.fence, "Shop", lambda: True)


def message(number: int, text: str = "Hello from the shop") -> OutgoingMessage:
    return OutgoingMessage(
        f"m{number:05d}", f"o{number:05d}", "c1", number, f"+4915100{number:05d}", "v1", 0,
        text, parts(text), 100, None, None,
    )  # fmt: skip


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SmppPeer(system_id="peer", password="secret") as peer:
        made = World(tmp_path, peer)
        yield made
        for link in made.links:
            link.stop()


def test_messages_are_submitted_within_the_window_and_every_receipt_is_matched(
    world: World,
) -> None:
    link = world.link()
    messages = [message(i) for i in range(100)]
    taken = world.submit(link, messages)
    assert taken == {m.id for m in messages}
    assert len(world.peer.submits) == 100
    assert wait_for(lambda: len(world.reports.receipts) == 100)
    assert all(r.status == "delivered" for r in world.reports.receipts)
    assert {r.message_id for r in world.reports.receipts} == taken
    answered = lambda: sorted(r.sequence for r in world.peer.deliver_sm_resps)  # noqa: E731
    assert wait_for(lambda: answered() == sorted(r.sequence for r in world.peer.receipts_sent))


def test_a_message_is_never_submitted_twice(world: World) -> None:
    link = world.link()
    messages = [message(i) for i in range(5)]
    world.submit(link, messages)
    again = world.submit(link, messages)
    assert again == {m.id for m in messages}  # taken before: never again
    assert len(world.peer.submits) == 5


def test_throttled_submits_are_sent_again_after_a_pause(world: World) -> None:
    world.peer.script = lambda _submit, index: status(0x58) if index in (2, 3) else accept()
    link = world.link()
    messages = [message(i) for i in range(6)]
    assert world.submit(link, messages) == {m.id for m in messages}
    assert len(world.peer.submits) == 8  # two throttled, then taken
    assert wait_for(lambda: len(world.reports.receipts) == 6)


def test_a_refused_submit_is_the_messages_outcome_with_the_carriers_code(world: World) -> None:
    world.peer.script = lambda submit, _index: (
        status(0x45) if submit.destination_addr.endswith("3") else accept()
    )
    link = world.link()
    messages = [message(i) for i in range(5)]
    assert world.submit(link, messages) == {m.id for m in messages}
    assert world.reports.statuses()["m00003"] == {"rejected"}
    carrier_id, error = world.log.errors_of(["m00003"])["m00003"]
    assert carrier_id is None and error is not None and "ESME_RSUBMITFAIL" in error


def test_a_receipt_before_the_submits_answer_is_applied(world: World) -> None:
    world.peer.script = lambda _submit, _index: accept(receipt_first=True, duplicate_receipt=True)
    link = world.link()
    world.submit(link, [message(1)])
    assert wait_for(lambda: world.reports.statuses().get("m00001") == {"delivered"})
    waiting = world.database
    with waiting.read() as cursor:
        cursor.execute("SELECT COUNT(*) FROM carrier_receipts_waiting")
        row = cursor.fetchone()
    assert row is not None and row[0] == 0


def test_receipts_for_messages_of_an_earlier_process_are_matched_from_the_log(
    world: World,
) -> None:
    link = world.link()
    world.submit(link, [message(1)])
    link.stop()
    world.reports.receipts.clear()
    world.peer.script = lambda _submit, _index: accept()
    later = world.link()  # a new process: nothing in memory
    with world.database.read() as cursor:
        cursor.execute("SELECT carrier_id FROM carrier_submits WHERE message_id = 'm00001'")
        row = cursor.fetchone()
    assert row is not None
    assert later.state == "bound"
    # the SMSC sends the receipt again (its first answer was lost with the process)
    matched = world.log.match("smsc", [_receipt(str(row[0]))], {})
    assert [m.message_id for m in matched] == ["m00001"]


def _receipt(carrier_id: str) -> Any:
    from projections.carrier_log import CarrierReceipt

    return CarrierReceipt(carrier_id, "delivered", None, datetime.now().astimezone())


def test_a_dropped_link_makes_the_unanswered_submits_unknown_and_keeps_the_rest(
    world: World,
) -> None:
    world.peer.script = lambda _submit, index: drop() if index == 4 else accept()
    link = world.link(window=1)
    messages = [message(i) for i in range(10)]
    taken = world.submit(link, messages)
    assert taken == {f"m{i:05d}" for i in range(5)}  # four accepted, one unknown
    assert world.reports.statuses()["m00004"] == {"unknown"}
    assert len(world.peer.submits) == 5
    assert world.log.taken([m.id for m in messages]) == taken  # the rest may go later
    assert wait_for(lambda: link.state == "bound" and not link.lost.is_set(), 15)  # bound again
    world.peer.script = lambda _submit, _index: accept()
    assert world.submit(link, messages) == {m.id for m in messages}
    assert len(world.peer.submits) == 10  # the unknown one was not submitted again


def test_an_unanswered_submit_is_unknown_once_its_answer_is_late(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.smpp_carrier.ANSWER_SECONDS", 0.5)
    world.peer.script = lambda _submit, index: silent() if index == 0 else accept()
    link = world.link()
    assert world.submit(link, [message(0)]) == {"m00000"}
    assert world.reports.statuses()["m00000"] == {"unknown"}


def test_a_stale_fence_submits_nothing(world: World) -> None:
    link = world.link()
    stale = Fence("smsc", "test@host", world.fence.epoch - 1)
    with pytest.raises(LeaseLost):
        link.submit([message(1)], stale, "Shop", lambda: True)
    assert world.peer.submits == []


def test_a_lease_lost_midway_stops_the_handover(world: World) -> None:
    link = world.link()
    asked = iter([True, False])
    taken = link.submit([message(i) for i in range(400)], world.fence, "Shop", lambda: next(asked))
    assert len(taken) == 200 and len(world.peer.submits) == 200


def test_a_wrong_password_is_shown_on_the_link(world: World) -> None:
    link = SmppLink(
        "smsc",
        {"host": "127.0.0.1", "port": world.peer.port, "system_id": "peer"},
        {"password": "wrong"},
        world.log,
        world.reports,
        "test",
        lambda: 0,
    )
    link.start()
    world.links.append(link)
    assert wait_for(lambda: link.error is not None)
    assert link.state == "reconnecting"
    assert "ESME_RINVPASWD" in (link.error or "")
    assert wait_for(lambda: "ESME_RINVPASWD" in (world.log.links()["smsc"].error or ""))
    with pytest.raises(CarrierUnavailable):
        link.submit([message(1)], world.fence, "Shop", lambda: True)


def test_an_unreachable_host_is_shown_on_the_link(world: World) -> None:
    link = SmppLink(
        "smsc", {"host": "127.0.0.1", "port": 1, "system_id": "peer"}, {}, world.log,
        world.reports, "test", lambda: 0,
    )  # fmt: skip
    link.start()
    world.links.append(link)
    assert wait_for(lambda: link.error is not None)
    assert link.state == "reconnecting" and "connection failed" in (link.error or "")
    assert "Connection refused" in (link.error or "")


def test_separate_transmitter_and_receiver_binds_get_receipts(world: World) -> None:
    link = world.link(bind="transmitter_receiver")
    assert world.peer.bound() == 2
    world.submit(link, [message(1), message(2)])
    assert wait_for(lambda: len(world.reports.receipts) == 2)


def test_long_and_unicode_texts_go_in_the_parts_the_platform_counts(world: World) -> None:
    long_text = "Big sale [today] only! " * 20
    unicode_text = "Привет! Скидки до 50% только сегодня, заходите в магазин 😀 " * 3
    link = world.link()
    world.submit(link, [message(1, long_text), message(2, unicode_text)])
    submits = world.peer.submits
    assert len(submits) == parts(long_text) + parts(unicode_text)
    udh = [s for s in submits if s.esm_class & 0x40]
    assert len(udh) == len(submits)
    assert sum(1 for s in submits if s.registered_delivery) == 2  # one receipt per message
    first = [s for s in submits if s.destination_addr.endswith("00001")]
    assert b"".join(s.short_message[6:] for s in first) == gsm7_octets(long_text)
    second = [s for s in submits if s.destination_addr.endswith("00002")]
    assert all(s.data_coding == 8 for s in second)
    assert b"".join(s.short_message[6:] for s in second).decode("utf-16-be") == unicode_text
    assert wait_for(lambda: len(world.reports.receipts) == 2)


def test_long_texts_can_go_in_one_message_payload(world: World) -> None:
    text = "x" * 1000
    link = world.link(long_messages="payload")
    world.submit(link, [message(1, text)])
    (submit,) = world.peer.submits
    assert submit.message_payload == text.encode() and submit.short_message == b""


def test_mobile_originated_messages_are_replies(world: World) -> None:
    world.link()
    world.peer.send_mo("4915100000007", "Shop", "STOP")
    assert wait_for(lambda: world.reports.replies)
    phone, text, _at = world.reports.replies[0]
    assert (phone, text) == ("+4915100000007", "STOP")


def test_the_stream_rate_paces_submits(world: World) -> None:
    link = world.link(rate=50)
    started = time.monotonic()
    world.submit(link, [message(i) for i in range(100)])
    assert time.monotonic() - started >= 0.9  # 100 at 50/s after a second's burst


def test_parts_are_cut_between_characters() -> None:
    text = "a" * 152 + "€" + "b" * 10
    cut = split(text)
    assert cut.parts == ("a" * 152, "€" + "b" * 10)
    coding, pdus = encode_message(text, "udh", 7)
    assert coding == 0 and len(pdus) == 2 == parts(text)
    assert pdus[0]["short_message"][:6] == bytes((5, 0, 3, 7, 2, 1))


def test_gsm7_round_trips() -> None:
    text = "Hello {world} €5 §¿ ñ @"
    assert decode_text(gsm7_octets(text), 0, False) == text


def test_a_handover_cut_short_leaves_nothing_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.peer.script = lambda _submit, index: accept(delay=0.3) if index < 200 else accept()
    link = world.link()
    written = world.log.submitting
    calls = iter(range(10))

    def fails_second_time(*args: Any) -> list[str]:
        if next(calls) == 1:
            raise RuntimeError("the database went away")
        return written(*args)

    monkeypatch.setattr(world.log, "submitting", fails_second_time)
    with pytest.raises(RuntimeError):
        world.submit(link, [message(i) for i in range(400)])
    with world.database.read() as cursor:
        cursor.execute("SELECT state, COUNT(*) FROM carrier_submits GROUP BY state")
        states = dict(cursor.fetchall())
    assert "submitting" not in states  # every message of the first chunk was decided
    assert sum(states.values()) == 200
    monkeypatch.setattr(world.log, "submitting", written)
    later = [message(i) for i in range(400, 410)]
    assert world.submit(link, later) == {m.id for m in later}  # nothing stale in the way


def test_tls_links_check_the_smscs_certificate_for_its_host_name(tmp_path: Path) -> None:
    import socket
    import ssl
    import subprocess
    import threading

    from infra.smpp_carrier import _Client

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            connection, _address = listener.accept()
            try:
                with server.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    trusting = ssl.create_default_context(cafile=str(cert))
    client = _Client("localhost", port, ssl_context=trusting, allow_unknown_opt_params=True)
    client.connect()  # the certificate names the host: accepted
    client.disconnect()
    wrong = _Client("127.0.0.1", port, ssl_context=trusting, allow_unknown_opt_params=True)
    with pytest.raises(Exception, match="certificate verify failed"):
        wrong.connect()  # not the host it names: refused, saying why
    listener.close()
