"""Messages per second over one SMPP bind to jsmpp's simulator: the platform's link (write-
ahead carrier log, window, receipts matched) against a bare loop of smpplib submits with the
same window, in the same run, for each window size.

    .venv/bin/python -m benchmarks.smpp                       # windows 1, 10, 50; 2,000 each
    .venv/bin/python -m benchmarks.smpp --messages 5000 --windows 10,50

Both sides ask for a receipt per message and answer every deliver_sm, and both send the same
one-part texts to distinct numbers. CPU is this process's (user + system, from /proc) per
1,000 messages; the simulator's is shown apart.
"""

from __future__ import annotations

import argparse
import select
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.smpp

from benchmarks._proc import process_cpu
from domain.sms import parts
from infra import local_smsc
from infra.smpp_carrier import SmppLink, gsm7_octets
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import CarrierLog
from projections.database import SQLiteDatabase
from projections.leases import StreamLeases

PORT = 28071
TEXT = "Spring sale today: 20% off everything in the shop https://go.example/abc123"


class Counted:
    """Receipts and replies, counted only."""

    def __init__(self) -> None:
        self.receipts = 0

    def on_receipts(self, receipts: list[Receipt]) -> None:
        self.receipts += len(receipts)

    def on_replies(self, _replies: list[Any]) -> None:
        pass


def messages(count: int, offset: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            f"b{offset + n:08d}",
            "o",
            "c",
            n,
            f"+49151{offset + n:08d}",
            "v",
            0,
            TEXT,
            parts(TEXT),
            0,
            None,
            None,
        )
        for n in range(count)
    ]


def bare(count: int, window: int, offset: int) -> float:
    """smpplib alone: submits with up to `window` unanswered, every deliver_sm answered."""
    client = smpplib.client.Client("127.0.0.1", PORT, timeout=30, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transceiver(system_id="j", password="jpwd")
    sent = answered = 0
    started = time.perf_counter()
    while answered < count:
        while sent < count and sent - answered < window:
            client.send_pdu(
                smpplib.smpp.make_pdu(
                    "submit_sm",
                    client=client,
                    source_addr="Shop",
                    source_addr_ton=5,
                    destination_addr=f"49151{offset + sent:08d}",
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    short_message=gsm7_octets(TEXT),
                    registered_delivery=1,
                )
            )
            sent += 1
        pdu = client.read_pdu()
        if pdu.command == "submit_sm_resp":
            if pdu.status in (0x58, 0x14):
                sent -= 1  # not taken: sent again
            answered += 1 if pdu.status not in (0x58, 0x14) else 0
        elif pdu.command == "deliver_sm":
            resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
            resp.sequence = pdu.sequence
            client.send_pdu(resp)
    elapsed = time.perf_counter() - started
    drain(client, 3.0)
    client.disconnect()
    return count / elapsed


def drain(client: smpplib.client.Client, seconds: float) -> None:
    """Answers the receipts still coming, so the simulator's next client is not held up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([client._socket], [], [], 0.2)  # the library's socket
        if ready:
            pdu = client.read_pdu()
            if pdu.command == "deliver_sm":
                resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
                resp.sequence = pdu.sequence
                client.send_pdu(resp)


def platform_link(count: int, window: int, offset: int, folder: Path) -> float:
    database = SQLiteDatabase(folder / f"link-{window}.sqlite3")
    carrier_log = CarrierLog(database)
    carrier_log.create_tables()
    leases = StreamLeases(database)
    leases.create_tables()
    taken = leases.acquire("smsc", "bench", 600)
    assert taken is not None
    options = {"host": "127.0.0.1", "port": PORT, "system_id": "j", "window": window}
    link = SmppLink(
        "smsc", options, {"password": "jpwd"}, carrier_log, Counted(), "bench", lambda: 0
    )
    link.start()
    while link.state != "bound":
        time.sleep(0.05)
    batch = messages(count, offset)
    started = time.perf_counter()
    for first in range(0, count, 50 * window):  # the engine's batches for a window
        link.submit(batch[first : first + 50 * window], taken.fence, "Shop", lambda: True)
    elapsed = time.perf_counter() - started
    time.sleep(3)  # receipts still coming are answered before the link unbinds
    link.stop()
    print(f"  (window {window}: the simulator throttled {link.throttled} submits of the link)")
    database.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--windows", default="1,10,50")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-smpp-") as scratch:
        folder = Path(scratch)
        smsc = local_smsc.start(folder / "smsc", PORT)
        print(f"simulator {smsc.address}; {args.messages} messages per run, one part each")
        print(f"{'window':>6} {'bare msg/s':>11} {'link msg/s':>11} {'ratio':>6} "
              f"{'bare ms CPU/1k':>15} {'link ms CPU/1k':>15}")  # fmt: skip
        offset = 0
        try:
            for window in windows:
                cpu = process_cpu_self()
                bare_rate = bare(args.messages, window, offset)
                bare_cpu = (process_cpu_self() - cpu) / args.messages * 1e6
                offset += args.messages
                cpu = process_cpu_self()
                link_rate = platform_link(args.messages, window, offset, folder)
                link_cpu = (process_cpu_self() - cpu) / args.messages * 1e6
                offset += args.messages
                print(
                    f"{window:>6} {bare_rate:>11,.0f} {link_rate:>11,.0f} "
                    f"{link_rate / bare_rate:>6.2f} {bare_cpu:>15.1f} {link_cpu:>15.1f}"
                )
        finally:
            local_smsc.stop(folder / "smsc")
    print(f"at {datetime.now(UTC):%Y-%m-%d %H:%M}Z; CPU includes 3 s of answering receipts")


def process_cpu_self() -> float:
    import os

    return process_cpu(os.getpid())


if __name__ == "__main__":
    main()
