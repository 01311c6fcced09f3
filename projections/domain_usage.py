"""Domain usage (F10): each link domain's status and the messages it has carried, in total
and per campaign, and the messaging limit they are held to, as rows fed by the LinkDomain
events and the settings' DomainLimitSet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from domain.fields import format_time
from projections.database import Cursor, Database
from projections.messages import EventMessage

DOMAIN_COLUMNS = "domain_id, name, status, usage, last_used_at, added_at, position"
LIMIT_SET = "PlatformSettings.DomainLimitSet"


def is_limit_set(message: EventMessage) -> bool:
    return message.type.endswith(LIMIT_SET)


def write_limit(cursor: Cursor, limit: int) -> None:
    cursor.execute(
        "INSERT INTO domain_limit (id, value) VALUES (1, ?) "
        "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
        (limit,),
    )


class DomainReplay:
    """The whole history into empty tables (a rebuild): each domain's row and each
    (domain, campaign) count kept in memory and written once, with COPY, at the end. The
    same rules as `DomainUsageView.apply`, event by event."""

    def __init__(self) -> None:
        self.domains: dict[str, list[Any]] = {}  # domain id -> its row, as DOMAIN_COLUMNS
        self.campaigns: Counter[tuple[str, str]] = Counter()  # (domain id, campaign id)
        self.limit: int | None = None

    def add(self, _cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        for message in messages:
            if message.aggregate == "LinkDomain":
                self.add_one(message)
            elif is_limit_set(message):
                self.limit = int(message.data["limit"])

    def add_one(self, message: EventMessage) -> None:
        domain_id = message.aggregate_id
        row = self.domains.get(domain_id)
        if message.name == "Added":
            if row is None:
                at = format_time(message.at)
                name = message.data["name"]
                self.domains[domain_id] = [
                    domain_id,
                    name,
                    "Pending",
                    0,
                    None,
                    at,
                    message.position,
                ]
        elif message.name == "StatusChanged":
            if row is not None:
                row[2], row[6] = message.data["status"], message.position
        elif message.name == "UsageRecorded":
            count = int(message.data["count"])
            if row is not None:
                row[3] += count
                row[4], row[6] = format_time(message.at), message.position
            campaign_id = message.data.get("campaign_id")
            if campaign_id:
                self.campaigns[(domain_id, campaign_id)] += count

    def finish(self, cursor: Cursor) -> None:
        cursor.copy_rows("domain_usage", DOMAIN_COLUMNS, list(self.domains.values()))
        cursor.copy_rows(
            "domain_campaign_usage",
            "domain_id, campaign_id, usage",
            [(domain, campaign, usage) for (domain, campaign), usage in self.campaigns.items()],
        )
        if self.limit is not None:
            write_limit(cursor, self.limit)


class DomainUsageView:
    tables: tuple[str, ...] = ("domain_usage", "domain_campaign_usage", "domain_limit")

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
        # One row once a limit was set; without it the default limit holds.
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS domain_limit "
            "(id INTEGER PRIMARY KEY, value BIGINT NOT NULL)"
        )

    def replay(self) -> DomainReplay:
        return DomainReplay()

    def apply(self, cursor: Cursor, messages: Sequence[EventMessage]) -> None:
        for message in messages:
            if is_limit_set(message):
                write_limit(cursor, int(message.data["limit"]))
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
