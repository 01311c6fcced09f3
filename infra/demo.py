"""Sample data for `campaigns demo`: domains, a pool and campaigns in several statuses."""

from __future__ import annotations

import uuid

from domain.application import CampaignPlatform

DEMO_DOMAINS = ["go.example-shop.com", "link.example-shop.com", "stop.example-shop.com"]


def add_demo_data(app: CampaignPlatform) -> str:
    """Adds the sample data once (an existing demo pool means it is there); says what."""
    if any(pool.name == "Demo links" for pool in app.list_pools()):
        return ""
    actor = "demo"
    app.add_domains(DEMO_DOMAINS, actor=actor)
    for name in DEMO_DOMAINS:
        app.change_domain_status(name, "configure", actor=actor)
    pool = app.create_pool(
        {"name": "Demo links", "description": "Domains of the demo shop", "domains": DEMO_DOMAINS[:2]},
        actor=actor,
    )
    contact_list = str(uuid.uuid5(uuid.NAMESPACE_URL, "campaigns-demo-list"))
    base = {
        "type": "outbound",
        "stream": "demo",
        "sender": "DemoShop",
        "contact_lists": [contact_list],
        "links": {
            "short": {"target": "https://example-shop.com/sale", "pool": str(pool.id)},
            "optout": {"domains": [DEMO_DOMAINS[2]]},
        },
    }
    spring = app.create_campaign(
        {
            **base,
            "name": "Spring sale",
            "tags": ["promo", "spring"],
            "variants": [
                {"text": "Hi {first_name}, 20% off all week: {short_url} Stop: {optout_url}", "weight": 3},
                {"text": "{first_name}, spring deals inside: {short_url} Stop: {optout_url}", "weight": 1},
            ],
        },
        actor=actor,
    )
    app.change_campaign_status(spring.id, "launch", actor=actor)
    app.create_campaign(
        {**base, "name": "Loyalty reminder", "tags": ["loyalty"], "variants": []}, actor=actor
    )
    app.create_campaign(
        {
            **base,
            "name": "Order updates",
            "type": "transactional",
            "tags": ["service"],
            "variants": [{"text": "Your order is on its way: {short_url}", "weight": 1}],
        },
        actor=actor,
    )
    return "3 domains, 1 pool, 3 campaigns"
