"""SMPP 3.4 streams: one link per stream to its SMSC, owned by the stream's sending process.

PDUs are encoded, decoded and written by `smpplib`; this module keeps the link: it binds
(transceiver, or a transmitter and a receiver), answers and sends `enquire_link`, binds
again with backoff after a drop, keeps up to `window` submits in flight at the stream's
rate, waits and submits again what the SMSC throttles (`ESME_RTHROTTLED`, `ESME_RMSGQFUL`),
matches receipts to messages by the SMSC's message ids, and takes mobile-originated
messages as replies.

At most once: each message is written to the carrier log, under the owner's fence, before
its first PDU leaves, and a message written there is never submitted again. A message some
of whose PDUs left but whose answers never came (the link dropped, the answer timed out) is
`unknown`. A `deliver_sm` is answered only once its receipt is recorded, so the SMSC sends
again what a crash lost; receipts apply once and never move a status backwards.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import smpplib.client
import smpplib.command
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from domain.sms import GSM7, GSM7_ALPHABET, GSM7_EXTENDED, split
from domain.stream import SMPP_RECEIPT_STATES, SMPP_RETRY_LATER, UNKNOWN
from projections.activity import OutgoingMessage, Receipt
from projections.carrier_log import (
    Answer,
    CarrierLog,
    CarrierReceipt,
    LinkState,
    MatchedReceipt,
    id_forms,
)
from projections.leases import Fence

log = logging.getLogger(__name__)

ENQUIRE_LINK_SECONDS = 15.0  # an idle link is probed this often
LINK_DEAD_SECONDS = 10.0  # an unanswered probe ends the link after this
CLOSE_WAIT = 5.0  # seconds a closing link waits for the answers of submits in flight
ANSWER_SECONDS = 30.0  # a submit unanswered this long is unknown, and the link is renewed
THROTTLED_FOR = 60.0  # a message throttled this long is left for a later handover
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)  # between two binds that failed
RECEIPTS_AT_ONCE = 500  # deliver_sm recorded in one transaction, at most
CHUNK = 200  # messages written to the carrier log at once, at most
ROK: int = smpplib.consts.SMPP_ESME_ROK
RX_T_APPN = 0x64  # "temporary error of the receiving application": the SMSC sends it again
STATUS_NAMES = {
    code: name
    for name, code in vars(smpplib.consts).items()
    if name.startswith("SMPP_ESME_") and isinstance(code, int)
}
MESSAGE_STATES = {  # the message_state TLV of a receipt, as its `stat:` word
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_ID = re.compile(rb"\bid:(\S+)", re.IGNORECASE)
_RECEIPT_STAT = re.compile(rb"\bstat:(\w+)", re.IGNORECASE)
_RECEIPT_ERR = re.compile(rb"\berr:(\w+)", re.IGNORECASE)


class CarrierUnavailable(Exception):
    """The carrier cannot take messages now (its link is down); nothing was handed over
    that is not recorded."""


class _SubmitSM(smpplib.command.SubmitSM):  # type: ignore[misc]  # the library is untyped
    """submit_sm whose `message_payload` may be as long as SMPP 3.4 allows (the library's
    declaration cuts it at 260 octets)."""

    params: ClassVar[dict[str, Any]] = {
        **smpplib.command.SubmitSM.params,
        "message_payload": smpplib.command.Param(type=smpplib.command.ostr, max=65536),
    }


class _Client(smpplib.client.Client):  # type: ignore[misc]  # the library is untyped
    """smpplib's client, whose TLS connections name the host they expect (the library's
    do not, so a context that checks host names could not be used)."""

    def _create_socket(self) -> socket.socket:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(self.timeout)
        if self._ssl_context is None:
            return raw
        wrapped: socket.socket = self._ssl_context.wrap_socket(raw, server_hostname=self.host)
        return wrapped

    def connect(self) -> None:
        """Connects, saying why not (the library says "Connection refused" whatever the
        cause: an unknown host, a timeout, a certificate refused)."""
        connection = self._create_socket()
        try:
            connection.connect((self.host, self.port))
        except OSError as error:
            connection.close()
            raise smpplib.exceptions.ConnectionError(str(error) or type(error).__name__) from error
        self._socket = connection
        self.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN


def status_name(code: int) -> str:
    name = STATUS_NAMES.get(code, "").removeprefix("SMPP_")
    return f"0x{code:08X} {name}".strip()


_SEPTETS = {char: bytes((index,)) for index, char in enumerate(GSM7_ALPHABET) if index != 0x1B}
_SEPTETS.update({char: bytes((0x1B, code)) for char, code in GSM7_EXTENDED.items()})
_CHARS = {index: char for index, char in enumerate(GSM7_ALPHABET) if index != 0x1B}
_EXTENDED_CHARS = {code: char for char, code in GSM7_EXTENDED.items()}


def gsm7_octets(text: str) -> bytes:
    """GSM-7 as SMPP's default alphabet: one octet per septet, 0x1B before extension
    characters."""
    return b"".join(map(_SEPTETS.__getitem__, text))


def encode_message(
    text: str, long_messages: str, reference: int
) -> tuple[int, list[dict[str, Any]]]:
    """(data_coding, the fields of each submit_sm) for a text, in the parts the platform
    counts (`domain.sms.split`): concatenated with an 8-bit reference UDH, or in one
    `message_payload`."""
    cut = split(text)
    if cut.encoding == GSM7.name:
        coding, encode = smpplib.consts.SMPP_ENCODING_DEFAULT, gsm7_octets
    else:
        coding, encode = smpplib.consts.SMPP_ENCODING_ISO10646, _ucs2
    if len(cut.parts) == 1:
        return coding, [{"short_message": encode(text), "esm_class": 0}]
    if long_messages == "payload":
        return coding, [{"message_payload": encode(text), "esm_class": 0}]
    total = len(cut.parts)
    return coding, [
        {
            "short_message": bytes((5, 0, 3, reference & 0xFF, total, number)) + encode(part),
            "esm_class": smpplib.consts.SMPP_GSMFEAT_UDHI,
        }
        for number, part in enumerate(cut.parts, start=1)
    ]


def _ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def decode_text(data: bytes, coding: int, udh: bool) -> str:
    """A mobile-originated message's text."""
    if udh and data:
        data = data[1 + data[0] :]
    if coding == smpplib.consts.SMPP_ENCODING_ISO10646:
        return data.decode("utf-16-be", errors="replace")
    if coding in (smpplib.consts.SMPP_ENCODING_ISO88591, 1):
        return data.decode("latin-1")
    chars, escaped = [], False
    for octet in data:
        if octet == 0x1B:
            escaped = True
            continue
        chars.append((_EXTENDED_CHARS if escaped else _CHARS).get(octet, "?"))
        escaped = False
    return "".join(chars)


def parse_receipt(pdu: Any) -> CarrierReceipt | None:
    """A delivery receipt in a deliver_sm: the SMSC's message id, the message's status and
    its error code; None when the deliver_sm is not a receipt."""
    text = bytes(pdu.short_message or pdu.message_payload or b"")
    tlv_id = pdu.receipted_message_id
    if not (pdu.esm_class or 0) & 0x3C and not tlv_id:
        return None
    found = _RECEIPT_ID.search(text)
    carrier_id = (
        _text(tlv_id) if tlv_id else (found.group(1).decode("ascii", "replace") if found else "")
    )
    stat = _RECEIPT_STAT.search(text)
    word = stat.group(1).decode("ascii", "replace").upper() if stat else ""
    if not word and pdu.message_state:
        word = MESSAGE_STATES.get(int(pdu.message_state), "")
    err = _RECEIPT_ERR.search(text)
    code = err.group(1).decode("ascii", "replace") if err else ""
    status = SMPP_RECEIPT_STATES.get(word, "failed" if word else "sent")
    error = f"stat:{word} err:{code}" if status not in ("delivered", "sent") else None
    return CarrierReceipt(carrier_id, status, error, datetime.now(UTC))


def _text(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def phone_of(address: str, ton: int) -> str:
    """A sender's address as the platform writes numbers: international, with a '+'."""
    digits = address.lstrip("+")
    return f"+{digits}" if digits.isdigit() and ton in (0, 1) else address


@dataclass
class _Handing:
    """One message on its way: its parts' answers so far."""

    message: OutgoingMessage
    parts: int
    left: int  # parts not yet answered
    sent: int = 0  # parts written to the link
    carrier_id: str | None = None
    error: str | None = None
    state: str | None = None  # accepted, rejected or unknown, once decided


@dataclass
class _Part:
    """One submit_sm of a message (a long message has several)."""

    handing: _Handing
    fields: dict[str, Any]
    number: int  # from 0
    last: bool
    not_before: float = 0.0
    throttled_since: float | None = None

    @property
    def message(self) -> OutgoingMessage:
        return self.handing.message


@dataclass
class _Session:
    """One bound connection (a transceiver, or one of a transmitter and a receiver)."""

    client: smpplib.client.Client
    mode: str
    alive: bool = True
    last_read: float = field(default_factory=time.monotonic)
    probed_at: float | None = None


class SmppLink:
    """The link of one SMPP stream to its SMSC, while this process owns the stream."""

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
        self.options = options
        self.secrets = secrets
        self.carrier_log = carrier_log
        self.reports = reports
        self.process = process
        self.rate = rate
        self.window = int(options.get("window", 10))
        self.lock = threading.Condition()
        self.send_lock = threading.Lock()
        self.sessions: list[_Session] = []
        self.transmitter: _Session | None = None
        # Submits sent and not answered, by their session and sequence number.
        self.in_flight: dict[tuple[int, int], tuple[_Part, _Handing, float]] = {}
        self.retry: collections.deque[_Part] = collections.deque()
        self.undecided = 0  # messages handed whose outcome is not decided yet
        self.answered: dict[str, str] = {}  # carrier id -> message id, seen by this link
        self.answered_order: collections.deque[str] = collections.deque()
        self.state = "connecting"
        self.error: str | None = None
        self.since = datetime.now(UTC)
        self.last_receipt_at: str | None = None
        self.accepted_at: collections.deque[float] = collections.deque()
        self.paused_until = 0.0
        self.throttles = 0  # in a row
        self.throttled = 0  # submits the SMSC throttled, in all
        self.next_send = 0.0
        self.reference = 0
        self.stopping = threading.Event()
        self.closing = threading.Event()  # no new submit leaves: the link is being closed
        self.lost = threading.Event()  # the current sessions died
        self.thread: threading.Thread | None = None

    # Running.

    def start(self) -> None:
        # The library's DEBUG lines carry every PDU in hex, the bind's password among them;
        # its warnings repeat for each answer naming an optional parameter of SMPP 5.
        logging.getLogger(f"smpp.{self.stream}").setLevel(logging.INFO)
        logging.getLogger("smpplib.command").setLevel(logging.ERROR)
        self.thread = threading.Thread(target=self.run, name=f"smpp-{self.stream}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Sends nothing more, waits a little for the answers of the submits in flight
        (what is still unanswered then is unknown), and unbinds."""
        self.closing.set()
        deadline = time.monotonic() + CLOSE_WAIT
        with self.lock:
            while self.in_flight and not self.lost.is_set() and time.monotonic() < deadline:
                self.lock.wait(0.1)
        self.stopping.set()
        self.lost.set()
        with self.lock:
            self.lock.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.report_state("stopped")

    def run(self) -> None:
        """Binds, keeps the link up, and binds again with backoff once it drops."""
        failures = 0
        while not self.stopping.is_set():
            self.lost.clear()
            try:
                self.bind()
            except Exception as error:  # any failure to bind is the link's state
                self.close_sessions()
                self.error = describe(error)
                self.set_state("reconnecting")
                log.warning(
                    "stream %s: cannot bind to %s:%s: %s",
                    self.stream,
                    self.options["host"],
                    self.options["port"],
                    self.error,
                )
                wait = BACKOFF[min(failures, len(BACKOFF) - 1)]
                failures += 1
                self.wait_reporting(wait)
                continue
            failures = 0
            self.error = None
            self.set_state("bound")
            readers = [
                threading.Thread(
                    target=self.read, args=(s,), name=f"smpp-{self.stream}-{s.mode}", daemon=True
                )
                for s in self.sessions
            ]
            for reader in readers:
                reader.start()
            while not self.lost.is_set() and not self.stopping.is_set():
                self.wait_reporting(1.0, until=self.lost)
                self.expire_answers()
            self.close_sessions()
            for reader in readers:
                reader.join(timeout=5)
            self.give_up_in_flight()
            if not self.stopping.is_set():
                self.set_state("reconnecting")
                self.wait_reporting(BACKOFF[0])

    def wait_reporting(self, seconds: float, until: threading.Event | None = None) -> None:
        """Waits, writing the link's state down every second."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (until is None or not until.is_set()):
            self.report_state(self.state)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            (until or self.stopping).wait(min(1.0, left))

    def bind(self) -> None:
        options = self.options
        modes = (
            ["transceiver"]
            if options.get("bind", "transceiver") == "transceiver"
            else ["transmitter", "receiver"]
        )
        self.sessions = []
        for mode in modes:
            # TLS checks the SMSC's certificate and host name against the system's CAs.
            context = ssl.create_default_context() if options.get("tls") else None
            client = _Client(
                options["host"],
                options["port"],
                timeout=ANSWER_SECONDS,
                ssl_context=context,
                allow_unknown_opt_params=True,
                logger_name=f"smpp.{self.stream}",
            )
            session = _Session(client, mode)
            self.sessions.append(session)  # closed with the others if what follows fails
            client.connect()
            getattr(client, f"bind_{mode}")(
                system_id=options["system_id"],
                password=self.secrets.get("password", ""),
                system_type=options.get("system_type", ""),
            )
        self.transmitter = self.sessions[0]

    def close_sessions(self) -> None:
        for session in self.sessions:
            session.alive = False
            with contextlib.suppress(Exception):
                if session.client._socket is not None:  # the library keeps it private
                    session.client._socket.close()
                    session.client._socket = None
            session.client.state = smpplib.consts.SMPP_CLIENT_STATE_CLOSED
        self.sessions = []  # a reader of these that ends late leaves the next ones alone
        self.transmitter = None

    # Reading.

    def read(self, session: _Session) -> None:
        """Reads one session's PDUs until it dies: answers, receipts, replies, probes."""
        client = session.client
        delivers: list[Any] = []
        try:
            while session.alive and not self.stopping.is_set():
                readable, _, _ = select.select([client._socket], [], [], 0 if delivers else 1.0)
                if not readable:
                    if delivers:
                        self.take_delivers(session, delivers)
                        delivers = []
                        continue
                    self.probe(session)
                    continue
                pdu = client.read_pdu()
                session.last_read = time.monotonic()
                session.probed_at = None
                if pdu.command == "deliver_sm":
                    delivers.append(pdu)
                    if len(delivers) >= RECEIPTS_AT_ONCE:
                        self.take_delivers(session, delivers)
                        delivers = []
                else:
                    self.on_pdu(session, pdu)
        except Exception as error:  # a broken read ends the session
            if session.alive and not self.stopping.is_set():
                self.error = describe(error)
                log.warning(
                    "stream %s: the %s link dropped: %s", self.stream, session.mode, self.error
                )
        finally:
            session.alive = False
            if session in self.sessions:  # not a reader of sessions already replaced
                self.lost.set()
            with self.lock:
                self.lock.notify_all()

    def probe(self, session: _Session) -> None:
        now = time.monotonic()
        if session.probed_at is not None:
            if now - session.probed_at > LINK_DEAD_SECONDS:
                raise ConnectionError("the SMSC did not answer enquire_link")
            return
        if now - session.last_read >= ENQUIRE_LINK_SECONDS:
            session.probed_at = now
            self.send(session, "enquire_link")

    def on_pdu(self, session: _Session, pdu: Any) -> None:
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            self.on_answer(
                session,
                int(pdu.sequence),
                int(pdu.status),
                _text(pdu.message_id or "") if command == "submit_sm_resp" else "",
            )
        elif command == "enquire_link":
            self.send(session, "enquire_link_resp", answering=pdu.sequence)
        elif command == "unbind":
            self.send(session, "unbind_resp", answering=pdu.sequence)
            raise ConnectionError("the SMSC unbound")

    def send(
        self, session: _Session, command: str, answering: int | None = None, **fields: Any
    ) -> None:
        """Writes one PDU, a request numbered from the session's one counter or the answer
        to the request numbered `answering`; PDUs are made and written one at a time."""
        with self.send_lock:
            pdu = smpplib.smpp.make_pdu(command, client=session.client, **fields)
            if answering is not None:
                pdu.sequence = answering  # the library ignores a sequence given to make_pdu
            session.client.send_pdu(pdu)

    # Submitting.

    def submit(
        self,
        messages: Sequence[OutgoingMessage],
        fence: Fence,
        sender: str,
        holds: Callable[[], bool],
    ) -> set[str]:
        """Hands the messages to the SMSC and waits for its answers; returns the messages
        that left (accepted, rejected or unknown, as recorded). Stops early when the link
        drops or `holds` says the stream is no longer ours: what never left may be handed
        over later."""
        if self.state != "bound" or self.lost.is_set():
            raise CarrierUnavailable(
                f"the stream {self.stream} is not bound: {self.error or self.state}"
            )
        taken: set[str] = set()
        states: list[_Handing] = []  # handed, their answers not yet written down
        queue: collections.deque[_Part] = collections.deque()
        with self.lock:
            self.undecided = 0  # one handover at a time; the one before left nothing behind
        try:
            for start in range(0, len(messages), CHUNK):
                chunk = messages[start : start + CHUNK]
                if not holds() or self.lost.is_set():
                    break
                # Written down while the chunk before is still answered: the window stays
                # full. What that chunk's answers decided is written down next.
                fresh = set(
                    self.carrier_log.submitting(fence, [m.id for m in chunk], datetime.now(UTC))
                )
                taken.update(m.id for m in chunk if m.id not in fresh)  # never again
                for message in chunk:
                    if message.id in fresh:
                        state, parts = self.handing(message, sender)
                        states.append(state)
                        queue.extend(parts)
                self.pump(queue, drain=False)
                with self.lock:
                    decided = [s for s in states if s.state is not None]
                    states = [s for s in states if s.state is None]
                taken |= self.record(decided)
            self.pump(queue, drain=True)
        finally:
            # Whatever ended the handover (a refused fence, a database error), nothing of
            # it stays behind: what never left may go later, what is out is unknown.
            with self.lock:
                self.abandon(queue, in_flight=True)
            taken |= self.record(states)
        return taken

    def handing(self, message: OutgoingMessage, sender: str) -> tuple[_Handing, list[_Part]]:
        self.reference = (self.reference + 1) & 0xFF
        coding, pdus = encode_message(
            message.text, self.options.get("long_messages", "udh"), self.reference
        )
        destination = message.recipient.lstrip("+")
        state = _Handing(message, len(pdus), len(pdus))
        with self.lock:
            self.undecided += 1
        parts = []
        for number, fields in enumerate(pdus):
            last = number == len(pdus) - 1
            parts.append(
                _Part(
                    state,
                    {
                        "source_addr_ton": self.options.get("source_ton", 5),
                        "source_addr_npi": self.options.get("source_npi", 0),
                        "source_addr": sender,
                        "dest_addr_ton": 1,
                        "dest_addr_npi": 1,
                        "destination_addr": destination,
                        "data_coding": coding,
                        "registered_delivery": 1 if last else 0,  # one receipt per message
                        **fields,
                    },
                    number,
                    last,
                )
            )
        return state, parts

    def pump(self, queue: collections.deque[_Part], *, drain: bool) -> None:
        """Sends the queued parts within the window and the rate, and again what the SMSC
        throttled; returns once the queue is sent (with `drain`: once every message handed
        is decided), or at once when the link is lost."""
        while True:
            with self.lock:
                while self.retry_due():
                    queue.appendleft(self.retry.popleft())
                session = self.transmitter
                if (
                    self.lost.is_set()
                    or self.stopping.is_set()
                    or session is None
                    or not session.alive
                ):
                    self.abandon(queue)
                    return
                if self.closing.is_set():  # what has not left stays for later
                    self.abandon(queue, in_flight=False)
                if not queue and (not drain or self.undecided == 0) and not (drain and self.retry):
                    return
                wait = self.wait_to_send() if queue else 0.2
                if wait > 0:
                    self.lock.wait(min(wait, 0.2))
                    continue
                part = queue.popleft()
                state = part.handing
                if state.state is not None:
                    continue  # decided meanwhile (another part rejected)
                if (
                    part.throttled_since is not None
                    and time.monotonic() - part.throttled_since > THROTTLED_FOR
                ):
                    self.decide(state, "rejected" if state.sent else "unsent")
                    state.error = "throttled by the SMSC for too long"
                    continue
            try:
                self.send_part(session, part, state)
            except Exception as error:  # the link broke while sending
                self.error = describe(error)
                if session in self.sessions:
                    self.lost.set()
                with self.lock:
                    queue.appendleft(part)

    def decide(self, state: _Handing, outcome: str) -> None:
        """A message's handover is decided (under the lock)."""
        if state.state is None:
            state.state = outcome
            self.undecided -= 1

    def retry_due(self) -> bool:
        return bool(self.retry) and self.retry[0].not_before <= time.monotonic()

    def wait_to_send(self) -> float:
        """Seconds until the next part may leave: a window slot, the rate, a throttle."""
        now = time.monotonic()
        if len(self.in_flight) >= self.window:
            return 0.05
        if now < self.paused_until:
            return self.paused_until - now
        return max(0.0, self.next_send - now)

    def send_part(self, session: _Session, part: _Part, state: _Handing) -> None:
        with self.send_lock:
            pdu = _SubmitSM("submit_sm", client=session.client, **part.fields)
            with self.lock:
                self.in_flight[(id(session), int(pdu.sequence))] = (part, state, time.monotonic())
                if part.number == 0 and part.throttled_since is None:
                    rate = self.rate()
                    self.next_send = max(self.next_send, time.monotonic() - 1.0) + (
                        1.0 / rate if rate else 0.0
                    )
                state.sent += 1
            session.client.send_pdu(pdu)

    def on_answer(self, session: _Session, sequence: int, status: int, carrier_id: str) -> None:
        with self.lock:
            found = self.in_flight.pop((id(session), sequence), None)
            if found is None:
                return
            part, state, _at = found
            if status in SMPP_RETRY_LATER:
                self.throttles += 1
                self.throttled += 1
                delay = min(5.0, 0.1 * 2 ** min(self.throttles, 6))
                self.paused_until = time.monotonic() + delay
                part.not_before = self.paused_until
                if part.throttled_since is None:
                    part.throttled_since = time.monotonic()
                self.retry.append(part)
                state.sent -= 1
            else:
                self.throttles = 0
                state.left -= 1
                if status != ROK:
                    if state.state is None:
                        state.error = status_name(status)
                    self.decide(state, "rejected")
                elif part.last:
                    state.carrier_id = carrier_id
                    self.remember(carrier_id, part.message.id)
                if state.left == 0 and state.state is None:
                    self.decide(state, "accepted")
                    self.accepted_at.append(time.monotonic())
            self.lock.notify_all()

    def remember(self, carrier_id: str, message_id: str) -> None:
        self.answered[carrier_id] = message_id
        self.answered_order.append(carrier_id)
        while len(self.answered_order) > 100_000:
            self.answered.pop(self.answered_order.popleft(), None)

    def abandon(self, queue: collections.deque[_Part], *, in_flight: bool = True) -> None:
        """The link dropped (under the lock): a message none of whose parts left never
        left; one with parts out and unanswered is unknown. Without `in_flight`, the
        submits in flight are left to their answers."""
        waiting = [part.handing for part in queue]
        waiting += [part.handing for part in self.retry]
        if in_flight:
            waiting += [state for _part, state, _at in self.in_flight.values()]
        for state in waiting:
            if state.state is None:
                if state.sent == 0:
                    self.decide(state, "unsent")
                else:
                    state.error = (
                        "no answer: the link dropped"
                        if in_flight
                        else "the link was closed before all its parts left"
                    )
                    self.decide(state, UNKNOWN)
        queue.clear()
        self.retry.clear()
        if in_flight:
            self.in_flight.clear()

    def expire_answers(self) -> None:
        """A submit unanswered for ANSWER_SECONDS: its link is renewed."""
        now = time.monotonic()
        with self.lock:
            late = any(now - at > ANSWER_SECONDS for _p, _s, at in self.in_flight.values())
        if late:
            self.error = f"the SMSC did not answer a submit within {ANSWER_SECONDS:.0f} s"
            self.lost.set()

    def messages_in_flight(self) -> int:
        """Messages with a submit sent and not answered (a long one has several)."""
        with self.lock:
            return len({id(state) for _part, state, _at in self.in_flight.values()})

    def give_up_in_flight(self) -> None:
        """The sessions are closed: what was in flight is unknown."""
        with self.lock:
            self.abandon(collections.deque())
            self.lock.notify_all()

    def record(self, states: list[_Handing]) -> set[str]:
        """Writes the answers down; reports rejected and unknown messages, and receipts
        that came before their submit's answer. Returns the messages that left."""
        now = datetime.now(UTC)
        unsent = [s.message.id for s in states if s.state == "unsent"]
        answers = [
            Answer(s.message.id, s.state or UNKNOWN, s.carrier_id, s.error)
            for s in states
            if s.state != "unsent"
        ]
        self.carrier_log.not_submitted(unsent)
        matched = self.carrier_log.answered(self.stream, answers, now)
        outcomes = [Receipt(a.message_id, a.state, now) for a in answers if a.state != "accepted"]
        self.apply(outcomes + [Receipt(m.message_id, m.status, m.at) for m in matched])
        return {a.message_id for a in answers}

    def apply(self, receipts: list[Receipt]) -> None:
        if receipts:
            self.reports.on_receipts(receipts)

    # Receipts and replies.

    def take_delivers(self, session: _Session, pdus: list[Any]) -> None:
        """Records the receipts (together) and the replies (one by one) of these
        deliver_sm, then answers each: ok once recorded, a temporary error when recording
        failed, so that the SMSC sends it again."""
        receipts: list[tuple[Any, CarrierReceipt]] = []
        statuses: dict[int, int] = {}
        for pdu in pdus:
            receipt = parse_receipt(pdu)
            if receipt is not None:
                receipts.append((pdu, receipt))
            else:
                statuses[id(pdu)] = self.take_reply(pdu)
        if receipts:
            status = self.take_receipts([receipt for _pdu, receipt in receipts])
            statuses.update({id(pdu): status for pdu, _receipt in receipts})
        for pdu in pdus:
            self.send(session, "deliver_sm_resp", answering=pdu.sequence, status=statuses[id(pdu)])

    def take_receipts(self, receipts: list[CarrierReceipt]) -> int:
        try:
            with self.lock:
                known = {
                    form: self.answered[form]
                    for r in receipts
                    for form in id_forms(r.carrier_id)
                    if form in self.answered
                }
            matched: list[MatchedReceipt] = self.carrier_log.match(self.stream, receipts, known)
            self.apply([Receipt(m.message_id, m.status, m.at) for m in matched])
        except Exception:
            log.exception(
                "stream %s: could not record %d receipts; the SMSC sends them again",
                self.stream,
                len(receipts),
            )
            return RX_T_APPN
        self.last_receipt_at = datetime.now(UTC).isoformat()
        return ROK

    def take_reply(self, pdu: Any) -> int:
        """A mobile-originated message, recorded as a reply (a STOP word opts out)."""
        text = decode_text(
            bytes(pdu.short_message or pdu.message_payload or b""),
            int(pdu.data_coding or 0),
            bool((pdu.esm_class or 0) & 0x40),
        )
        phone = phone_of(_text(pdu.source_addr), int(pdu.source_addr_ton or 0))
        try:
            self.reports.on_replies([(phone, text, datetime.now(UTC))])
        except Exception:
            log.exception(
                "stream %s: could not record a reply; the SMSC sends it again", self.stream
            )
            return RX_T_APPN
        return ROK

    # State.

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.since = datetime.now(UTC)
        self.state = state
        self.report_state(state)

    def recent_rate(self) -> float:
        """Messages the carrier took per second over the last 5 seconds."""
        now = time.monotonic()
        with self.lock:
            while self.accepted_at and now - self.accepted_at[0] > 5.0:
                self.accepted_at.popleft()
            return len(self.accepted_at) / 5.0

    def report_state(self, state: str) -> None:
        now = time.monotonic()
        with self.lock:
            while self.accepted_at and now - self.accepted_at[0] > 5.0:
                self.accepted_at.popleft()
            per_second = len(self.accepted_at) / 5.0
            in_flight = len(self.in_flight)
        try:
            self.carrier_log.report_link(
                LinkState(
                    self.stream,
                    self.process,
                    state,
                    self.error if state != "bound" else None,
                    in_flight,
                    self.window,
                    per_second,
                    self.last_receipt_at,
                    self.since.isoformat(),
                    datetime.now(UTC).isoformat(),
                )
            )
        except Exception:  # the state shown is a view; sending goes on
            log.debug("stream %s: could not write its link state", self.stream, exc_info=True)


def describe(error: BaseException) -> str:
    """An error of the link in words, with the SMSC's status name for refusals."""
    if isinstance(error, smpplib.exceptions.PDUError) and len(error.args) > 1:
        return f"bind refused: {status_name(int(error.args[1]))}"
    if isinstance(error, smpplib.exceptions.ConnectionError):
        return f"connection failed: {error.args[0] if error.args else 'refused or closed'}"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
