"""Domain pools (F11): named sets of link domains chosen per link."""

from __future__ import annotations

import uuid
from typing import Any

from domain.audited import Audited


class DomainPool(Audited):
    class Event(Audited.Event):
        pass

    class Created(Event, Audited.Created):
        name: str
        description: str
        domains: list[str]

    class Edited(Event):
        changes: dict[str, Any]

        def apply_to(self, pool: DomainPool) -> None:
            for key, value in self.changes.items():
                setattr(pool, key, value)

    def __init__(self, name: str, description: str, domains: list[str]) -> None:
        self.name = name
        self.description = description
        self.domains = list(domains)

    @classmethod
    def create(
        cls,
        name: str,
        description: str,
        domains: list[str],
        *,
        actor: str,
        command_id: str | None = None,
        pool_id: uuid.UUID | None = None,
    ) -> DomainPool:
        return cls._create(
            cls.Created,
            id=pool_id or uuid.uuid4(),
            name=name,
            description=description,
            domains=domains,
            actor=actor,
            reason="created",
            command_id=command_id,
        )

    def edit(
        self,
        changes: dict[str, Any],
        *,
        actor: str,
        reason: str = "",
        command_id: str | None = None,
    ) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self.trigger_event(
                self.Edited,
                changes=changes,
                actor=actor,
                reason=reason or "edited",
                command_id=command_id,
            )

    def edited_domains(self, add: list[str], remove: list[str]) -> list[str]:
        domains = [name for name in self.domains if name not in remove]
        return domains + [name for name in add if name not in domains]
