"""The base of every aggregate here: each event says who, why, and under which command id."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate

# Ids derived from names (a domain's, a stream's) live in this namespace, so that the same
# name always finds the same aggregate and adding it twice is harmless.
NAME_NAMESPACE = uuid.UUID("6f1c1f3e-2b7a-4c55-9d0e-5c4a2f6b8e21")


def id_for_name(kind: str, name: str) -> uuid.UUID:
    return uuid.uuid5(NAME_NAMESPACE, f"{kind}:{name}")


class Audited(Aggregate):
    """Remembers the command ids it has applied, so that a retried command applies once."""

    class Event(Aggregate.Event):
        actor: str
        reason: str
        command_id: str | None

        def apply(self, aggregate: Any) -> None:
            if self.command_id:
                ids = aggregate.__dict__.setdefault("command_ids", {})
                ids[self.command_id] = self.originator_version
            self.apply_to(aggregate)

        def apply_to(self, aggregate: Any) -> None:
            """Changes the aggregate's state; subclasses say how."""

    class Created(Event, Aggregate.Created):
        pass

    def version_of_command(self, command_id: str | None) -> int | None:
        """The version a command id produced, if this aggregate has applied it."""
        ids: dict[str, int] = self.__dict__.get("command_ids", {})
        return ids.get(command_id) if command_id else None
