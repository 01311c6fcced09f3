"""A campaign's audience: its contact lists merged, each number once, opted-out numbers
removed, fixed as numbered recipients when it is prepared (and counted or sampled before,
for the wizard's Summary)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.activity.messages import AlreadyRecorded, MessageRows
from projections.database import Database
from projections.leases import Fence


class Audience(MessageRows):
    """The recipients table, drawn from the contact lists' rows (`contacts_table`)."""

    def __init__(self, database: Database, contacts_table: str = "contacts") -> None:
        super().__init__(database)
        self.contacts_table = contacts_table

    def snapshot(
        self, campaign_id: str, list_ids: Sequence[str], fence: Fence | None = None
    ) -> int:
        """Fixes the campaign's audience: its lists merged, each number once (with the
        columns of the first list given that has it), opted-out numbers removed, numbered
        in the order of the numbers. Replaces an earlier snapshot (never one that messages
        were made from: AlreadyRecorded); returns its size."""
        if not list_ids:
            return 0
        audience, params = self.select(list_ids)
        with self.database.transaction() as cursor:
            cursor.execute("SELECT 1 FROM messages WHERE campaign_id = ? LIMIT 1", (campaign_id,))
            if cursor.fetchone() is not None:
                raise AlreadyRecorded(
                    f"campaign {campaign_id} has messages: its audience is fixed already"
                )
            cursor.execute("DELETE FROM recipients WHERE campaign_id = ?", (campaign_id,))
            cursor.execute(
                "INSERT INTO recipients (campaign_id, seq, phone, fields) "
                "SELECT ?, ROW_NUMBER() OVER (ORDER BY phone) - 1, phone, fields "
                f"FROM ({audience}) AS audience",
                (campaign_id, *params),
            )
            cursor.execute("SELECT COUNT(*) FROM recipients WHERE campaign_id = ?", (campaign_id,))
            row = cursor.fetchone()
            self.fenced(cursor, fence)
        return int(row[0]) if row else 0

    def recipients_from(self, campaign_id: str, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """(position, phone, columns as JSON) of up to `limit` recipients from `seq` on."""
        with self.database.read() as cursor:
            # Bounded on both sides (positions are dense): with no upper bound, a planner
            # without statistics of a fresh snapshot fetched every later recipient and sorted.
            cursor.execute(
                "SELECT seq, phone, fields FROM recipients WHERE campaign_id = ? AND seq >= ? "
                "AND seq < ? ORDER BY seq LIMIT ?",
                (campaign_id, seq, seq + limit, limit),
            )
            rows = cursor.fetchall()
        return [(int(s), str(p), str(f)) for s, p, f in rows]

    def select(self, list_ids: Sequence[str]) -> tuple[str, list[str]]:
        """The audience `snapshot` would fix, as a query of (phone, fields): the
        lists merged, each number once with the first given list's columns, opted-out
        numbers removed."""
        if len(list_ids) == 1:  # a list holds each number once: nothing to merge
            sql = (
                f"SELECT phone, fields FROM {self.contacts_table} AS merged WHERE list_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = merged.phone)"
            )
            return sql, [list_ids[0]]
        marks = ", ".join("?" for _ in list_ids)
        precedence = " ".join(f"WHEN ? THEN {i}" for i in range(len(list_ids)))
        sql = (
            "SELECT phone, fields FROM ("
            "  SELECT phone, fields, ROW_NUMBER() OVER ("
            f"    PARTITION BY phone ORDER BY CASE list_id {precedence} END) AS choice"
            f"  FROM {self.contacts_table} WHERE list_id IN ({marks})"
            ") AS merged WHERE choice = 1 "
            "AND NOT EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = merged.phone)"
        )
        return sql, [*list_ids, *list_ids]

    def count(self, list_ids: Sequence[str], prefix_length: int) -> list[tuple[str, int]]:
        """How many numbers the audience would have now, per their first `prefix_length`
        characters, in number order; nothing is stored."""
        if not list_ids:
            return []
        sql, params = self.select(list_ids)
        with self.database.read() as cursor:
            length = int(prefix_length)  # a literal: PostgreSQL groups by the same expression
            cursor.execute(
                f"SELECT SUBSTR(phone, 1, {length}), COUNT(*) FROM ({sql}) AS audience "
                f"GROUP BY SUBSTR(phone, 1, {length})",
                params,
            )
            rows = cursor.fetchall()
        return sorted((str(prefix), int(count)) for prefix, count in rows)

    def first(self, list_ids: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        """The number (and columns) the audience would start with: a sample contact."""
        if not list_ids:
            return None
        sql, params = self.select(list_ids)
        with self.database.read() as cursor:
            cursor.execute(f"{sql} ORDER BY phone LIMIT 1", params)
            row = cursor.fetchone()
        return (str(row[0]), json.loads(row[1])) if row else None
