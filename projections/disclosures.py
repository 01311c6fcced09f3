"""The disclosures of personal data: who was shown recipients' full numbers, links or contact
columns, when, from which address, and what (a campaign's message log page, its Summary's
sample).

The gateway writes a row before it answers such a read, in the read models' database: an
append-only log kept beside the events, never an event itself (a read changes no campaign,
so it takes no campaign version). Rebuilds and verifications of the event-fed read models
leave it alone; the audit trail shows it beside a campaign's events.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from domain.fields import format_time
from projections.audit_trail import csv_cell
from projections.database import Cursor, Database

# What a disclosure showed.
MESSAGES = "messages"  # a page of the message log: numbers and links
ESTIMATE = "estimate"  # the Summary's sample: one contact's columns
RESOURCES = (MESSAGES, ESTIMATE)
CSV_PAGE = 1000  # rows read at a time for a CSV

TABLE = """
CREATE TABLE IF NOT EXISTS disclosures (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    address TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    page INTEGER,
    per_page INTEGER,
    row_count INTEGER NOT NULL
)"""
INDEX = "CREATE INDEX IF NOT EXISTS disclosures_campaign ON disclosures (campaign_id, at, id)"


@dataclass(frozen=True)
class Disclosure:
    """One answer that carried personal data: `row_count` rows of `resource` (with `page`
    and `per_page` for the message log) of a campaign, to `actor` (the token's actor, as
    events name it) with `role`, from `address`."""

    id: str
    at: str
    actor: str
    role: str
    address: str
    campaign_id: str
    resource: str
    page: int | None
    per_page: int | None
    row_count: int

    @classmethod
    def of(
        cls,
        at: datetime,
        actor: str,
        role: str,
        address: str,
        campaign_id: str,
        resource: str,
        row_count: int,
        page: int | None = None,
        per_page: int | None = None,
    ) -> Disclosure:
        return cls(
            str(uuid.uuid4()),
            format_time(at),
            actor,
            role,
            address,
            campaign_id,
            resource,
            page,
            per_page,
            row_count,
        )

    @property
    def what(self) -> str:
        """What it showed, in words."""
        if self.resource == MESSAGES:
            return (
                f"message log page {self.page} ({self.per_page} a page): "
                f"{self.row_count} numbers with their links"
            )
        if self.resource == ESTIMATE:
            return "the Summary's sample: a contact's columns"
        return f"{self.resource}: {self.row_count} rows"

    def to_json(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)} | {
            "what": self.what
        }


COLUMNS = tuple(field.name for field in fields(Disclosure))
CSV_COLUMNS = (*COLUMNS, "what")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM disclosures"


@dataclass(frozen=True)
class DisclosureFilter:
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, campaign_id: str) -> tuple[str, list[Any]]:
        clauses, params = ["campaign_id = ?"], [campaign_id]
        if self.actor:
            clauses.append("actor = ?")
            params.append(self.actor)
        if self.since is not None:
            clauses.append("at >= ?")
            params.append(format_time(self.since))
        if self.until is not None:
            clauses.append("at <= ?")
            params.append(format_time(self.until))
        return " WHERE " + " AND ".join(clauses), params


def disclosure_of(row: tuple[Any, ...]) -> Disclosure:
    found = dict(zip(COLUMNS, row, strict=True))
    for name in ("page", "per_page"):
        found[name] = None if found[name] is None else int(found[name])
    found["row_count"] = int(found["row_count"])
    return Disclosure(**found)


class DisclosureLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(TABLE)
            cursor.execute(INDEX)

    def add(self, disclosure: Disclosure) -> None:
        with self.database.transaction() as cursor:
            write(cursor, disclosure)

    def page(
        self, campaign_id: str, filters: DisclosureFilter, page: int, per_page: int
    ) -> tuple[list[Disclosure], int]:
        """A page of the campaign's disclosures, newest first, and how many match."""
        where, params = filters.where(campaign_id)
        with self.database.snapshot() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM disclosures{where}", params)
            row = cursor.fetchone()
            cursor.execute(
                f"{SELECT}{where} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?",
                (*params, per_page, (page - 1) * per_page),
            )
            rows = cursor.fetchall()
        return [disclosure_of(r) for r in rows], int(row[0]) if row else 0

    def every(self, campaign_id: str, filters: DisclosureFilter) -> Iterator[Disclosure]:
        """Every matching disclosure, newest first, read CSV_PAGE rows at a time."""
        where, params = filters.where(campaign_id)
        after: tuple[str, str] | None = None
        while True:
            keyset = " AND (at < ? OR (at = ? AND id < ?))" if after else ""
            more = [after[0], after[0], after[1]] if after else []
            with self.database.read() as cursor:
                cursor.execute(
                    f"{SELECT}{where}{keyset} ORDER BY at DESC, id DESC LIMIT ?",
                    (*params, *more, CSV_PAGE),
                )
                rows = cursor.fetchall()
            yield from (disclosure_of(r) for r in rows)
            if len(rows) < CSV_PAGE:
                return
            after = (str(rows[-1][1]), str(rows[-1][0]))


def write(cursor: Cursor, disclosure: Disclosure) -> None:
    marks = ", ".join("?" for _ in COLUMNS)
    cursor.execute(
        f"INSERT INTO disclosures ({', '.join(COLUMNS)}) VALUES ({marks})", astuple(disclosure)
    )


def csv_lines(disclosures: Iterable[Disclosure]) -> Iterator[str]:
    """The disclosures as CSV, a header first, one line at a time (for streaming). Actors
    are token names: one a spreadsheet would run as a formula starts with `'`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for disclosure in disclosures:
        buffer.seek(0)
        buffer.truncate()
        shown = disclosure.to_json()
        writer.writerow([csv_cell(shown[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()
