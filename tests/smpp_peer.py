"""A scripted SMPP 3.4 server, an SMSC stand-in for protocol edge-case tests.

    with SmppPeer() as peer:               # 127.0.0.1, a free port: peer.port
        peer.script = lambda submit, index: status(0x58) if index == 0 else accept()
        ...                                # point the client under test at peer.port
        assert peer.wait_for(lambda: len(peer.submits) == 2)

What it guarantees:
- Every PDU is encoded and decoded by smpplib's codec; whole PDUs never interleave on a link.
- `submits`, `binds` and `receipts_sent` are recorded before the peer writes the PDU that
  answers them, so a client that has read that PDU finds the record; `deliver_sm_resps` come
  from the client: wait_for them. The properties return snapshots; reading them is thread-safe.
- A failed bind is answered with its error status and the connection is kept open, so the
  client may bind again on it. `unbind` is answered, then the peer closes the connection.
- Error responses carry no body, as SMPP 3.4 says: just the header with the status.
- Unknown commands and requests it does not serve (query_sm, data_sm, ...) get generic_nack
  ESME_RINVCMDID; a command_length below 16 or above 64 KiB closes the connection.
- Receipts go to the submitting connection when it is bound to receive (transceiver),
  otherwise to the first connection bound as receiver; with neither, none is sent.
- `submit_sm` on a connection not bound to transmit is answered ESME_RINVBNDSTS, not recorded.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from smpplib import consts, exceptions, smpp

MODES = {
    "bind_transmitter": "transmitter",
    "bind_receiver": "receiver",
    "bind_transceiver": "transceiver",
}
TRANSMITS = {"transmitter", "transceiver"}
RECEIVES = {"receiver", "transceiver"}
MESSAGE_STATES = {  # receipt `stat:` word -> message_state TLV value (SMPP 3.4, 5.2.28)
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
MAX_PDU = 64 * 1024  # a longer command_length means a broken stream: the peer hangs up


@dataclass(frozen=True)
class Submit:
    """A submit_sm as the peer read it; `connection` counts accepted connections from 0."""

    destination_addr: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    short_message: bytes
    data_coding: int
    esm_class: int
    registered_delivery: int
    message_payload: bytes | None
    sequence: int
    connection: int


@dataclass(frozen=True)
class Bind:
    """A bind attempt: `mode` is transmitter, receiver or transceiver; `status` as answered."""

    system_id: str
    mode: str
    accepted: bool
    status: int
    connection: int


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt (deliver_sm, esm_class 0x04) the peer wrote."""

    message_id: str
    stat: str
    connection: int
    sequence: int


@dataclass(frozen=True)
class DeliverSmResp:
    """A client's answer to one of the peer's deliver_sm PDUs."""

    sequence: int
    status: int
    connection: int


@dataclass(frozen=True)
class Accept:
    """Answer with a fresh message id and, when registered_delivery asks, a receipt.

    receipt: the `stat:` word (DELIVRD, UNDELIV, ...), or None for no receipt. Asking means
    registered_delivery bits 0-1 are 1 (always) or 2 (on failure: any stat but DELIVRD).
    receipt_first: the receipt is written before submit_sm_resp.
    duplicate_receipt: the receipt is written twice.
    delay: seconds before answering; the connection keeps reading meanwhile, so a later
    submit may be answered first.
    """

    receipt: str | None = "DELIVRD"
    err: str = "000"
    receipt_first: bool = False
    duplicate_receipt: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class Reject:
    """Answer submit_sm_resp with this error status, e.g. 0x58 ESME_RTHROTTLED."""

    status: int


@dataclass(frozen=True)
class Silent:
    """Never answer this submit."""


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering (the submit is recorded first)."""


Action = Accept | Reject | Silent | Drop
Script = Callable[[Submit, int], Action]

accept = Accept


def status(code: int) -> Reject:
    """Answer with error status `code` (0x58 ESME_RTHROTTLED, 0x14 ESME_RMSGQFUL, ...)."""
    return Reject(code)


def silent() -> Silent:
    return Silent()


def drop() -> Drop:
    return Drop()


def accept_everything(submit: Submit, index: int) -> Action:
    """The default script."""
    return Accept()


class _Codec:
    """The `client` smpplib's PDUs ask for: sequence numbers, which the peer always sets."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


CODEC = _Codec()


class _Session:
    """One connection: its bind mode, its own request sequence and a lock per written PDU."""

    def __init__(self, index: int, sock: socket.socket) -> None:
        self.index = index
        self.sock = sock
        self.mode: str | None = None
        self._sequences = itertools.count(1)
        self._lock = threading.Lock()

    def next_sequence(self) -> int:
        return next(self._sequences)

    def send(self, command: str, sequence: int, **fields: Any) -> bool:
        """Writes one PDU; False when the connection is gone."""
        pdu = smpp.make_pdu(command, client=CODEC, sequence=sequence, **fields)
        pdu.sequence = sequence  # smpplib ignores the keyword when its client has a sequence
        raw = pdu.generate()
        if pdu.status:  # an error response has no body
            raw = struct.pack(">L", 16) + raw[4:16]
        with self._lock:
            try:
                self.sock.sendall(raw)
            except OSError:
                return False
        return True

    def hang_up(self) -> None:
        """Ends the connection; its own thread notices and closes the socket."""
        with contextlib.suppress(OSError):  # already gone
            self.sock.shutdown(socket.SHUT_RDWR)


class _Server(socketserver.ThreadingTCPServer):
    """Accepts connections, one thread each; server_close() waits for those threads."""

    allow_reuse_address = True

    def __init__(self, port: int, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        super().__init__(("127.0.0.1", port), socketserver.BaseRequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.serve(request)


class SmppPeer:
    """A scripted SMSC on 127.0.0.1 that accepts any number of connections at once."""

    def __init__(self, system_id: str = "peer", password: str = "secret", port: int = 0) -> None:
        self.system_id = system_id
        self.password = password
        self.script: Script = accept_everything
        self.refuse_binds = False  # binds fail with ESME_RBINDFAIL
        self._requested_port = port
        self._server: _Server | None = None
        self._lock = threading.Lock()
        self._closing = False
        self._sessions: dict[int, _Session] = {}
        self._connections = itertools.count()
        # A random start: two peers in one test hand out different ids.
        self._message_ids = itertools.count(0x10000000 + secrets.randbelow(0x0F000000))
        self._submits: list[Submit] = []
        self._binds: list[Bind] = []
        self._receipts: list[Receipt] = []
        self._deliver_sm_resps: list[DeliverSmResp] = []
        self._timers: list[threading.Timer] = []

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> SmppPeer:
        self._server = _Server(self._requested_port, self._serve)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stops accepting, closes every connection and waits for their threads."""
        if self._server is None:
            return
        self._server.shutdown()
        with self._lock:
            self._closing = True
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.drop_all()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> SmppPeer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the peer is not started")
        return int(self._server.server_address[1])

    # -- what happened ------------------------------------------------------------------

    @property
    def submits(self) -> list[Submit]:
        with self._lock:
            return list(self._submits)

    @property
    def binds(self) -> list[Bind]:
        with self._lock:
            return list(self._binds)

    @property
    def receipts_sent(self) -> list[Receipt]:
        with self._lock:
            return list(self._receipts)

    @property
    def deliver_sm_resps(self) -> list[DeliverSmResp]:
        with self._lock:
            return list(self._deliver_sm_resps)

    def bound(self) -> int:
        """How many connections are bound now."""
        with self._lock:
            return sum(session.mode is not None for session in self._sessions.values())

    def wait_for(self, predicate: Callable[[], object], timeout: float = 2.0) -> bool:
        """Polls `predicate` until it is true (returns True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- acting on the links ------------------------------------------------------------

    def send_mo(self, source_addr: str, destination_addr: str, text: str) -> int:
        """Sends a mobile-originated deliver_sm (esm_class 0) on every connection bound to
        receive; returns how many it was written to. ASCII text goes as data_coding 0,
        anything else as UCS-2 (0x08); more than 254 octets go in message_payload."""
        try:
            body, coding = text.encode("ascii"), 0x00
        except UnicodeEncodeError:
            body, coding = text.encode("utf-16-be"), 0x08
        content = {"short_message": body} if len(body) <= 254 else {"message_payload": body}
        written = 0
        for session in self._receivers():
            written += session.send(
                "deliver_sm",
                session.next_sequence(),
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr=source_addr,
                destination_addr=destination_addr,
                esm_class=0x00,
                data_coding=coding,
                **content,
            )
        return written

    def drop_all(self) -> None:
        """Closes every open connection, bound or not."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.hang_up()

    # -- one connection -----------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            session = _Session(next(self._connections), sock)
            self._sessions[session.index] = session
            if self._closing:
                session.hang_up()
        try:
            while (raw := _read_pdu(sock)) is not None and self._handle(session, raw):
                pass
        finally:
            with self._lock:
                del self._sessions[session.index]
            session.hang_up()

    def _handle(self, session: _Session, raw: bytes) -> bool:
        """Acts on one PDU; False closes the connection."""
        sequence = struct.unpack(">L", raw[12:16])[0]
        try:
            pdu = smpp.parse_pdu(raw, client=CODEC, allow_unknown_opt_params=True)
        except exceptions.UnknownCommandError:
            session.send("generic_nack", sequence, status=consts.SMPP_ESME_RINVCMDID)
            return True
        except (KeyError, struct.error):  # a body smpplib cannot read
            session.send("generic_nack", sequence, status=consts.SMPP_ESME_RSYSERR)
            return True
        command = pdu.command
        if command in MODES:
            self._bind(session, pdu)
        elif command == "submit_sm":
            return self._submit(session, pdu)
        elif command == "enquire_link":
            session.send("enquire_link_resp", sequence)
        elif command == "unbind":
            session.mode = None
            session.send("unbind_resp", sequence)
            return False
        elif command == "deliver_sm_resp":
            with self._lock:
                self._deliver_sm_resps.append(DeliverSmResp(sequence, pdu.status, session.index))
        elif not pdu.is_response():  # query_sm, data_sm, ...: not supported
            session.send("generic_nack", sequence, status=consts.SMPP_ESME_RINVCMDID)
        return True

    def _bind(self, session: _Session, pdu: Any) -> None:
        mode, system_id = MODES[pdu.command], _text(pdu.system_id)
        code = self._check_bind(session, system_id, _text(pdu.password))
        with self._lock:
            self._binds.append(Bind(system_id, mode, code == 0, code, session.index))
            if code == 0:
                session.mode = mode
        session.send(f"{pdu.command}_resp", pdu.sequence, status=code, system_id=self.system_id)

    def _check_bind(self, session: _Session, system_id: str, password: str) -> int:
        if session.mode is not None:
            return int(consts.SMPP_ESME_RALYBND)
        if self.refuse_binds:
            return int(consts.SMPP_ESME_RBINDFAIL)
        if system_id != self.system_id:
            return int(consts.SMPP_ESME_RINVSYSID)
        if password != self.password:
            return int(consts.SMPP_ESME_RINVPASWD)
        return 0

    def _submit(self, session: _Session, pdu: Any) -> bool:
        if session.mode not in TRANSMITS:
            session.send("submit_sm_resp", pdu.sequence, status=consts.SMPP_ESME_RINVBNDSTS)
            return True
        with self._lock:
            index = len(self._submits)
            submit = _read_submit(pdu, session.index)
            self._submits.append(submit)
        action = self.script(submit, index)
        if isinstance(action, Drop):
            return False
        if isinstance(action, Reject):
            session.send("submit_sm_resp", submit.sequence, status=action.status)
        elif isinstance(action, Accept) and action.delay > 0:
            timer = threading.Timer(action.delay, self._accept, (session, submit, action))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()
        elif isinstance(action, Accept):
            self._accept(session, submit, action)
        return True

    def _accept(self, session: _Session, submit: Submit, action: Accept) -> None:
        message_id = f"{next(self._message_ids):x}"
        receipts = _receipts_asked(submit, action) * (2 if action.duplicate_receipt else 1)
        if action.receipt_first:
            self._send_receipts(session, submit, message_id, action, receipts)
        session.send("submit_sm_resp", submit.sequence, message_id=message_id)
        if not action.receipt_first:
            self._send_receipts(session, submit, message_id, action, receipts)

    def _send_receipts(
        self, session: _Session, submit: Submit, message_id: str, action: Accept, count: int
    ) -> None:
        target = session if session.mode in RECEIVES else next(iter(self._receivers()), None)
        if target is None or action.receipt is None:
            return
        stat, now = action.receipt, datetime.now(UTC).strftime("%y%m%d%H%M")
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{now} done date:{now} stat:{stat} err:{action.err} text:"
        ).encode() + submit.short_message[:20]
        for _ in range(count):
            sequence = target.next_sequence()
            with self._lock:
                self._receipts.append(Receipt(message_id, stat, target.index, sequence))
            target.send(
                "deliver_sm",
                sequence,
                source_addr=submit.destination_addr,
                destination_addr=submit.source_addr,
                dest_addr_ton=submit.source_addr_ton,
                dest_addr_npi=submit.source_addr_npi,
                esm_class=0x04,
                short_message=text,
                receipted_message_id=message_id,
                message_state=MESSAGE_STATES.get(stat),
            )

    def _receivers(self) -> list[_Session]:
        with self._lock:
            return [s for s in self._sessions.values() if s.mode in RECEIVES]


def _receipts_asked(submit: Submit, action: Accept) -> int:
    """1 when registered_delivery asks for a receipt with this outcome, else 0."""
    asked = submit.registered_delivery & 0x03
    failed = action.receipt is not None and action.receipt != "DELIVRD"
    return int(action.receipt is not None and (asked == 1 or (asked == 2 and failed)))


def _read_submit(pdu: Any, connection: int) -> Submit:
    return Submit(
        destination_addr=_text(pdu.destination_addr),
        source_addr=_text(pdu.source_addr),
        source_addr_ton=pdu.source_addr_ton or 0,
        source_addr_npi=pdu.source_addr_npi or 0,
        short_message=pdu.short_message or b"",
        data_coding=pdu.data_coding or 0,
        esm_class=pdu.esm_class or 0,
        registered_delivery=pdu.registered_delivery or 0,
        message_payload=pdu.message_payload,
        sequence=pdu.sequence,
        connection=connection,
    )


def _text(value: bytes | str | None) -> str:
    """smpplib parses C-octet strings to bytes (absent: None)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value or ""


def _read_pdu(sock: socket.socket) -> bytes | None:
    """One whole PDU; None when the connection ended or the stream is broken."""
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    length = struct.unpack(">L", head)[0]
    if not 16 <= length <= MAX_PDU:
        return None
    rest = _recv_exact(sock, length - 4)
    return None if rest is None else head + rest


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)
