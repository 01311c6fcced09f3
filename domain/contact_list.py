"""Contact lists (F16): an uploaded CSV of phone numbers whose other columns are placeholders.

The contacts themselves live in the contact store, not in events: a list of two million numbers
is one `Imported` event that says what the import found, stored once its rows are committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from domain.audited import Audited

MAX_REPORTED = 1000  # rejected lines listed in a result; the rest are only counted
DUPLICATE = "duplicate of an earlier line"
CATALOGUE = "contact_lists"


class ContactList(Audited):
    class Event(Audited.Event):
        pass

    class Imported(Event, Audited.Created):
        """The list's contacts were imported: `accepted` rows, `duplicates` lines that repeated
        an earlier number, `rejected` lines refused for another reason; `columns` are the
        placeholder names its contacts carry besides the phone."""

        name: str
        accepted: int
        duplicates: int
        rejected: int
        columns: list[str]

    def __init__(
        self, name: str, accepted: int, duplicates: int, rejected: int, columns: list[str]
    ) -> None:
        self.name = name
        self.accepted = accepted
        self.duplicates = duplicates
        self.rejected = rejected
        self.columns = list(columns)

    @classmethod
    def create(
        cls,
        name: str,
        *,
        accepted: int,
        duplicates: int,
        rejected: int,
        columns: list[str],
        actor: str,
        command_id: str | None = None,
        list_id: uuid.UUID | None = None,
    ) -> ContactList:
        return cls._create(
            cls.Imported,
            id=list_id or uuid.uuid4(),
            name=name,
            accepted=accepted,
            duplicates=duplicates,
            rejected=rejected,
            columns=list(columns),
            actor=actor,
            reason="imported",
            command_id=command_id,
        )


@dataclass(frozen=True)
class ImportResult:
    list_id: uuid.UUID
    name: str
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]  # the first MAX_REPORTED rejected lines, by line number
    rejected_total: int  # every rejected line, duplicates included
    columns: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.list_id),
            "name": self.name,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_total": self.rejected_total,
            "columns": self.columns,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ImportResult:
        return cls(
            list_id=uuid.UUID(value["id"]),
            name=value["name"],
            accepted=value["accepted"],
            duplicates=value["duplicates"],
            rejected=value["rejected"],
            rejected_total=value["rejected_total"],
            columns=value["columns"],
        )
