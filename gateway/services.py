"""What the gateway needs from the composition root, and nothing more."""

from __future__ import annotations

from typing import Any, Protocol, TextIO

from domain.application import CampaignPlatform
from domain.contact_list import ImportResult
from domain.pricing import PriceTable
from gateway.realtime import Feed
from projections.activity import Activity
from projections.campaign_list import CampaignListView
from projections.carrier_log import CarrierLog, LinkState
from projections.database import Database
from projections.database_health import DatabaseHealth
from projections.disclosures import DisclosureLog
from projections.leases import Lease
from projections.messages import EventMessage
from projections.projector import Projector
from projections.sign_in_failures import SignInFailures
from projections.tokens import TokenStore


class ContactImports(Protocol):
    """Imports an uploaded CSV as a new contact list, whole or not at all."""

    def import_stream(
        self, stream: TextIO, name: str, *, actor: str, command_id: str | None = None
    ) -> ImportResult: ...


class Services(Protocol):
    database: Database
    campaign_list: CampaignListView
    projector: Projector
    tokens: TokenStore
    sign_in_failures: SignInFailures

    @property
    def app(self) -> CampaignPlatform: ...

    @property
    def contacts(self) -> ContactImports: ...

    @property
    def activity(self) -> Activity:
        """Messages, receipts, clicks, opt-outs, replies and the stats counted from them."""

    @property
    def disclosures(self) -> DisclosureLog:
        """Who was shown personal data (recipients' numbers, links, contact columns)."""

    def wait_for_own_writes(self) -> bool: ...

    def prices(self) -> PriceTable: ...

    def read_events(self, after: int, limit: int) -> list[EventMessage]: ...

    def kafka_check(self) -> dict[str, Any] | None:
        """Kafka's part of readiness; None where Kafka is not configured."""

    def realtime_feed(self) -> Feed:
        """The realtime rows' changes for this process's WebSocket hub."""

    def stream_leases(self) -> dict[str, Lease]:
        """Every stream's lease: which sending process owns it, under which epoch."""

    def stream_links(self) -> dict[str, LinkState]:
        """Each real carrier's stream link, as its owning process last wrote it down."""

    def carrier_log(self) -> CarrierLog:
        """What real carriers were handed and answered; the streams' signing secrets."""

    def positions(self) -> dict[str, int]:
        """Store positions reached along the pipeline (stored, relayed, projected)."""

    def read_model_positions(self) -> dict[str, int]:
        """The store position each event-fed read model reflects, by its name."""

    def outbox_backlog(self) -> int | None:
        """Activity records waiting in the outbox for Kafka; None without Kafka."""

    def database_health(self) -> DatabaseHealth | None:
        """Dead rows, old and idle-in-transaction sessions of the read models' database, and
        how far each Kafka consumer is behind its topic; None on SQLite."""

    def realtime_position(self) -> int:
        """The realtime rows' change log position (what the walls' hubs follow)."""

    def message_totals(self) -> dict[str, dict[str, int]]:
        """Messages per sending stream, by status, as the campaigns' stats count them."""
