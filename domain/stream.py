"""Sending streams (F17): routes with a rate limit and a carrier adapter."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from domain.audited import Audited, id_for_name
from domain.fields import Invalid, expect_object, is_non_bool_int, is_number

OUTCOMES = ("delivered", "undelivered", "failed", "no_route", "rejected")
CARRIERS = ("demo",)  # the carrier adapters a stream can be on
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
        changes: dict[str, Any]

        def apply_to(self, stream: Stream) -> None:
            stream.rate = self.changes.get("rate", stream.rate)
            stream.enabled = self.changes.get("enabled", stream.enabled)
            stream.options = {**stream.options, **self.changes.get("options", {})}

    def __init__(self, name: str, carrier: str, rate: int, options: dict[str, Any]) -> None:
        self.name = name
        self.carrier = carrier
        self.rate = rate
        self.options = dict(options)
        self.enabled = True

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
        effective = {k: v for k, v in changes.items() if k != "options" and getattr(self, k) != v}
        if options:
            effective["options"] = options
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
    if not isinstance(value, str) or not STREAM_NAME.match(value):
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
