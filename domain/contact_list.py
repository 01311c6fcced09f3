"""Contact lists (F16): an uploaded CSV of phone numbers whose other columns are placeholders.

The contacts themselves live in the contact store, not in events: a list of two million numbers
is one `Imported` event that says what the import found, stored once its rows are committed.
"""

from __future__ import annotations

import uuid

from domain.audited import Audited


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
