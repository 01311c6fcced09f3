"""The SMSC of the integration tests (infra/local_smsc.py): jsmpp's simulator, driven with
smpplib. Without Java and Maven these tests fail; they are never skipped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp
from smpplib.command import Command

from infra import local_smsc

PORT = 28056
SMSC_DELIVERY_RECEIPT = 0x04  # esm_class of a receipt deliver_sm


@pytest.fixture(scope="module")
def smsc_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A simulator running from a fresh directory for the module; always stopped after."""
    folder = tmp_path_factory.mktemp("smsc")
    try:
        local_smsc.start(folder, PORT)
        yield folder
    finally:
        local_smsc.stop(folder)


def answer(client: smpplib.client.Client, pdu: Command) -> None:
    response = smpplib.smpp.make_pdu(f"{pdu.command}_resp", client=client)
    response.sequence = pdu.sequence
    client.send_pdu(response)


def next_pdu(client: smpplib.client.Client, command: str) -> Command:
    """Read until a ``command`` PDU arrives (socket.timeout after 10 s of silence), answering
    the deliver_sm and enquire_link on the way."""
    while True:
        pdu = client.read_pdu()
        if pdu.command in ("deliver_sm", "enquire_link"):
            answer(client, pdu)
        if pdu.command == command:
            return pdu


def transceiver(port: int) -> smpplib.client.Client:
    # The simulator's submit_sm_resp carries congestion_state, an SMPP 5.0 TLV.
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="j", password="jpwd")
    # Every bind is greeted with this deliver_sm; it must be answered before anything else.
    greeting = next_pdu(client, "deliver_sm")
    assert greeting.short_message == b"Hello World"
    return client


def close(client: smpplib.client.Client) -> None:
    client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
    next_pdu(client, "unbind_resp")
    client.disconnect()


def test_a_registered_submit_gets_a_receipt_with_its_message_id(smsc_dir: Path) -> None:
    client = transceiver(PORT)
    try:
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_INTL,
            source_addr="4915100000001",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr="4917600000002",
            short_message=b"hello",
            registered_delivery=1,
        )
        accepted = next_pdu(client, "submit_sm_resp")
        receipt = next_pdu(client, "deliver_sm")
    finally:
        close(client)

    assert accepted.status == smpplib.consts.SMPP_ESME_ROK
    assert receipt.esm_class == SMSC_DELIVERY_RECEIPT
    fields = dict(part.split(":", 1) for part in receipt.short_message.decode().split(" ")[:3])
    # The receipt's id is the submit_sm_resp's hexadecimal message_id, written in decimal.
    assert int(fields["id"]) == int(accepted.message_id.decode(), 16)
    assert b" stat:DELIVRD " in receipt.short_message
    # The simulator logs the receipt once it has read our deliver_sm_resp.
    deadline = time.monotonic() + 5
    while local_smsc.receipts_sent(smsc_dir) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local_smsc.receipts_sent(smsc_dir) == 1


def test_a_stopped_simulator_starts_again(smsc_dir: Path) -> None:
    local_smsc.stop(smsc_dir)
    local_smsc.stop(smsc_dir)
    with pytest.raises(smpplib.exceptions.ConnectionError):
        transceiver(PORT)

    smsc = local_smsc.start(smsc_dir, PORT)

    assert smsc.address == f"127.0.0.1:{PORT}"
    close(transceiver(PORT))
