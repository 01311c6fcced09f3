"""The scripted SMPP peer, driven by smpplib as the client: what it answers, in which order on
the wire, and what it records."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from tests.smpp_peer import SmppPeer, Submit, accept, drop, silent, status

Connect = Callable[..., smpplib.client.Client]


@pytest.fixture
def peer() -> Iterator[SmppPeer]:
    with SmppPeer(system_id="peer", password="secret") as running:
        yield running


@pytest.fixture
def connect(peer: SmppPeer) -> Iterator[Connect]:
    """Opens smpplib clients to the peer; bound in `mode` unless mode is None."""
    clients: list[smpplib.client.Client] = []

    def open_client(mode: str | None = "transceiver", timeout: float = 2.0) -> Any:
        client = smpplib.client.Client(
            "127.0.0.1", peer.port, timeout=timeout, allow_unknown_opt_params=True
        )
        clients.append(client)
        client.connect()
        if mode is not None:
            getattr(client, f"bind_{mode}")(system_id="peer", password="secret")
        return client

    yield open_client
    for client in clients:
        client.disconnect()


def submit(client: Any, text: bytes = b"Hello", registered_delivery: int = 1) -> Any:
    return client.send_message(
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="Shop",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        short_message=text,
        registered_delivery=registered_delivery,
    )


def test_an_accepted_submit_gets_a_message_id_then_a_receipt_naming_it(
    peer: SmppPeer, connect: Connect
) -> None:
    client = connect()
    seen: list[Any] = []
    client.set_message_sent_handler(lambda pdu: seen.append(pdu))
    client.set_message_received_handler(lambda pdu: seen.append(pdu))

    sent = submit(client)
    client.read_once()
    client.read_once()  # smpplib answers the receipt with deliver_sm_resp

    resp, receipt = seen
    message_id = resp.message_id.decode()
    assert (resp.command, resp.status, resp.sequence) == ("submit_sm_resp", 0, sent.sequence)
    assert (receipt.command, receipt.esm_class) == ("deliver_sm", 0x04)
    assert receipt.receipted_message_id == message_id.encode()
    assert receipt.message_state == 2
    assert receipt.short_message.startswith(f"id:{message_id} sub:001 dlvrd:001 ".encode())
    assert b" stat:DELIVRD err:000 text:Hello" in receipt.short_message
    assert (receipt.source_addr, receipt.destination_addr) == (b"447700900123", b"Shop")
    assert peer.submits == [
        Submit(
            destination_addr="447700900123",
            source_addr="Shop",
            source_addr_ton=5,
            source_addr_npi=0,
            short_message=b"Hello",
            data_coding=0,
            esm_class=0,
            registered_delivery=1,
            message_payload=None,
            sequence=sent.sequence,
            connection=0,
        )
    ]
    [recorded] = peer.receipts_sent
    assert (recorded.message_id, recorded.sequence) == (message_id, receipt.sequence)
    assert peer.wait_for(lambda: len(peer.deliver_sm_resps) == 1)
    assert peer.deliver_sm_resps[0].sequence == receipt.sequence
    assert [(b.system_id, b.mode, b.accepted) for b in peer.binds] == [
        ("peer", "transceiver", True)
    ]


def test_receipt_first_writes_the_receipt_before_the_submit_resp(
    peer: SmppPeer, connect: Connect
) -> None:
    peer.script = lambda submit, index: accept(receipt_first=True)
    client = connect()

    submit(client)
    first, second = client.read_pdu(), client.read_pdu()

    assert [first.command, second.command] == ["deliver_sm", "submit_sm_resp"]
    assert first.receipted_message_id == second.message_id


def test_a_duplicate_receipt_is_written_twice_with_the_same_id(
    peer: SmppPeer, connect: Connect
) -> None:
    peer.script = lambda submit, index: accept(duplicate_receipt=True)
    client = connect()

    submit(client)
    pdus = [client.read_pdu() for _ in range(3)]

    assert [p.command for p in pdus] == ["submit_sm_resp", "deliver_sm", "deliver_sm"]
    assert pdus[1].receipted_message_id == pdus[2].receipted_message_id == pdus[0].message_id
    assert pdus[1].sequence != pdus[2].sequence


def test_a_throttled_submit_gets_the_status_and_no_receipt(
    peer: SmppPeer, connect: Connect
) -> None:
    throttled = smpplib.consts.SMPP_ESME_RTHROTTLED
    peer.script = lambda submit, index: status(throttled) if index == 0 else accept()
    client = connect()

    submit(client)
    submit(client)
    pdus = [client.read_pdu() for _ in range(3)]

    assert [(p.command, p.status) for p in pdus] == [
        ("submit_sm_resp", throttled),
        ("submit_sm_resp", 0),
        ("deliver_sm", 0),
    ]
    assert pdus[0].message_id is None  # an error response has no body
    assert [r.message_id for r in peer.receipts_sent] == [pdus[1].message_id.decode()]
    assert len(peer.submits) == 2


def test_a_delayed_answer_lets_a_later_submit_be_answered_first(
    peer: SmppPeer, connect: Connect
) -> None:
    peer.script = lambda submit, index: accept(delay=0.2) if index == 0 else accept()
    client = connect()

    first, second = submit(client, registered_delivery=0), submit(client, registered_delivery=0)
    answered = [client.read_pdu().sequence for _ in range(2)]

    assert answered == [second.sequence, first.sequence]


def test_a_dropped_link_records_the_submit_and_closes_without_answering(
    peer: SmppPeer, connect: Connect
) -> None:
    peer.script = lambda submit, index: drop() if index == 0 else accept()
    client = connect()

    submit(client)

    with pytest.raises(smpplib.exceptions.ConnectionError):
        client.read_pdu()
    assert [s.short_message for s in peer.submits] == [b"Hello"]
    assert peer.wait_for(lambda: peer.bound() == 0)
    submit(connect(), registered_delivery=0)
    assert peer.wait_for(lambda: [s.connection for s in peer.submits] == [0, 1])


def test_a_silent_peer_never_answers(peer: SmppPeer, connect: Connect) -> None:
    peer.script = lambda submit, index: silent()
    client = connect(timeout=0.3)

    submit(client)

    with pytest.raises(socket.timeout):
        client.read_pdu()
    assert len(peer.submits) == 1


def test_message_ids_are_unique(peer: SmppPeer, connect: Connect) -> None:
    client = connect()

    for _ in range(20):
        submit(client, registered_delivery=0)
    ids = [client.read_pdu().message_id for _ in range(20)]

    assert len(set(ids)) == 20


@pytest.mark.parametrize(
    ("system_id", "password", "refuse", "expected"),
    [
        ("peer", "wrong", False, smpplib.consts.SMPP_ESME_RINVPASWD),
        ("other", "secret", False, smpplib.consts.SMPP_ESME_RINVSYSID),
        ("peer", "secret", True, smpplib.consts.SMPP_ESME_RBINDFAIL),
    ],
)
def test_a_refused_bind_answers_its_status_and_keeps_the_link_open(
    peer: SmppPeer,
    connect: Connect,
    system_id: str,
    password: str,
    refuse: bool,
    expected: int,
) -> None:
    peer.refuse_binds = refuse
    client = connect(mode=None)

    with pytest.raises(smpplib.exceptions.PDUError) as refused:
        client.bind_transceiver(system_id=system_id, password=password)

    assert refused.value.args[1] == expected
    assert peer.bound() == 0
    peer.refuse_binds = False
    client.bind_transceiver(system_id="peer", password="secret")
    assert peer.bound() == 1
    assert [(b.accepted, b.status) for b in peer.binds] == [(False, expected), (True, 0)]


def test_a_mobile_originated_message_reaches_every_receiving_session(
    peer: SmppPeer, connect: Connect
) -> None:
    receiver, transmitter = connect(mode="receiver"), connect(mode="transmitter")
    received: list[Any] = []
    receiver.set_message_received_handler(lambda pdu: received.append(pdu))

    assert peer.send_mo("447700900123", "12345", "STOP") == 1
    receiver.read_once()

    [mo] = received
    assert (mo.esm_class, mo.data_coding, mo.short_message) == (0, 0, b"STOP")
    assert (mo.source_addr, mo.destination_addr) == (b"447700900123", b"12345")
    assert peer.wait_for(lambda: len(peer.deliver_sm_resps) == 1)
    assert (peer.deliver_sm_resps[0].status, peer.deliver_sm_resps[0].connection) == (0, 0)
    assert transmitter.state == smpplib.consts.SMPP_CLIENT_STATE_BOUND_TX


def test_a_transmitters_receipt_goes_to_the_receiver(peer: SmppPeer, connect: Connect) -> None:
    transmitter, receiver = connect(mode="transmitter"), connect(mode="receiver")

    submit(transmitter)
    resp, receipt = transmitter.read_pdu(), receiver.read_pdu()

    assert receipt.receipted_message_id == resp.message_id
    assert peer.receipts_sent[0].connection == 1


def test_stop_closes_every_link(connect: Connect, peer: SmppPeer) -> None:
    client = connect()

    peer.stop()

    with pytest.raises(smpplib.exceptions.ConnectionError):
        client.read_pdu()


def test_enquire_link_is_answered_and_unbind_closes_the_link(
    peer: SmppPeer, connect: Connect
) -> None:
    client = connect()

    client.send_pdu(smpplib.smpp.make_pdu("enquire_link", client=client))
    assert client.read_pdu().command == "enquire_link_resp"
    assert client.unbind().command == "unbind_resp"

    assert peer.wait_for(lambda: peer.bound() == 0)
    with pytest.raises(smpplib.exceptions.ConnectionError):
        client.read_pdu()
