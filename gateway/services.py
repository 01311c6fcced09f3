"""What the gateway needs from the composition root, and nothing more."""

from __future__ import annotations

from typing import Protocol

from domain.application import CampaignPlatform
from infra.contacts import ContactStore
from infra.sending import Sending
from projections.campaign_list import CampaignListView
from projections.database import Database
from projections.messages import EventMessage
from projections.projector import Projector


class Services(Protocol):
    app: CampaignPlatform
    database: Database
    campaign_list: CampaignListView
    projector: Projector
    sending: Sending  # its activity store: messages, receipts, clicks, opt-outs, replies
    contacts: ContactStore

    def wait_for_own_writes(self) -> bool: ...

    def read_events(self, after: int, limit: int) -> list[EventMessage]: ...
