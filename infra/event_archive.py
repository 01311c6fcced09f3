"""The stored event history exported as NDJSON or CSV, and an NDJSON export imported (F15).

An export is the stream `GET /api/events` serves: one event message a line, in store order,
read page by page so that memory stays flat however long the history is. An import writes
those events into an empty store as they were: the same aggregate ids, versions, times and
order (the store numbers them afresh, so positions may close gaps the original had).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.application import CampaignPlatform
from domain.audited import Audited
from domain.campaign import Campaign
from domain.catalogue import Catalogue
from domain.contact_list import ContactList
from domain.dispatch import DispatchLog
from domain.link_domain import LinkDomain
from domain.pool import DomainPool
from domain.settings import PlatformSettings
from domain.stream import Stream, StreamOwnership
from projections.messages import EventMessage, dumps

PAGE = 1000
IMPORT_BATCH = 500
CSV_COLUMNS = ("position", "at", "aggregate_id", "version", "type", "data")
AGGREGATES: tuple[type[Audited], ...] = (
    Campaign,
    Catalogue,
    ContactList,
    DispatchLog,
    DomainPool,
    LinkDomain,
    PlatformSettings,
    Stream,
    StreamOwnership,
)
ReadEvents = Callable[[int, int], list[EventMessage]]


class ImportRefused(Exception):
    """The store is not empty, or a line of the file is not an event this platform knows."""


# Export.


def stored_messages(read_events: ReadEvents, after: int = 0) -> Iterator[EventMessage]:
    """Every stored event after a position, in order, a page at a time."""
    position = after
    while messages := read_events(position, PAGE):
        yield from messages
        position = messages[-1].position


def ndjson_lines(messages: Iterable[EventMessage]) -> Iterator[str]:
    for message in messages:
        yield dumps(message.to_json()) + "\n"


def csv_lines(messages: Iterable[EventMessage]) -> Iterator[str]:
    """A header, then a line per event; `data` is the event's JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for message in messages:
        buffer.seek(0)
        buffer.truncate()
        row = message.to_json()
        writer.writerow([*(row[c] for c in CSV_COLUMNS[:-1]), dumps(row["data"])])
        yield buffer.getvalue()


# Import.


def event_classes() -> dict[str, tuple[type[Any], type[Audited]]]:
    """Each event type as messages name it (`Campaign.Paused`), with its aggregate."""
    found: dict[str, tuple[type[Any], type[Audited]]] = {}
    for aggregate in AGGREGATES:
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                found[value.__qualname__] = (value, aggregate)
    return found


class EventRebuilder:
    """Turns a message back into the domain event it was exported from."""

    def __init__(self) -> None:
        self.classes = event_classes()

    def event(self, message: EventMessage) -> Any:
        known = self.classes.get(message.type)
        if known is None:
            raise ImportRefused(f"unknown event type {message.type!r}")
        cls, aggregate = known
        envelope: dict[str, Any] = {
            "originator_id": uuid.UUID(message.aggregate_id),
            "originator_version": message.version,
            "timestamp": message.at,
        }
        if issubclass(cls, Aggregate.Created):
            envelope["originator_topic"] = get_topic(aggregate)
        try:
            return cls(**envelope, **message.data)
        except TypeError as error:
            raise ImportRefused(f"{message.type}: {error}") from None


def parse_line(line: str, number: int) -> EventMessage:
    try:
        return EventMessage.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError) as error:
        raise ImportRefused(f"line {number}: not an exported event ({error})") from None


def exported_messages(lines: Iterable[str]) -> Iterator[EventMessage]:
    """The messages of an NDJSON export, checked to be in store order."""
    last = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        message = parse_line(line, number)
        if message.position <= last:
            raise ImportRefused(
                f"line {number}: position {message.position} after {last}; an export is in "
                "store order"
            )
        last = message.position
        yield message


def check_empty(app: CampaignPlatform) -> None:
    held = app.recorder.max_notification_id() or 0
    if held:
        raise ImportRefused(
            f"the store already holds {held:,} events; import only into an empty store "
            "(a new --data-dir, or a new CAMPAIGNS_DATABASE_SCHEMA)"
        )


def import_events(
    app: CampaignPlatform,
    lines: Iterable[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Writes an NDJSON export into the empty store, in order, a batch per transaction;
    returns how many events were written."""
    check_empty(app)
    rebuilder = EventRebuilder()
    batch: list[StoredEvent] = []
    written = 0
    for message in exported_messages(lines):
        batch.append(app.mapper.to_stored_event(rebuilder.event(message)))
        if len(batch) >= IMPORT_BATCH:
            written += write(app, batch)
            batch = []
            if progress:
                progress(written)
    written += write(app, batch)
    if progress:
        progress(written)
    return written


def write(app: CampaignPlatform, batch: list[StoredEvent]) -> int:
    if batch:
        app.recorder.insert_events(batch)
    return len(batch)
