"""What the signed-in role may do on the pages, read from the access rules (gateway.access):
the pages show only the controls whose operations the role may call, so nobody is offered a
button that ends in 403.

base.html states these facts once, as data attributes of <body>, for the templates and the
scripts alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.access import RULES, WEBSOCKET

# The operations behind each group of controls: a role has the group when the rules let it
# call every one of them.
MANAGE_OPERATIONS = (
    ("POST", "/api/campaigns"),
    ("PATCH", "/api/campaigns/{id}"),
    ("POST", "/api/campaigns/{id}/{command}"),
    ("POST", "/api/campaigns/{id}/duplicate"),
    ("GET", "/campaigns/new"),
    ("GET", "/campaigns/{id}/wizard"),
    ("POST", "/api/domains"),
    ("POST", "/api/domains/{name}/{command}"),
    ("PUT", "/api/settings/domain-limit"),
    ("POST", "/api/domain-pools"),
    ("PATCH", "/api/domain-pools/{id}"),
    ("POST", "/api/contact-lists"),
    ("POST", "/api/streams"),
    ("PATCH", "/api/streams/{name}"),
)
AUDIT_OPERATIONS = (
    ("GET", "/api/campaigns/{id}/history"),
    ("GET", "/campaigns/{id}/audit"),
)
REPLAY_OPERATIONS = ((WEBSOCKET, "/ws/replay"),)


def allowed(role: str | None, operations: tuple[tuple[str, str], ...]) -> bool:
    return all(RULES[operation].allows(role) for operation in operations)


@dataclass(frozen=True)
class PageAccess:
    """`manage`: create, edit and command campaigns, domains, pools, contact lists and
    streams (the wizard included); `audit`: a campaign's history; `replay`: the wall's replay."""

    manage: bool = False
    audit: bool = False
    replay: bool = False

    @classmethod
    def of(cls, role: str | None) -> PageAccess:
        return cls(
            manage=allowed(role, MANAGE_OPERATIONS),
            audit=allowed(role, AUDIT_OPERATIONS),
            replay=allowed(role, REPLAY_OPERATIONS),
        )


def page_access(principal: Any) -> PageAccess:
    """Nobody signed in (the sign-in page, recipients' pages): no controls at all."""
    return PageAccess.of(getattr(principal, "role", None)) if principal else PageAccess()
