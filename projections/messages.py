"""Event messages: what projections consume, whatever feeds them (the log or Kafka).

A message is the stored event in a stable, versioned, public shape: the same one that
`GET /api/events` streams as NDJSON.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.fields import format_time

MESSAGE_VERSION = 1
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


@dataclass(frozen=True)
class EventMessage:
    position: int
    aggregate_id: str
    version: int
    type: str
    at: datetime
    data: dict[str, Any]

    @property
    def aggregate(self) -> str:
        """The kind of aggregate: `Campaign` for `Campaign.Paused`."""
        return self.type.partition(".")[0]

    @property
    def name(self) -> str:
        """The event's own name: `Paused` for `Campaign.Paused`."""
        return self.type.rpartition(".")[2]

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "at": format_time(self.at),
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "type": self.type,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> EventMessage:
        return cls(
            position=int(value["position"]),
            aggregate_id=str(value["aggregate_id"]),
            version=int(value["version"]),
            type=str(value["type"]),
            at=datetime.fromisoformat(str(value["at"]).replace("Z", "+00:00")),
            data=dict(value["data"]),
        )


def plain(value: Any) -> Any:
    """Event attribute values as JSON types."""
    if isinstance(value, datetime):
        return format_time(value.astimezone(UTC))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def message_from_event(position: int, event: Any) -> EventMessage:
    """Builds the message of a domain event recorded at `position` in the store."""
    data = {
        field.name: plain(getattr(event, field.name))
        for field in dataclasses.fields(event)
        if field.name not in _ENVELOPE
    }
    return EventMessage(
        position=position,
        aggregate_id=str(event.originator_id),
        version=event.originator_version,
        type=type(event).__qualname__,
        at=event.timestamp,
        data=data,
    )


# Decoding stored state straight into messages, for replays: the store's JSON with its
# transcoded values ({"_type_": ..., "_data_": ...}) turned into the message's JSON types in
# one pass, without building the domain event first.
def _time_text(data: str) -> str:
    """A stored time as `format_time` writes it. The library stores UTC times with their
    microseconds as `...T12:34:56.123456+00:00`: that only needs its offset turned into `Z`."""
    if len(data) == 32 and data[19] == "." and data.endswith("+00:00"):
        return data[:26] + "Z"
    return format_time(datetime.fromisoformat(data).astimezone(UTC))


_TRANSCODED: dict[str, Any] = {
    "uuid_hex": lambda data: str(uuid.UUID(data)),
    "datetime_iso": _time_text,
    "decimal_str": lambda data: str(Decimal(data)),
}


def _from_transcoded(value: dict[str, Any]) -> Any:
    """The decoder's hook, called for each JSON object as it is parsed, innermost first: a
    transcoded value becomes its message type in the same pass, with no walk of the whole
    state afterwards."""
    if len(value) == 2 and "_type_" in value and "_data_" in value:
        return _TRANSCODED[value["_type_"]](value["_data_"])
    return value


_STATE_DECODER = json.JSONDecoder(object_hook=_from_transcoded)


def message_from_state(
    position: int, topic: str, aggregate_id: Any, version: int, state: bytes
) -> EventMessage:
    """The message of an event stored as JSON state under `topic` (`module:Class.Event`);
    the same as `message_from_event` of the decoded event, for events without upcasting."""
    raw = _STATE_DECODER.decode(state.decode())
    at = datetime.fromisoformat(raw["timestamp"])  # already as format_time writes it: UTC
    data = {key: item for key, item in raw.items() if key not in _ENVELOPE}
    return EventMessage(
        position=position,
        aggregate_id=str(aggregate_id),
        version=version,
        type=topic.partition(":")[2],
        at=at,
        data=data,
    )


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    # One encoder for every call: json.dumps with options builds a new one each time.
    return _ENCODER.encode(value)
