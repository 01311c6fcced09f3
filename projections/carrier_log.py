"""What the sending tier told real carriers, and what they answered (SMPP and HTTP streams).

A message is written here as `submitting`, under its stream owner's fence, before it leaves
for the carrier, and only once ever: a message already here is never submitted again. Its
answer then makes it `accepted` (with the carrier's message id), `rejected` (with the
carrier's code) or `unknown` (the answer never came). Receipts naming a carrier id not known
yet wait here until the submit's answer names it. Also here: each stream's link as its
sending process last saw it, and the streams' secrets, which only the sending tier reads.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from domain.fields import Invalid, format_time, parse_whole_number
from projections.database import Database
from projections.leases import Fence, check_fence

SUBMIT_STATES = ("submitting", "accepted", "rejected", "unknown")
WAITING_KEPT_FOR = 86_400  # seconds a receipt naming no known message is kept


class Answer(NamedTuple):
    """A carrier's answer to one submitted message."""

    message_id: str
    state: str  # accepted, rejected or unknown
    carrier_id: str | None
    error: str | None


class CarrierReceipt(NamedTuple):
    """A delivery receipt as a carrier sends it: by its own message id."""

    carrier_id: str
    status: str  # one of the platform's message statuses
    error: str | None
    at: datetime


class MatchedReceipt(NamedTuple):
    message_id: str
    status: str
    error: str | None
    at: datetime


@dataclass(frozen=True)
class LinkState:
    """A stream's link to its carrier, as the process that owns the stream last saw it."""

    stream: str
    process: str
    state: str  # connecting, bound, reconnecting, stopped
    error: str | None
    in_flight: int
    window: int
    per_second: float
    last_receipt_at: str | None
    since: str
    updated_at: str


class CarrierLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS carrier_submits (message_id TEXT PRIMARY KEY, "
                "stream TEXT NOT NULL, epoch BIGINT NOT NULL, state TEXT NOT NULL, "
                "carrier_id TEXT, error TEXT, submitted_at TEXT NOT NULL, answered_at TEXT)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS carrier_submits_by_carrier_id "
                "ON carrier_submits (stream, carrier_id)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS carrier_submits_unanswered "
                "ON carrier_submits (stream, epoch) WHERE state = 'submitting'"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS carrier_receipts_waiting (stream TEXT NOT NULL, "
                "carrier_id TEXT NOT NULL, status TEXT NOT NULL, error TEXT, at TEXT NOT NULL, "
                "PRIMARY KEY (stream, carrier_id, status))"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS stream_links (stream TEXT PRIMARY KEY, "
                "process TEXT NOT NULL, state TEXT NOT NULL, error TEXT, "
                "in_flight INTEGER NOT NULL, window_size INTEGER NOT NULL, "
                "per_second REAL NOT NULL, last_receipt_at TEXT, since TEXT NOT NULL, "
                "updated_at TEXT NOT NULL)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS stream_secrets (stream TEXT NOT NULL, "
                "name TEXT NOT NULL, value TEXT NOT NULL, changed_at TEXT NOT NULL, "
                "PRIMARY KEY (stream, name))"
            )

    # Submits.

    def submitting(self, fence: Fence, message_ids: Sequence[str], at: datetime) -> list[str]:
        """Writes the messages as leaving for the stream's carrier, while `fence` is the
        stream's (LeaseLost otherwise); returns those never written before, the only ones
        that may be submitted."""
        if not message_ids:
            return []
        rows = [(m, fence.stream, fence.epoch, format_time(at)) for m in dict.fromkeys(message_ids)]
        with self.database.transaction() as cursor:
            # Only the rows this statement inserts come back: a message written before, by
            # this process or another at the same moment, is never fresh twice.
            cursor.execute(
                "INSERT INTO carrier_submits (message_id, stream, epoch, state, submitted_at) "
                f"VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(rows))} ON CONFLICT DO NOTHING "
                "RETURNING message_id",
                [
                    v
                    for m, stream, epoch, when in rows
                    for v in (m, stream, epoch, "submitting", when)
                ],
            )
            inserted = {str(row[0]) for row in cursor.fetchall()}
            check_fence(cursor, self.database.dialect, fence)
        return [m for m, *_rest in rows if m in inserted]

    def not_submitted(self, message_ids: Sequence[str]) -> None:
        """Messages written as leaving that never left (the link was down): they may be
        submitted later."""
        if message_ids:
            with self.database.transaction() as cursor:
                cursor.executemany(
                    "DELETE FROM carrier_submits WHERE message_id = ? AND state = 'submitting'",
                    [(m,) for m in message_ids],
                )

    def answered(
        self, stream: str, answers: Sequence[Answer], at: datetime
    ) -> list[MatchedReceipt]:
        """Records the carrier's answers; returns the receipts that waited for them."""
        if not answers:
            return []
        when = format_time(at)
        with self.database.transaction() as cursor:
            self.one_matcher(cursor, stream)
            cursor.executemany(
                "UPDATE carrier_submits SET state = ?, carrier_id = ?, error = ?, "
                "answered_at = ? WHERE message_id = ? AND state = 'submitting'",
                [(a.state, a.carrier_id, a.error, when, a.message_id) for a in answers],
            )
            ids = {
                form: a.message_id
                for a in answers
                if a.carrier_id
                for form in id_forms(a.carrier_id)
            }
            matched = self.take_waiting(cursor, stream, ids)
        return matched

    def one_matcher(self, cursor: Any, stream: str) -> None:
        """On PostgreSQL, the answers and the receipts of one stream are matched one
        transaction at a time: a receipt written to wait while its answer commits would
        otherwise be seen by neither."""
        if self.database.dialect == "postgres":
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"receipts:{stream}",))

    def take_waiting(
        self, cursor: Any, stream: str, message_of: dict[str, str]
    ) -> list[MatchedReceipt]:
        if not message_of:
            return []
        rows = cursor.fetch_in(
            "SELECT carrier_id, status, error, at FROM carrier_receipts_waiting "
            f"WHERE stream = '{_quoted(stream)}' AND carrier_id IN ?",
            sorted(message_of),
        )
        if not rows:
            return []
        cursor.executemany(
            "DELETE FROM carrier_receipts_waiting WHERE stream = ? AND carrier_id = ?",
            [(stream, str(r[0])) for r in rows],
        )
        return [
            MatchedReceipt(message_of[str(r[0])], str(r[1]), r[2], datetime.fromisoformat(r[3]))
            for r in rows
        ]

    def match(
        self, stream: str, receipts: Sequence[CarrierReceipt], known: dict[str, str]
    ) -> list[MatchedReceipt]:
        """Receipts by message: through `known` (carrier id to message id, what this process
        saw answered), then the submits recorded; those naming no message yet wait here.
        An id is looked up as given, then in the other base (`id_forms`)."""
        found = {
            r.carrier_id: known[form]
            for r in receipts
            for form in id_forms(r.carrier_id)  # the id as given last: it wins
            if form in known
        }
        missing = sorted(
            {form for r in receipts if r.carrier_id not in found for form in id_forms(r.carrier_id)}
        )
        with self.database.transaction() as cursor:
            self.one_matcher(cursor, stream)
            if missing:
                recorded = {
                    str(carrier_id): str(message_id)
                    for carrier_id, message_id in cursor.fetch_in(
                        "SELECT carrier_id, message_id FROM carrier_submits "
                        f"WHERE stream = '{_quoted(stream)}' AND carrier_id IN ?",
                        missing,
                    )
                }
                for r in receipts:
                    for form in reversed(id_forms(r.carrier_id)):
                        if r.carrier_id not in found and form in recorded:
                            found[r.carrier_id] = recorded[form]
            waiting = [r for r in receipts if r.carrier_id not in found]
            cursor.executemany(
                "INSERT INTO carrier_receipts_waiting (stream, carrier_id, status, error, at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(stream, r.carrier_id, r.status, r.error, format_time(r.at)) for r in waiting],
            )
            errors = [
                (r.error, found[r.carrier_id])
                for r in receipts
                if r.error and r.carrier_id in found
            ]
            cursor.executemany("UPDATE carrier_submits SET error = ? WHERE message_id = ?", errors)
        return [
            MatchedReceipt(found[r.carrier_id], r.status, r.error, r.at)
            for r in receipts
            if r.carrier_id in found
        ]

    def taken(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messages left for a carrier, or may have."""
        with self.database.read() as cursor:
            rows = cursor.fetch_in(
                "SELECT message_id FROM carrier_submits WHERE message_id IN ?", message_ids
            )
        return {str(r[0]) for r in rows}

    def outcomes(self, message_ids: Sequence[str]) -> list[tuple[str, str, str | None]]:
        """(message, state, error) of these messages' submits that were not accepted."""
        with self.database.read() as cursor:
            rows = cursor.fetch_in(
                "SELECT message_id, state, error FROM carrier_submits WHERE message_id IN ? "
                "AND state <> 'accepted'",
                message_ids,
            )
        return [(str(m), str(s), e) for m, s, e in rows]

    def left_unanswered(self, fence: Fence, at: datetime) -> list[str]:
        """Messages an earlier owner of the stream submitted whose answer it never got:
        they become `unknown` (returned)."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "SELECT message_id FROM carrier_submits WHERE stream = ? "
                "AND state = 'submitting' AND epoch < ?",
                (fence.stream, fence.epoch),
            )
            ids = [str(r[0]) for r in cursor.fetchall()]
            cursor.executemany(
                "UPDATE carrier_submits SET state = 'unknown', answered_at = ?, "
                "error = 'no answer: its sending process stopped' WHERE message_id = ?",
                [(format_time(at), m) for m in ids],
            )
            check_fence(cursor, self.database.dialect, fence)
        return ids

    def prune_waiting(self, before: datetime) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "DELETE FROM carrier_receipts_waiting WHERE at < ?", (format_time(before),)
            )

    def errors_of(self, message_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """(carrier message id, carrier's error) of these messages, where known."""
        with self.database.read() as cursor:
            rows = cursor.fetch_in(
                "SELECT message_id, carrier_id, error FROM carrier_submits WHERE message_id IN ?",
                message_ids,
            )
        return {str(m): (c, e) for m, c, e in rows}

    # Links.

    def report_link(self, state: LinkState) -> None:
        with self.database.transaction() as cursor:
            cursor.execute(
                "INSERT INTO stream_links (stream, process, state, error, in_flight, "
                "window_size, per_second, last_receipt_at, since, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream) DO UPDATE SET "
                "process = excluded.process, state = excluded.state, error = excluded.error, "
                "in_flight = excluded.in_flight, window_size = excluded.window_size, "
                "per_second = excluded.per_second, last_receipt_at = "
                "COALESCE(excluded.last_receipt_at, stream_links.last_receipt_at), "
                "since = excluded.since, updated_at = excluded.updated_at",
                (
                    state.stream,
                    state.process,
                    state.state,
                    state.error,
                    state.in_flight,
                    state.window,
                    state.per_second,
                    state.last_receipt_at,
                    state.since,
                    state.updated_at,
                ),
            )

    def receipt_seen(self, stream: str, at: datetime) -> None:
        """A receipt of the stream came in another way than its link (an HTTP carrier's
        post to the gateway): its link shows it as its last."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE stream_links SET last_receipt_at = ? WHERE stream = ?",
                (format_time(at), stream),
            )

    def links(self) -> dict[str, LinkState]:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT stream, process, state, error, in_flight, window_size, per_second, "
                "last_receipt_at, since, updated_at FROM stream_links"
            )
            rows = cursor.fetchall()
        return {
            str(r[0]): LinkState(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                r[3],
                int(r[4]),
                int(r[5]),
                float(r[6]),
                r[7],
                str(r[8]),
                str(r[9]),
            )
            for r in rows
        }

    # Secrets.

    def keep_secrets(self, stream: str, secrets: dict[str, str], at: datetime) -> None:
        with self.database.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO stream_secrets (stream, name, value, changed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (stream, name) DO UPDATE SET value = excluded.value, "
                "changed_at = excluded.changed_at",
                [(stream, name, value, format_time(at)) for name, value in secrets.items()],
            )

    def secrets_of(self, stream: str) -> dict[str, str]:
        with self.database.read() as cursor:
            cursor.execute("SELECT name, value FROM stream_secrets WHERE stream = ?", (stream,))
            return {str(name): str(value) for name, value in cursor.fetchall()}


def id_forms(carrier_id: str) -> list[str]:
    """A carrier's message id as it may appear elsewhere, the id as given last: many SMSCs
    answer a submit with a hexadecimal id and name it in decimal in the receipt, or the
    other way round."""
    forms = []
    with contextlib.suppress(Invalid):  # not in (ASCII) decimal digits: no hexadecimal form
        forms.append(format(parse_whole_number(carrier_id, 0, 10**39 - 1), "x"))
    if len(carrier_id) < 32 and _HEX.fullmatch(carrier_id):
        forms.append(str(int(carrier_id, 16)))
    return [f for f in forms if f != carrier_id] + [carrier_id]


_HEX = re.compile(r"[0-9a-fA-F]+")


def _quoted(text: str) -> str:
    """A stream name inside a literal (names are letters, digits, '-' and '_' already)."""
    return text.replace("'", "''")
