"""Link domains (F10): the custom domains that carry short and opt-out links."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.audited import Audited, id_for_name
from domain.errors import IllegalTransition

ARCHIVE_AFTER_DAYS = 90  # unused domains are archived automatically after this long


class DomainStatus(StrEnum):
    PENDING = "Pending"
    CONFIGURED = "Configured"
    BLOCKED = "Blocked"
    DECLINED = "Declined"
    ARCHIVED = "Archived"
    REACHED_LIMIT = "Reached Limit"


# Command -> statuses it may start from. Reached Limit is not stored: it is how a Configured
# domain whose usage has reached the global limit is shown, so raising the limit frees it.
DOMAIN_TRANSITIONS: dict[str, frozenset[DomainStatus]] = {
    "configure": frozenset(
        {DomainStatus.PENDING, DomainStatus.ARCHIVED, DomainStatus.BLOCKED, DomainStatus.DECLINED}
    ),
    "block": frozenset({DomainStatus.PENDING, DomainStatus.CONFIGURED}),
    "decline": frozenset({DomainStatus.PENDING}),
    "archive": frozenset(
        {
            DomainStatus.PENDING,
            DomainStatus.CONFIGURED,
            DomainStatus.BLOCKED,
            DomainStatus.DECLINED,
        }
    ),
}


class LinkDomain(Audited):
    """A domain name with its status and the number of messages it has carried."""

    class Event(Audited.Event):
        pass

    class Added(Event, Audited.Created):
        name: str

    class StatusChanged(Event):
        status: str

        def apply_to(self, domain: LinkDomain) -> None:
            domain.status = DomainStatus(self.status)

    class UsageRecorded(Event):
        count: int
        campaign_id: str | None

        def apply_to(self, domain: LinkDomain) -> None:
            domain.usage += self.count
            domain.last_used_at = self.timestamp

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = DomainStatus.PENDING
        self.usage = 0
        self.last_used_at: datetime | None = None

    @staticmethod
    def id_for(name: str) -> object:
        return id_for_name("domain", name)

    @classmethod
    def add(cls, name: str, *, actor: str, command_id: str | None = None) -> LinkDomain:
        return cls._create(
            cls.Added,
            id=id_for_name("domain", name),
            name=name,
            actor=actor,
            reason="added",
            command_id=command_id,
        )

    def change_status(
        self, command: str, *, actor: str, reason: str = "", command_id: str | None = None
    ) -> None:
        sources = DOMAIN_TRANSITIONS[command]
        target = {
            "configure": DomainStatus.CONFIGURED,
            "block": DomainStatus.BLOCKED,
            "decline": DomainStatus.DECLINED,
            "archive": DomainStatus.ARCHIVED,
        }[command]
        if self.status is target:
            return  # already there: a repeat changes nothing
        if self.status not in sources:
            allowed = ", ".join(s.value for s in DomainStatus if s in sources)
            raise IllegalTransition(
                f"cannot {command} the domain {self.name}: it is {self.status}; "
                f"{command} is allowed from {allowed}",
                details={"status": self.status.value, "command": command},
            )
        self.trigger_event(
            self.StatusChanged,
            status=target.value,
            actor=actor,
            reason=reason or command,
            command_id=command_id,
        )

    def record_usage(
        self, count: int, campaign_id: str | None, *, command_id: str | None = None
    ) -> None:
        self.trigger_event(
            self.UsageRecorded,
            count=count,
            campaign_id=campaign_id,
            actor="system",
            reason=f"{count} messages sent",
            command_id=command_id,
        )

    def status_under(self, limit: int) -> DomainStatus:
        """The status people see: a Configured domain at the limit shows Reached Limit."""
        if self.status is DomainStatus.CONFIGURED and self.usage >= limit:
            return DomainStatus.REACHED_LIMIT
        return self.status

    def is_usable(self, limit: int) -> bool:
        return self.status_under(limit) is DomainStatus.CONFIGURED
