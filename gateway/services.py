"""What the gateway needs from the composition root, and nothing more."""

from __future__ import annotations

from typing import Protocol

from domain.application import CampaignPlatform
from domain.pricing import PriceTable
from infra.contacts import ContactStore
from projections.activity import ActivityStore
from projections.campaign_list import CampaignListView
from projections.database import Database
from projections.messages import EventMessage
from projections.projector import Projector


class Services(Protocol):
    app: CampaignPlatform
    database: Database
    campaign_list: CampaignListView
    projector: Projector
    contacts: ContactStore

    @property
    def activity(self) -> ActivityStore:
        """Messages, receipts, clicks, opt-outs, replies and the stats counted from them."""

    def wait_for_own_writes(self) -> bool: ...

    def prices(self) -> PriceTable: ...

    def read_events(self, after: int, limit: int) -> list[EventMessage]: ...
