"""The contact store (F16): the contacts of every list, imported whole or not at all.

An upload is read line by line from its file and written in batches inside ONE transaction
of the read-side database, so a failure anywhere (a bad header, the disk, the database)
leaves no row. Only once the rows are committed is the list's `ContactList.Imported` event
saved: the list exists for the rest of the platform from that event on, and when saving it
fails the rows are deleted again.

Duplicates are found with bounded memory: each batch is checked against itself and against
the rows this import has already written (`phone IN (...)` on the primary key).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TextIO

from domain.application import CampaignPlatform, derived_id
from domain.contact_import import Contact, ContactFile, Rejection
from domain.contact_list import CATALOGUE, DUPLICATE, MAX_REPORTED, ContactList, ImportResult
from domain.errors import ValidationFailed, VersionConflict
from infra.settings import Settings
from projections.database import Cursor, Database, SQLiteCursor, SQLiteDatabase

log = logging.getLogger(__name__)

BATCH = 5000  # contacts written per executemany
PAGE = 5000  # contacts read per query when streaming an audience
SETTLE_SECONDS = 10.0  # how long a repeated command waits for the first import's event


def contacts_table(dialect: str) -> str:
    # A binary collation on PostgreSQL, so that it orders phones as SQLite and Python do:
    # `audience` merges lists that each come sorted from the database.
    collate = ' COLLATE "C"' if dialect == "postgres" else ""
    without_rowid = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return f"""
    CREATE TABLE IF NOT EXISTS contacts (
        list_id TEXT NOT NULL,
        phone TEXT{collate} NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (list_id, phone)
    ){without_rowid}
    """


# One row per import, inserted first: it claims the list id (a second import under the same
# command id conflicts on it) and keeps the result that a repeated command answers with.
IMPORTS_TABLE = """
CREATE TABLE IF NOT EXISTS contact_imports (
    list_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
)
"""


@dataclass
class Tally:
    """What an import has found so far."""

    accepted: int = 0
    duplicates: int = 0
    rejected_total: int = 0
    reported: list[Rejection] = field(default_factory=list)

    def reject(self, rejections: list[Rejection]) -> None:
        """Counts rejections (of one batch: given in line order) and keeps the first ones."""
        self.rejected_total += len(rejections)
        room = MAX_REPORTED - len(self.reported)
        if room > 0:
            self.reported.extend(rejections[:room])

    def result(self, list_id: uuid.UUID, name: str, columns: list[str]) -> ImportResult:
        return ImportResult(
            list_id=list_id,
            name=name,
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=[r.to_json() for r in self.reported],
            rejected_total=self.rejected_total,
            columns=list(columns),
        )


class ImportClaimed(Exception):
    """Another import has already written the rows of this list id."""


def batches(
    lines: Iterable[Contact | Rejection], size: int
) -> Iterator[tuple[list[Contact], list[Rejection]]]:
    """Consecutive lines in groups holding at most `size` contacts and at most `size`
    rejections: a file of bad lines is read in flat memory too."""
    contacts: list[Contact] = []
    rejections: list[Rejection] = []
    for line in lines:
        if isinstance(line, Contact):
            contacts.append(line)
        else:
            rejections.append(line)
        if len(contacts) == size or len(rejections) == size:
            yield contacts, rejections
            contacts, rejections = [], []
    if contacts or rejections:
        yield contacts, rejections


def first_of_each_phone(contacts: list[Contact]) -> tuple[dict[str, Contact], list[Rejection]]:
    """The batch's first contact of each phone, and its later lines as duplicates."""
    first: dict[str, Contact] = {}
    repeated = []
    for contact in contacts:
        if contact.phone in first:
            repeated.append(Rejection(contact.line, contact.phone, DUPLICATE))
        else:
            first[contact.phone] = contact
    return first, repeated


def fields_encoder(columns: list[str]) -> Callable[[dict[str, str]], str]:
    """JSON of a contact's fields (all strings): a format with the names already encoded,
    several times faster than json.dumps on millions of rows."""
    template = "{" + ",".join(f"{encode_basestring(c)}:%s" for c in columns) + "}"

    def encode(fields: dict[str, str]) -> str:
        return template % tuple(map(encode_basestring, map(fields.__getitem__, columns)))

    return encode


def nothing_usable(result: ImportResult) -> ValidationFailed:
    """A file without a single usable contact makes no list; each line says why."""
    if result.rejected_total == 0:
        return ValidationFailed(
            "file: has no contact lines after its header",
            details=[{"field": "file", "message": "has no contact lines after its header"}],
        )
    return ValidationFailed(
        f"file: no line holds a usable contact ({result.rejected_total} rejected)",
        details=[
            {"field": f"line {r['line']}", "message": r["reason"], **r} for r in result.rejected
        ],
    )


def is_unique_violation(error: Exception) -> bool:
    if isinstance(error, sqlite3.IntegrityError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(error, psycopg.errors.UniqueViolation)


class ContactStore:
    """Contact lists' rows in a read-side database (SQLite or PostgreSQL)."""

    def __init__(
        self, database: Database, app: CampaignPlatform, *, owns_database: bool = False
    ) -> None:
        self.database = database
        self.app = app
        self.owns_database = owns_database
        # SQLite has one writer at a time and gives up on a lock after its busy timeout: imports
        # of this process wait for each other here instead, however long each one takes.
        self.writer: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if database.dialect == "sqlite" else contextlib.nullcontext()
        )

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(contacts_table(self.database.dialect))
            cursor.execute(IMPORTS_TABLE)

    def close(self) -> None:
        if self.owns_database:
            self.database.close()

    # Importing.

    def import_csv(
        self, path: Path, name: str, *, actor: str, command_id: str | None = None
    ) -> ImportResult:
        """Imports an uploaded CSV file (UTF-8, with or without a BOM) as a new list."""
        with open(path, encoding="utf-8", errors="surrogateescape") as stream:
            return self.import_stream(stream, name, actor=actor, command_id=command_id)

    def import_stream(
        self, stream: TextIO, name: str, *, actor: str, command_id: str | None = None
    ) -> ImportResult:
        list_id = derived_id("contact_list", command_id) if command_id else uuid.uuid4()
        if command_id:
            earlier = self.earlier_result(list_id)
            if earlier is not None:
                return earlier
        contacts = ContactFile.of_stream(stream)
        with self.writer:
            try:
                result = self.write_rows(list_id, name, contacts)
            except ImportClaimed:
                return self.settled_result(list_id)
            self.register(result, actor=actor, command_id=command_id)
        return result

    def write_rows(self, list_id: uuid.UUID, name: str, contacts: ContactFile) -> ImportResult:
        """Writes every usable contact in one transaction; returns what the file held."""
        tally = Tally()
        with self.database.transaction() as cursor:
            self.claim(cursor, list_id)
            for batch, rejections in batches(contacts, BATCH):
                self.write_batch(cursor, list_id, batch, rejections, tally)
            result = tally.result(list_id, name, contacts.columns)
            if result.accepted == 0:
                raise nothing_usable(result)
            cursor.execute(
                "UPDATE contact_imports SET result = ? WHERE list_id = ?",
                (json.dumps(result.to_json(), ensure_ascii=False), str(list_id)),
            )
        return result

    def claim(self, cursor: Cursor, list_id: uuid.UUID) -> None:
        try:
            cursor.execute(
                "INSERT INTO contact_imports (list_id, result) VALUES (?, ?)", (str(list_id), "")
            )
        except Exception as error:
            if is_unique_violation(error):
                raise ImportClaimed(str(list_id)) from error
            raise

    def write_batch(
        self,
        cursor: Cursor,
        list_id: uuid.UUID,
        contacts: list[Contact],
        rejections: list[Rejection],
        tally: Tally,
    ) -> None:
        first, repeated = first_of_each_phone(contacts)
        for phone in self.known_phones(cursor, list_id, list(first)):
            contact = first.pop(phone)
            repeated.append(Rejection(contact.line, phone, DUPLICATE))
        if first:
            key, encode = str(list_id), fields_encoder(list(contacts[0].fields))
            cursor.executemany(
                "INSERT INTO contacts (list_id, phone, fields) VALUES (?, ?, ?)",
                [(key, c.phone, encode(c.fields)) for c in first.values()],
            )
        tally.accepted += len(first)
        tally.duplicates += len(repeated)
        tally.reject(sorted(rejections + repeated, key=lambda r: r.line))

    def known_phones(self, cursor: Cursor, list_id: uuid.UUID, phones: list[str]) -> list[str]:
        """Which of these phones the list already has (from earlier batches)."""
        if not phones:
            return []
        marks = ", ".join("?" * len(phones))
        cursor.execute(
            f"SELECT phone FROM contacts WHERE list_id = ? AND phone IN ({marks})",
            (str(list_id), *phones),
        )
        return [row[0] for row in cursor.fetchall()]

    def register(self, result: ImportResult, *, actor: str, command_id: str | None) -> None:
        """Saves the list's event; its rows go again when that fails."""
        contact_list = ContactList.create(
            result.name,
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=result.rejected_total - result.duplicates,
            columns=result.columns,
            actor=actor,
            command_id=command_id,
            list_id=result.list_id,
        )
        try:
            self.app.save_with_catalogue(CATALOGUE, [contact_list], actor=actor)
        except BaseException:
            self.forget(result.list_id)
            raise

    def forget(self, list_id: uuid.UUID) -> None:
        try:
            with self.database.transaction() as cursor:
                cursor.execute("DELETE FROM contacts WHERE list_id = ?", (str(list_id),))
                cursor.execute("DELETE FROM contact_imports WHERE list_id = ?", (str(list_id),))
        except Exception:  # the save's failure is what the caller must hear about
            log.exception("could not delete the rows of unsaved contact list %s", list_id)

    # A repeated command id.

    def earlier_result(self, list_id: uuid.UUID) -> ImportResult | None:
        """What the import that created this list answered, once its event is stored."""
        if not self.app.exists(list_id):
            return None
        with self.reading() as cursor:
            cursor.execute("SELECT result FROM contact_imports WHERE list_id = ?", (str(list_id),))
            row = cursor.fetchone()
        if row and row[0]:
            return ImportResult.from_json(json.loads(row[0]))
        saved = self.app.load(ContactList, list_id, "contact list")
        return ImportResult(
            list_id,
            saved.name,
            saved.accepted,
            saved.duplicates,
            [],
            saved.rejected + saved.duplicates,
            saved.columns,
        )

    def settled_result(self, list_id: uuid.UUID) -> ImportResult:
        """The result of an import under the same command id that committed its rows first."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            earlier = self.earlier_result(list_id)
            if earlier is not None:
                return earlier
            if time.monotonic() > deadline:
                raise VersionConflict(
                    "an import with this command_id has written its contacts but not finished; "
                    "retry later, or import under another command_id"
                )
            time.sleep(0.1)

    # Reading.

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A cursor for queries. On SQLite it takes no write lock (WAL readers see the last
        commit), so reading a list never waits for an import in progress."""
        if isinstance(self.database, SQLiteDatabase):
            cursor = self.database.connection().cursor()
            try:
                yield SQLiteCursor(cursor)
            finally:
                cursor.close()
        else:
            with self.database.transaction() as transaction:
                yield transaction

    def count(self, list_id: uuid.UUID | str) -> int:
        with self.reading() as cursor:
            cursor.execute("SELECT COUNT(*) FROM contacts WHERE list_id = ?", (str(list_id),))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def audience(self, list_ids: Sequence[uuid.UUID | str]) -> Iterator[tuple[str, dict[str, str]]]:
        """Every distinct phone of the lists once, in phone order, with its fields.

        A phone in several lists carries the fields it has in the first of those lists, in the
        order the lists are given. Each list is read in pages in phone order and the lists
        are merged, so memory stays bounded whatever their size.
        """
        ids = list(dict.fromkeys(str(list_id) for list_id in list_ids))
        pages = [self.contacts_of(list_id, rank) for rank, list_id in enumerate(ids)]
        previous = None
        for phone, _rank, fields in heapq.merge(*pages):
            if phone != previous:
                previous = phone
                yield phone, json.loads(fields)

    def contacts_of(self, list_id: str, rank: int) -> Iterator[tuple[str, int, str]]:
        """(phone, rank, fields) of one list in phone order, a page per query."""
        after = ""
        while True:
            with self.reading() as cursor:
                cursor.execute(
                    "SELECT phone, fields FROM contacts WHERE list_id = ? AND phone > ? "
                    "ORDER BY phone LIMIT ?",
                    (list_id, after, PAGE),
                )
                rows = cursor.fetchall()
            for phone, fields in rows:
                yield phone, rank, fields
            if len(rows) < PAGE:
                return
            after = rows[-1][0]


def contact_store(
    settings: Settings, read_database: Database, app: CampaignPlatform
) -> ContactStore:
    """The store for this platform. On SQLite the contacts get their own file: an import holds
    SQLite's single write lock for its whole transaction, and the read models' projector must
    not wait for it. On PostgreSQL they share the read models' database."""
    if settings.postgres is None:
        database = SQLiteDatabase(settings.data_dir / "contacts.sqlite3")
        return ContactStore(database, app, owns_database=True)
    return ContactStore(read_database, app)
