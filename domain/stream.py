"""Sending streams (F17): routes with a rate limit and a carrier adapter, and the carriers'
settings: which each takes, their defaults, and which are secrets (never in events)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.audited import Audited, id_for_name
from domain.fields import Invalid, expect_object, is_non_bool_int, is_number

OUTCOMES = ("delivered", "undelivered", "failed", "no_route", "rejected")  # a carrier's answers
# A message handed to a carrier whose answer never came (the link dropped after the submit
# left): it may or may not have been sent, and it is never submitted again.
UNKNOWN = "unknown"
FAILURES = OUTCOMES[1:]  # the outcomes that are not a delivery
MESSAGE_OUTCOMES = (*OUTCOMES, UNKNOWN)
CARRIERS = ("demo", "smpp", "http")  # the carrier adapters a stream can be on
BIND_MODES = ("transceiver", "transmitter_receiver")
LONG_MESSAGES = ("udh", "payload")
STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

DEMO_CARRIER_DEFAULTS: dict[str, Any] = {
    "seed": 1,
    "click_rate": 0.08,
    "optout_rate": 0.01,
    "reply_rate": 0.02,
    "outcomes": {
        "delivered": 0.9,
        "undelivered": 0.04,
        "failed": 0.03,
        "no_route": 0.02,
        "rejected": 0.01,
    },
}


class Stream(Audited):
    class Event(Audited.Event):
        pass

    class Registered(Event, Audited.Created):
        name: str
        carrier: str
        rate: int
        options: dict[str, Any]

    class Changed(Event):
        """`changes` holds `rate`, `enabled`, `options` (the carrier's settings that are
        not secret) and `secrets`: the names of the secrets set, never their values."""

        changes: dict[str, Any]

        def apply_to(self, stream: Stream) -> None:
            stream.rate = self.changes.get("rate", stream.rate)
            stream.enabled = self.changes.get("enabled", stream.enabled)
            stream.options = {**stream.options, **self.changes.get("options", {})}
            stream.secrets = sorted({*stream.secrets, *self.changes.get("secrets", [])})
            if "options" in self.changes or "secrets" in self.changes:
                stream.settings_version = self.originator_version

    def __init__(self, name: str, carrier: str, rate: int, options: dict[str, Any]) -> None:
        self.name = name
        self.carrier = carrier
        self.rate = rate
        self.options = dict(options)
        self.enabled = True
        self.secrets: list[str] = []  # the names of the secrets set (kept by the sending tier)
        self.settings_version = 1  # the version that last changed its settings or secrets

    @classmethod
    def register(
        cls,
        name: str,
        carrier: str,
        rate: int,
        options: dict[str, Any],
        *,
        actor: str,
        command_id: str | None = None,
    ) -> Stream:
        return cls._create(
            cls.Registered,
            id=id_for_name("stream", name),
            name=name,
            carrier=carrier,
            rate=rate,
            options=options,
            actor=actor,
            reason="registered",
            command_id=command_id,
        )

    def change(
        self,
        changes: dict[str, Any],
        *,
        actor: str,
        reason: str = "",
        command_id: str | None = None,
    ) -> None:
        options = {k: v for k, v in changes.get("options", {}).items() if self.options.get(k) != v}
        effective = {
            k: v
            for k, v in changes.items()
            if k not in ("options", "secrets") and getattr(self, k) != v
        }
        if options:
            effective["options"] = options
        if changes.get("secrets"):  # a secret given is a change, even to the same value
            effective["secrets"] = sorted(changes["secrets"])
        if effective:
            self.trigger_event(
                self.Changed,
                changes=effective,
                actor=actor,
                reason=reason or "changed",
                command_id=command_id,
            )


class StreamOwnership(Audited):
    """Which sending process owns a stream: one event per change of owner, saved by the new
    owner under its new fencing epoch (which only grows), saying from whom and why."""

    class Event(Audited.Event):
        pass

    class Opened(Event, Audited.Created):
        stream: str

    class OwnerChanged(Event):
        owner: str
        previous_owner: str | None
        epoch: int

        def apply_to(self, ownership: StreamOwnership) -> None:
            ownership.owner = self.owner
            ownership.epoch = self.epoch

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.owner: str | None = None
        self.epoch = 0

    @staticmethod
    def id_for(stream: str) -> Any:
        return id_for_name("stream-owner", stream)

    @classmethod
    def open(cls, stream: str) -> StreamOwnership:
        return cls._create(
            cls.Opened,
            id=cls.id_for(stream),
            stream=stream,
            actor="system",
            reason="first owner",
            command_id=None,
        )

    def change_owner(self, owner: str, previous_owner: str | None, epoch: int, reason: str) -> None:
        self.trigger_event(
            self.OwnerChanged,
            owner=owner,
            previous_owner=previous_owner,
            epoch=epoch,
            actor=owner,
            reason=reason,
            command_id=None,
        )


def parse_stream_name(value: Any) -> str:
    # The length first, and the whole text: `match` lets `$` pass before a final line break.
    if not isinstance(value, str) or len(value) > 63 or not STREAM_NAME.fullmatch(value):
        raise Invalid(
            "must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter "
            "or digit"
        )
    return value


def parse_carrier(value: Any) -> str:
    if value not in CARRIERS:
        raise Invalid(f"must be one of: {', '.join(CARRIERS)}")
    return str(value)


def parse_rate(value: Any) -> int:
    if not is_non_bool_int(value) or not 0 <= value <= 1_000_000:
        raise Invalid("must be a whole number of messages per second, 0 for unlimited")
    return int(value)


def parse_share(value: Any) -> float:
    if not is_number(value) or not 0 <= value <= 1:
        raise Invalid("must be a share from 0 to 1")
    return float(value)


def parse_seed(value: Any) -> int:
    if not is_non_bool_int(value):
        raise Invalid("must be a whole number")
    return int(value)


def parse_outcomes(value: Any) -> dict[str, float]:
    shares = expect_object(value, OUTCOMES)
    parsed = {key: parse_share(shares.get(key, 0)) for key in OUTCOMES}
    if abs(sum(parsed.values()) - 1) > 1e-9:
        raise Invalid(f"the shares of {', '.join(OUTCOMES)} must sum to 1")
    return parsed


def parse_enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


# The demo carrier's options, each with its parser.
DEMO_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "seed": parse_seed,
    "click_rate": parse_share,
    "optout_rate": parse_share,
    "reply_rate": parse_share,
    "outcomes": parse_outcomes,
}


def parse_demo_settings(value: Any) -> dict[str, Any]:
    options = expect_object(value, tuple(DEMO_OPTIONS))
    parsed = {}
    for key, raw in options.items():
        try:
            parsed[key] = DEMO_OPTIONS[key](raw)
        except Invalid as error:
            raise Invalid(f"{key} {error}") from None
    return parsed


def parse_text(limit: int, *, empty: bool = True) -> Callable[[Any], str]:
    """A printable ASCII string of at most `limit` characters (SMPP's C-octet strings)."""

    def parse(value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise Invalid(f"must be a string of at most {limit} characters")
        if not value.isascii() or not value.isprintable() or (not empty and not value):
            raise Invalid(
                f"must be 1 to {limit} printable ASCII characters"
                if not empty
                else f"must be printable ASCII, at most {limit} characters"
            )
        return value

    return parse


def parse_host(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 253
        or not HOST_PATTERN.fullmatch(value)
    ):
        raise Invalid("must be a host name or an IP address")
    return value


def parse_port(value: Any) -> int:
    if not is_non_bool_int(value) or not 1 <= value <= 65535:
        raise Invalid("must be a port number from 1 to 65535")
    return int(value)


def parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise Invalid(f"must be one of: {', '.join(choices)}")
        return str(value)

    return parse


def parse_whole(low: int, high: int, what: str = "a whole number") -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if not is_non_bool_int(value) or not low <= value <= high:
            raise Invalid(f"must be {what} from {low} to {high}")
        return int(value)

    return parse


def parse_seconds(value: Any) -> float:
    if not is_number(value) or not 0.1 <= value <= 120:
        raise Invalid("must be a number of seconds from 0.1 to 120")
    return float(value)


def parse_endpoint(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000 or not ENDPOINT_PATTERN.fullmatch(value):
        raise Invalid(
            "must be an http:// or https:// address, at most 2000 characters, without a user "
            "name or password (the carrier's token goes in `token`)"
        )
    return value


HOST_PATTERN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
# No user name or password before the host: settings are kept in events and shown.
ENDPOINT_PATTERN = re.compile(r"https?://[^\s/?#@]+(:\d{1,5})?([/?#]\S*)?")


@dataclass(frozen=True)
class Setting:
    """One setting of a carrier: its parser, its default (None: required), and whether it
    is a secret (kept apart by the sending tier, write-only through the API)."""

    parse: Callable[[Any], Any]
    default: Any = None
    secret: bool = False


# Each carrier's settings. The demo carrier's are its options (DEMO_OPTIONS).
CARRIER_SETTINGS: dict[str, dict[str, Setting]] = {
    "demo": {
        key: Setting(parse, DEMO_CARRIER_DEFAULTS[key]) for key, parse in DEMO_OPTIONS.items()
    },
    "smpp": {
        "host": Setting(parse_host),
        "port": Setting(parse_port, 2775),
        "system_id": Setting(parse_text(15, empty=False)),
        "password": Setting(parse_text(8), "", secret=True),
        "system_type": Setting(parse_text(12), ""),
        "bind": Setting(parse_choice(BIND_MODES), "transceiver"),
        "window": Setting(parse_whole(1, 1000), 10),
        "source_ton": Setting(parse_whole(0, 6), 5),
        "source_npi": Setting(parse_whole(0, 18), 0),
        "long_messages": Setting(parse_choice(LONG_MESSAGES), "udh"),
        "tls": Setting(parse_enabled, False),
    },
    "http": {
        "url": Setting(parse_endpoint),
        "token": Setting(parse_text(500), "", secret=True),
        "signing_secret": Setting(parse_text(500, empty=False), secret=True),
        "window": Setting(parse_whole(1, 100), 4),
        "timeout": Setting(parse_seconds, 10.0),
    },
}


@dataclass(frozen=True)
class StreamSettings:
    """A carrier's settings as given: those kept in events (`options`) and the secrets."""

    options: dict[str, Any]
    secrets: dict[str, str]


def parse_stream_settings(carrier: str, value: Any, *, creating: bool) -> StreamSettings:
    """Parses a carrier's settings; on creation the defaults fill the rest and a required
    setting missing is refused. Every problem is named."""
    table = CARRIER_SETTINGS[carrier]
    given = expect_object(value, tuple(table))
    options: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    problems = []
    for key, setting in table.items():
        if key not in given:
            if creating and setting.default is None:
                problems.append(f"{key} is required")
            elif creating and not setting.secret:
                options[key] = setting.default
            continue
        try:
            parsed = setting.parse(given[key])
        except Invalid as error:
            problems.append(f"{key} {error}")
            continue
        if setting.secret:
            secrets[key] = parsed
        else:
            options[key] = parsed
    if problems:
        raise Invalid("; ".join(problems))
    return StreamSettings(options, secrets)


# What an SMPP delivery receipt's `stat:` says, as the platform's message statuses.
SMPP_RECEIPT_STATES = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "EXPIRED": "undelivered",
    "DELETED": "failed",
    "UNKNOWN": "failed",
    "REJECTD": "rejected",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
}
# The SMPP command statuses that mean "not taken, try again later".
SMPP_RETRY_LATER = {0x58: "ESME_RTHROTTLED", 0x14: "ESME_RMSGQFUL"}


def receipt_signature(secret: str, body: bytes) -> str:
    """How an HTTP carrier signs the receipts it posts: `sha256=` and the hex HMAC-SHA256
    of the raw body, keyed by the stream's signing secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(receipt_signature(secret, body), given.strip())
