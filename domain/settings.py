"""Platform settings: the global per-domain messaging limit (F10)."""

from __future__ import annotations

from domain.audited import Audited, id_for_name
from domain.pricing import DEFAULT_PRICES

DEFAULT_DOMAIN_LIMIT = 10_000

SETTINGS_ID = id_for_name("settings", "platform")


class PlatformSettings(Audited):
    class Event(Audited.Event):
        pass

    class Created(Event, Audited.Created):
        pass

    class DomainLimitSet(Event):
        limit: int

        def apply_to(self, settings: PlatformSettings) -> None:
            settings.domain_limit = self.limit

    class PricesSet(Event):
        prices: dict[str, str]

        def apply_to(self, settings: PlatformSettings) -> None:
            settings.prices = dict(self.prices)

    def __init__(self) -> None:
        self.domain_limit = DEFAULT_DOMAIN_LIMIT
        self.prices = dict(DEFAULT_PRICES)

    @classmethod
    def create(cls, *, actor: str) -> PlatformSettings:
        return cls._create(
            cls.Created, id=SETTINGS_ID, actor=actor, reason="created", command_id=None
        )

    def set_domain_limit(
        self, limit: int, *, actor: str, reason: str = "", command_id: str | None = None
    ) -> None:
        if limit != self.domain_limit:
            self.trigger_event(
                self.DomainLimitSet,
                limit=limit,
                actor=actor,
                reason=reason or f"domain limit set to {limit}",
                command_id=command_id,
            )

    def set_prices(
        self, prices: dict[str, str], *, actor: str, reason: str = "", command_id: str | None = None
    ) -> None:
        if prices != self.prices:
            self.trigger_event(
                self.PricesSet,
                prices=prices,
                actor=actor,
                reason=reason or f"price table set ({len(prices)} prefixes)",
                command_id=command_id,
            )
