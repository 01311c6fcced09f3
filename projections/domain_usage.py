"""Domain usage (F10): each link domain's status and the messages it has carried, in total
and per campaign, as rows fed by the LinkDomain events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.fields import format_time
from projections.database import Cursor, Database
from projections.messages import EventMessage


class DomainUsageView:
    tables: tuple[str, ...] = ("domain_usage", "domain_campaign_usage")

    def create_tables(self, cursor: Cursor, dialect: str) -> None:
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS domain_usage (
                domain_id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                status TEXT NOT NULL,
                usage BIGINT NOT NULL,
                last_used_at TEXT,
                added_at TEXT NOT NULL,
                position BIGINT NOT NULL
            )
            """
        )
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS domain_campaign_usage (
                domain_id TEXT NOT NULL,
                campaign_id TEXT NOT NULL,
                usage BIGINT NOT NULL,
                PRIMARY KEY (domain_id, campaign_id)
            )
            """
        )

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        for message in messages:
            if message.aggregate != "LinkDomain":
                continue
            at = format_time(message.at)
            if message.name == "Added":
                cursor.execute(
                    "INSERT INTO domain_usage "
                    "(domain_id, name, status, usage, added_at, position) "
                    "VALUES (?, ?, 'Pending', 0, ?, ?) ON CONFLICT (domain_id) DO NOTHING",
                    (message.aggregate_id, message.data["name"], at, message.position),
                )
            elif message.name == "StatusChanged":
                cursor.execute(
                    "UPDATE domain_usage SET status = ?, position = ? WHERE domain_id = ?",
                    (message.data["status"], message.position, message.aggregate_id),
                )
            elif message.name == "UsageRecorded":
                count = int(message.data["count"])
                cursor.execute(
                    "UPDATE domain_usage SET usage = usage + ?, last_used_at = ?, position = ? "
                    "WHERE domain_id = ?",
                    (count, at, message.position, message.aggregate_id),
                )
                campaign_id = message.data.get("campaign_id")
                if campaign_id:
                    cursor.execute(
                        "INSERT INTO domain_campaign_usage (domain_id, campaign_id, usage) "
                        "VALUES (?, ?, ?) ON CONFLICT (domain_id, campaign_id) "
                        "DO UPDATE SET usage = domain_campaign_usage.usage + excluded.usage",
                        (message.aggregate_id, campaign_id, count),
                    )

    def domains(self, database: Database) -> list[dict[str, Any]]:
        """Every domain with its stored status and usage, by name."""
        with database.read() as cursor:
            cursor.execute(
                "SELECT name, status, usage, last_used_at FROM domain_usage ORDER BY name"
            )
            rows = cursor.fetchall()
        return [
            {"name": name, "status": status, "usage": int(usage), "last_used_at": last}
            for name, status, usage, last in rows
        ]

    def campaign_usage(self, database: Database, campaign_id: str) -> dict[str, int]:
        """Messages each domain has carried for one campaign."""
        with database.read() as cursor:
            cursor.execute(
                "SELECT d.name, u.usage FROM domain_campaign_usage u "
                "JOIN domain_usage d ON d.domain_id = u.domain_id WHERE u.campaign_id = ? "
                "ORDER BY d.name",
                (campaign_id,),
            )
            return {str(name): int(usage) for name, usage in cursor.fetchall()}
