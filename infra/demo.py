"""Sample data for `campaigns demo`: domains, a pool, a contact list, and campaigns that
keep sending on the demo stream (a finished one is duplicated and launched again)."""

from __future__ import annotations

import io
import logging
import threading
import uuid
from typing import Any

from domain.campaign import Campaign
from domain.roles import ADMIN
from domain.status import FINAL, Status
from infra.bootstrap import Platform

log = logging.getLogger(__name__)

DEMO_DOMAINS = ["go.example-shop.com", "link.example-shop.com", "stop.example-shop.com"]
DEMO_TAG = "demo"
DEMO_RATE = 25  # messages per second on the demo stream: a campaign sends for minutes
CONTACTS = 6000
FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dev", "Ema", "Finn", "Grace", "Hugo", "Iris", "Jon")
ACTOR = "demo"
DEMO_ADMIN = "demo-admin"  # the token `campaigns demo` prints for signing in
DEMO_TOKEN_FILE = "demo-admin-token"


def demo_contacts() -> str:
    lines = ["phone,first_name,city"]
    cities = ("London", "Leeds", "Bristol", "Glasgow")
    for n in range(CONTACTS):
        lines.append(f"+4477009{n:05d},{FIRST_NAMES[n % 10]},{cities[n % 4]}")
    return "\n".join(lines) + "\n"


def add_demo_data(platform: Platform) -> str:
    """Adds the sample data once (an existing demo pool means it is there); says what."""
    app = platform.app
    if any(pool.name == "Demo links" for pool in app.list_pools()):
        return ""
    app.add_domains(DEMO_DOMAINS, actor=ACTOR)
    for name in DEMO_DOMAINS:
        app.change_domain_status(name, "configure", actor=ACTOR)
    pool = app.create_pool(
        {
            "name": "Demo links",
            "description": "Domains of the demo shop",
            "domains": DEMO_DOMAINS[:2],
        },
        actor=ACTOR,
    )
    people = platform.contacts.import_stream(
        io.StringIO(demo_contacts()), "Demo shop customers", actor=ACTOR
    )
    app.change_stream("demo", {"rate": DEMO_RATE}, actor=ACTOR)
    base: dict[str, Any] = {
        "type": "outbound",
        "stream": "demo",
        "sender": "DemoShop",
        "contact_lists": [str(people.list_id)],
        "links": {
            "short": {"target": "https://example-shop.com/sale", "pool": str(pool.id)},
            "optout": {"domains": [DEMO_DOMAINS[2]]},
        },
        "pause_rules": [{"metric": "failure_rate", "above": 40, "after": 200}],
        "ctr_indicators": {"red_below": 3, "green_from": 6},
    }
    spring = app.create_campaign(
        {
            **base,
            "name": "Spring sale",
            "tags": [DEMO_TAG, "promo"],
            "variants": [
                {
                    "text": "Hi {first_name}, 20% off all week: {short_url} Stop: {optout_url}",
                    "weight": 3,
                },
                {
                    "text": "{first_name}, spring deals in {city}: {short_url} Stop: {optout_url}",
                    "weight": 1,
                },
            ],
        },
        actor=ACTOR,
    )
    app.change_campaign_status(spring.id, "launch", actor=ACTOR)
    updates = app.create_campaign(
        {
            **base,
            "name": "Order updates",
            "type": "transactional",
            "tags": [DEMO_TAG, "service"],
            "variants": [{"text": "{first_name}, your order is on its way: {short_url}"}],
        },
        actor=ACTOR,
    )
    app.change_campaign_status(updates.id, "launch", actor=ACTOR)
    app.create_campaign(
        {**base, "name": "Loyalty reminder (draft)", "tags": ["loyalty"], "variants": []},
        actor=ACTOR,
    )
    return f"3 domains, 1 pool, {CONTACTS} contacts, 3 campaigns (2 sending)"


def demo_sign_in_token(platform: Platform) -> str:
    """The demo's admin token, made once per data directory: its secret is kept in a file
    there (readable by its owner only) so that every start prints the same one. The store
    itself keeps only its digest, as for every token."""
    path = platform.settings.data_dir / DEMO_TOKEN_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret and platform.tokens.find(secret) is not None:
            return secret
    platform.tokens.revoke(DEMO_ADMIN)  # its secret was lost with the file: a new one
    _token, secret = platform.tokens.create(DEMO_ADMIN, ADMIN)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


class DemoLoop:
    """Keeps the demo busy: when a demo campaign ends, a duplicate of it is launched."""

    def __init__(self, platform: Platform, every: float = 10.0) -> None:
        self.platform = platform
        self.every = every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="demo-loop", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.relaunch_ended()
            except Exception:  # the demo must not stop the platform
                log.exception("the demo loop failed; trying again later")

    def relaunch_ended(self) -> None:
        platform = self.platform
        rows = platform.campaign_list.with_statuses(platform.database, [s.value for s in Status])
        campaigns = [platform.app.get_campaign(uuid.UUID(i)) for i, _ in rows]
        demo = [c for c in campaigns if DEMO_TAG in c.fields.get("tags", [])]
        live = {c.fields["name"].removesuffix(" (copy)") for c in demo if c.status not in FINAL}
        for campaign in demo:
            name = campaign.fields["name"].removesuffix(" (copy)")
            if campaign.status in FINAL and name not in live and self.is_latest(campaign, demo):
                self.relaunch(campaign)
                live.add(name)

    @staticmethod
    def is_latest(campaign: Campaign, demo: list[Campaign]) -> bool:
        name = campaign.fields["name"].removesuffix(" (copy)")
        same = [c for c in demo if c.fields["name"].removesuffix(" (copy)") == name]
        return max(same, key=lambda c: c.created_on) is campaign

    def relaunch(self, campaign: Campaign) -> None:
        app = self.platform.app
        copy = app.duplicate_campaign(campaign.id, actor=ACTOR)
        app.edit_campaign(
            copy.id,
            {"name": campaign.fields["name"].removesuffix(" (copy)")},
            actor=ACTOR,
            reason="the demo sends it again",
        )
        app.change_campaign_status(copy.id, "launch", actor=ACTOR, reason="the demo goes on")
