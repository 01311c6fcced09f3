"""The campaigns list (F1, F2) and the audit trail (F13), as database rows.

The list's filters, total and pages are SQL queries over these rows, never a scan of
aggregates. Both tables change in the projector's transaction, with its position.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.campaign import STATUS_AFTER
from domain.fields import format_time
from projections.database import Cursor, Database
from projections.messages import EventMessage, dumps

LIST_COLUMNS = (
    "id, version, name, description, status, status_reason, tags, type, stream, sender, "
    "created_at, updated_at, recipients_total, recipients_sent, cost, ctr, position"
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

    def apply(self, cursor: Cursor, message: EventMessage) -> None:
        if message.aggregate != "Campaign":
            return
        if message.name == "Created":
            from_status = None
            self.insert(cursor, message)
        else:
            cursor.execute("SELECT status FROM campaign_list WHERE id = ?", (message.aggregate_id,))
            row = cursor.fetchone()
            if row is None:
                return  # the list was rebuilt from a later point; nothing to change
            from_status = str(row[0])
            self.update(cursor, message)
        to_status = STATUS_AFTER.get(message.name, from_status)
        details = {}
        if message.name == "Edited":
            details["changed"] = sorted(message.data["changes"])
        if message.name == "Suspended":
            details["cause"] = message.data["cause"]
        cursor.execute(
            "INSERT INTO campaign_history (position, campaign_id, version, at, type, actor, "
            "from_status, to_status, reason, command_id, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
            (
                message.position,
                message.aggregate_id,
                message.version,
                format_time(message.at),
                message.type,
                message.data.get("actor", ""),
                from_status,
                str(to_status),
                message.data.get("reason", ""),
                message.data.get("command_id"),
                dumps(details),
            ),
        )

    def insert(self, cursor: Cursor, message: EventMessage) -> None:
        fields = message.data["fields"]
        at = format_time(message.at)
        cursor.execute(
            "INSERT INTO campaign_list (id, version, name, name_folded, description, status, "
            "status_reason, tags, type, stream, sender, created_at, updated_at, position) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                message.aggregate_id,
                message.version,
                fields["name"],
                fields["name"].casefold(),
                fields.get("description", ""),
                "Draft",
                message.data.get("reason", ""),
                dumps(fields.get("tags", [])),
                fields.get("type", "outbound"),
                fields.get("stream"),
                fields.get("sender"),
                at,
                at,
                message.position,
            ),
        )
        self.write_tags(cursor, message.aggregate_id, fields.get("tags", []))

    def update(self, cursor: Cursor, message: EventMessage) -> None:
        sets: dict[str, Any] = {
            "version": message.version,
            "updated_at": format_time(message.at),
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
                self.write_tags(cursor, message.aggregate_id, changes["tags"])
        if message.name in STATUS_AFTER:
            sets["status"] = str(STATUS_AFTER[message.name])
            sets["status_reason"] = message.data.get("reason", "")
        if "recipients" in message.data:
            sets["recipients_total"] = message.data["recipients"]
        assignments = ", ".join(f"{column} = ?" for column in sets)
        cursor.execute(
            f"UPDATE campaign_list SET {assignments} WHERE id = ?",
            (*sets.values(), message.aggregate_id),
        )

    def write_tags(self, cursor: Cursor, campaign_id: str, tags: list[str]) -> None:
        cursor.execute("DELETE FROM campaign_tags WHERE campaign_id = ?", (campaign_id,))
        cursor.executemany(
            "INSERT INTO campaign_tags (campaign_id, tag) VALUES (?, ?)",
            [(campaign_id, tag) for tag in tags],
        )

    # Reading.

    def query(
        self, database: Database, filters: ListFilter, page: int, per_page: int
    ) -> ListPage:
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

    def with_statuses(self, database: Database, statuses: list[str]) -> list[tuple[str, str]]:
        """(id, status) of every campaign in one of `statuses`, oldest first."""
        with database.transaction() as cursor:
            cursor.execute(
                f"SELECT id, status FROM campaign_list WHERE status IN "
                f"({', '.join('?' for _ in statuses)}) ORDER BY created_at, id",
                statuses,
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
                **json.loads(details),
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
