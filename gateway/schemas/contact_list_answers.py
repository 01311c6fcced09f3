"""Answer bodies about contact lists: a list, and what an import found."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from domain.contact_import import _COLUMN_NAME
from domain.contact_list import DUPLICATE, MAX_REPORTED
from gateway.schemas.answers import Answer, Count, Id, Time

Column = Annotated[str, Meta(pattern=f"^{_COLUMN_NAME.pattern}$")]
Accepted = Annotated[
    int, Meta(ge=1, description="Contacts in the list: distinct numbers in E.164.")
]
Duplicates = Annotated[Count, Meta(description="Lines that repeated an earlier line's number.")]
RejectedTotal = Annotated[Count, Meta(description="Every rejected line, duplicates included.")]
Columns = Annotated[
    list[Column],
    Meta(
        description="The placeholder names its contacts carry besides the phone (`{first_name}`)."
    ),
]


class RejectedLine(Answer, kw_only=True):
    """A line of the file that made no contact, and why."""

    line: Annotated[int, Meta(ge=2, description="The line of the file, from 1 (the header's).")]
    value: Annotated[
        str, Meta(description="The phone as written (empty when the line could not be read).")
    ]
    reason: Annotated[str, Meta(examples=["phone: not a phone number", DUPLICATE])]


class ContactListImport(Answer, kw_only=True):
    """What the import found."""

    id: Id
    name: str
    accepted: Accepted
    duplicates: Duplicates
    rejected: Annotated[
        list[RejectedLine],
        Meta(
            max_length=MAX_REPORTED,
            description=f"The first {MAX_REPORTED} rejected lines by line number, duplicates "
            f"(reason `{DUPLICATE}`) included.",
        ),
    ]
    rejected_total: RejectedTotal
    columns: Columns


class ContactList(Answer, kw_only=True):
    """A contact list."""

    id: Id
    version: Annotated[int, Meta(ge=1)]
    name: str
    accepted: Accepted
    duplicates: Duplicates
    rejected_total: RejectedTotal
    columns: Columns
    created_at: Time


class ContactListList(Answer, kw_only=True):
    """Every contact list, newest first."""

    items: list[ContactList]


CONTACT_LIST_ANSWERS: tuple[type[Answer], ...] = (ContactListImport, ContactList, ContactListList)
