"""The campaigns list (F1, F2) and the audit trail (F13), as database rows.

The list's filters, total and pages are SQL queries over these rows, never a scan of
aggregates. Both tables change in the projector's transaction, with its position.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.campaign import STATUS_AFTER
from domain.fields import format_time
from domain.status import Status
from projections.audit_trail import describe
from projections.database import Cursor, Database
from projections.messages import EventMessage, dumps

LIST_COLUMNS = (
    "id, version, name, description, status, status_reason, tags, type, stream, sender, "
    "created_at, updated_at, recipients_total, recipients_sent, cost, ctr, position"
)
INSERT_COLUMN_NAMES = (
    "id",
    "version",
    "name",
    "name_folded",
    "description",
    "status",
    "status_reason",
    "tags",
    "type",
    "stream",
    "sender",
    "created_at",
    "updated_at",
    "position",
)
INSERT_COLUMNS = ", ".join(INSERT_COLUMN_NAMES)
REPLAY_COLUMN_NAMES = (*INSERT_COLUMN_NAMES, "recipients_total")  # the others: by the stats
HISTORY_COLUMNS = (
    "position, campaign_id, version, at, type, actor, from_status, to_status, reason, "
    "command_id, details"
)


@dataclass(frozen=True)
class ListFilter:
    name: str | None = None
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    type: str | None = None
    stream: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    position: int = 0
    filters: ListFilter = field(default_factory=ListFilter)


def like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ListBatch:
    """One batch's changes to the list, its tags and the history, gathered in memory.

    Applying the events one by one would cost several statements each. Here `status` starts
    as the stored status of the batch's campaigns and follows each event, so that several
    events of one campaign see the status the previous one left; the rows are then written
    with one `executemany` per statement. The result is the same as one event at a time.
    """

    def __init__(self, status: dict[str, str]) -> None:
        self.status = status  # campaign id -> status, for every campaign that has a row
        self.inserts: list[tuple[Any, ...]] = []
        self.updates: dict[str, dict[str, Any]] = {}  # campaign id -> columns to set
        self.tags: dict[str, list[str]] = {}  # campaign id -> the tags written last
        self.history: list[tuple[Any, ...]] = []

    def add(self, message: EventMessage) -> None:
        campaign_id = message.aggregate_id
        at = format_time(message.at)  # once: the row and the history both show it
        from_status: str | None
        if message.name == "Created":
            from_status = None
            fields = message.data["fields"]
            if campaign_id not in self.status:  # else the row stays (ON CONFLICT DO NOTHING)
                self.inserts.append(created_row(message, at))
                self.status[campaign_id] = str(Status.DRAFT)
            self.tags[campaign_id] = fields.get("tags", [])
        else:
            from_status = self.status.get(campaign_id)
            if from_status is None:
                return  # the list was rebuilt from a later point; nothing to change
            sets = changed_columns(message, at)
            if message.name == "Edited" and "tags" in message.data["changes"]:
                self.tags[campaign_id] = message.data["changes"]["tags"]
            self.updates.setdefault(campaign_id, {}).update(sets)
            self.status[campaign_id] = sets.get("status", from_status)
        self.history.append(history_row(message, at, from_status))

    def write(self, cursor: Cursor) -> None:
        # New rows cannot clash: a campaign with a row is never inserted again (`add`), and
        # a history position is applied once (the projector's tracking).
        cursor.copy_rows("campaign_list", INSERT_COLUMNS, self.inserts)
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for campaign_id, sets in self.updates.items():
            columns = tuple(sorted(sets))
            by_columns.setdefault(columns, []).append((*(sets[c] for c in columns), campaign_id))
        for columns, rows in by_columns.items():
            assignments = ", ".join(f"{column} = ?" for column in columns)
            cursor.executemany(f"UPDATE campaign_list SET {assignments} WHERE id = ?", rows)
        inserted = {row[0] for row in self.inserts}
        replaced = [(i,) for i in self.tags if i not in inserted]  # new rows have no tags yet
        if replaced:
            cursor.executemany("DELETE FROM campaign_tags WHERE campaign_id = ?", replaced)
        self.write_tags(cursor)
        self.write_history(cursor)

    def write_tags(self, cursor: Cursor) -> None:
        cursor.copy_rows(
            "campaign_tags",
            "campaign_id, tag",
            [(i, tag) for i, tags in self.tags.items() for tag in dict.fromkeys(tags)],
        )

    def write_history(self, cursor: Cursor) -> None:
        cursor.copy_rows("campaign_history", HISTORY_COLUMNS, self.history)
        self.history = []


class ListReplay:
    """The whole history into empty tables (a rebuild): the rows are kept in memory and
    each is written once, with COPY, at the end, instead of being inserted and then
    updated batch after batch. The history, which only grows, is written as it comes."""

    def __init__(self) -> None:
        self.batch = ListBatch({})

    def add(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        for message in messages:
            if message.aggregate == "Campaign":
                self.batch.add(message)
        self.batch.write_history(cursor)

    def finish(self, cursor: Cursor) -> None:
        # Every update is for a row inserted in this replay: `add` skips campaigns without a
        # row, and the status map started empty.
        index = {column: i for i, column in enumerate(REPLAY_COLUMN_NAMES)}
        rows = []
        for row in self.batch.inserts:
            values = [*row, 0]  # recipients_total: its default until an event sets it
            for column, value in self.batch.updates.get(row[0], {}).items():
                values[index[column]] = value
            rows.append(values)
        cursor.copy_rows("campaign_list", ", ".join(REPLAY_COLUMN_NAMES), rows)
        self.batch.write_tags(cursor)
        self.batch.write_history(cursor)


def created_row(message: EventMessage, at: str) -> tuple[Any, ...]:
    """The list row of a Created event at `at` (its time as text)."""
    fields = message.data["fields"]
    return (
        message.aggregate_id,
        message.version,
        fields["name"],
        fields["name"].casefold(),
        fields.get("description", ""),
        str(Status.DRAFT),
        message.data.get("reason", ""),
        dumps(fields.get("tags", [])),
        fields.get("type", "outbound"),
        fields.get("stream"),
        fields.get("sender"),
        at,
        at,
        message.position,
    )


def changed_columns(message: EventMessage, at: str) -> dict[str, Any]:
    """The list columns an event after Created, at `at`, sets."""
    sets: dict[str, Any] = {
        "version": message.version,
        "updated_at": at,
        "position": message.position,
    }
    if message.name == "Edited":
        changes = message.data["changes"]
        for key in ("name", "description", "type", "stream", "sender"):
            if key in changes:
                sets[key] = changes[key]
        if "name" in changes:
            sets["name_folded"] = changes["name"].casefold()
        if "tags" in changes:
            sets["tags"] = dumps(changes["tags"])
    if message.name in STATUS_AFTER:
        sets["status"] = str(STATUS_AFTER[message.name])
        sets["status_reason"] = message.data.get("reason", "")
    if "recipients" in message.data:
        sets["recipients_total"] = message.data["recipients"]
    return sets


def history_row(message: EventMessage, at: str, from_status: str | None) -> tuple[Any, ...]:
    to_status = STATUS_AFTER.get(message.name, from_status)
    return (
        message.position,
        message.aggregate_id,
        message.version,
        at,
        message.type,
        message.data.get("actor", ""),
        from_status,
        str(to_status),
        message.data.get("reason", ""),
        message.data.get("command_id"),
        dumps(history_facts(message)),
    )


# What a history row keeps of its event beyond who, why and when: the facts an audit shows
# (a campaign's whole settings at creation are left to time travel).
FACT_KEYS = ("cause", "recipients", "start_at", "duplicated_from")


def history_facts(message: EventMessage) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if message.name == "Edited":
        facts["changed"] = sorted(message.data["changes"])
        facts["changes"] = message.data["changes"]
    for key in FACT_KEYS:
        if message.data.get(key) is not None:
            facts[key] = message.data[key]
    return facts


def history_details(kind: str, facts: dict[str, Any]) -> dict[str, Any]:
    """An entry's facts: as data (`facts`, and `changed` and `cause` where an edit or a
    suspension has them) and in words (`details`)."""
    shown: dict[str, Any] = {k: facts[k] for k in ("changed", "cause") if k in facts}
    return {**shown, "details": describe(kind, facts), "facts": facts}


class CampaignListView:
    tables: tuple[str, ...] = ("campaign_list", "campaign_tags", "campaign_history")

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS campaign_list (
                id TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                name TEXT NOT NULL,
                name_folded TEXT NOT NULL,
                description TEXT NOT NULL,
                status TEXT NOT NULL,
                status_reason TEXT NOT NULL,
                tags TEXT NOT NULL,
                type TEXT NOT NULL,
                stream TEXT,
                sender TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                recipients_total BIGINT NOT NULL DEFAULT 0,
                recipients_sent BIGINT NOT NULL DEFAULT 0,
                cost TEXT NOT NULL DEFAULT '0.0000',
                ctr DOUBLE PRECISION,
                position BIGINT NOT NULL
            )
            """
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS campaign_list_created ON campaign_list (created_at, id)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS campaign_list_status "
            "ON campaign_list (status, created_at, id)"
        )
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS campaign_tags (
                campaign_id TEXT NOT NULL,
                tag TEXT NOT NULL,
                PRIMARY KEY (tag, campaign_id)
            )
            """
        )
        # Tags are replaced by campaign: without this index each replacement scans them all.
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS campaign_tags_campaign ON campaign_tags (campaign_id)"
        )
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS campaign_history (
                position BIGINT PRIMARY KEY,
                campaign_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                at TEXT NOT NULL,
                type TEXT NOT NULL,
                actor TEXT NOT NULL,
                from_status TEXT,
                to_status TEXT NOT NULL,
                reason TEXT NOT NULL,
                command_id TEXT,
                details TEXT NOT NULL
            )
            """
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS campaign_history_campaign "
            "ON campaign_history (campaign_id, version)"
        )

    # Writing.

    def replay(self) -> ListReplay:
        return ListReplay()

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        """Applies a batch of messages, in order, with a few statements for the whole batch."""
        mine = [m for m in messages if m.aggregate == "Campaign"]
        if not mine:
            return
        batch = ListBatch(self.statuses(cursor, {m.aggregate_id for m in mine}))
        for message in mine:
            batch.add(message)
        batch.write(cursor)

    @staticmethod
    def statuses(cursor: Cursor, campaign_ids: set[str]) -> dict[str, str]:
        """The stored status of each of these campaigns that has a row."""
        rows = cursor.fetch_in(
            "SELECT id, status FROM campaign_list WHERE id IN ?", sorted(campaign_ids)
        )
        return {str(row[0]): str(row[1]) for row in rows}

    # Reading.

    def query(self, database: Database, filters: ListFilter, page: int, per_page: int) -> ListPage:
        where, params = self.where(filters)
        with database.transaction() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM campaign_list c {where}", params)
            row = cursor.fetchone()
            total = int(row[0]) if row else 0
            cursor.execute(
                f"SELECT {LIST_COLUMNS} FROM campaign_list c {where} "
                "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                (*params, per_page, (page - 1) * per_page),
            )
            rows = cursor.fetchall()
        items = [self.item(row) for row in rows]
        return ListPage(items=items, total=total, page=page, per_page=per_page, filters=filters)

    def where(self, filters: ListFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if filters.name:
            clauses.append("name_folded LIKE ? ESCAPE '\\'")
            params.append(like_pattern(filters.name))
        if filters.statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in filters.statuses)})")
            params.extend(filters.statuses)
        if filters.tags:
            marks = ", ".join("?" for _ in filters.tags)
            clauses.append(
                "EXISTS (SELECT 1 FROM campaign_tags t "
                f"WHERE t.campaign_id = c.id AND t.tag IN ({marks}))"
            )
            params.extend(filters.tags)
        if filters.type:
            clauses.append("type = ?")
            params.append(filters.type)
        if filters.stream:
            clauses.append("stream = ?")
            params.append(filters.stream)
        if filters.created_from:
            clauses.append("created_at >= ?")
            params.append(format_time(filters.created_from))
        if filters.created_to:
            clauses.append("created_at <= ?")
            params.append(format_time(filters.created_to))
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def item(row: tuple[Any, ...]) -> dict[str, Any]:
        (
            campaign_id,
            version,
            name,
            description,
            status,
            status_reason,
            tags,
            kind,
            stream,
            sender,
            created_at,
            updated_at,
            total,
            sent,
            cost,
            ctr,
            _position,
        ) = row
        return {
            "id": campaign_id,
            "version": int(version),
            "name": name,
            "description": description,
            "status": status,
            "status_reason": status_reason,
            "tags": json.loads(tags),
            "type": kind,
            "stream": stream,
            "sender": sender,
            "created_at": created_at,
            "updated_at": updated_at,
            "recipients": {"total": int(total), "sent": int(sent)},
            "cost": cost,
            "ctr": ctr,
        }

    def with_statuses(
        self,
        database: Database,
        statuses: list[str],
        streams: list[str] | None = None,
        updated_since: str | None = None,
    ) -> list[tuple[str, str]]:
        """(id, status) of every campaign in one of `statuses` (and on one of `streams`, and
        changed since a time), oldest first."""
        on_streams = ""
        params = list(statuses)
        if streams is not None:
            on_streams = f" AND stream IN ({', '.join('?' for _ in streams)})"
            params += streams
        if updated_since is not None:
            on_streams += " AND updated_at >= ?"
            params.append(updated_since)
        with database.transaction() as cursor:
            cursor.execute(
                f"SELECT id, status FROM campaign_list WHERE status IN "
                f"({', '.join('?' for _ in statuses)}){on_streams} ORDER BY created_at, id",
                params,
            )
            rows = cursor.fetchall()
        return [(str(campaign_id), str(status)) for campaign_id, status in rows]

    def history(self, database: Database, campaign_id: str) -> list[dict[str, Any]]:
        with database.transaction() as cursor:
            cursor.execute(
                "SELECT position, at, type, actor, from_status, to_status, reason, version, "
                "command_id, details FROM campaign_history WHERE campaign_id = ? "
                "ORDER BY version",
                (campaign_id,),
            )
            rows = cursor.fetchall()
        return [
            {
                "position": int(position),
                "at": at,
                "type": kind,
                "actor": actor,
                "from_status": from_status,
                "to_status": to_status,
                "reason": reason,
                "version": int(version),
                "command_id": command_id,
                **history_details(kind, json.loads(details)),
            }
            for (
                position,
                at,
                kind,
                actor,
                from_status,
                to_status,
                reason,
                version,
                command_id,
                details,
            ) in rows
        ]
