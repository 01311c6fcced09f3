"""The access rules: which roles may call each operation, one rule per route and method.

Every route the app serves has its rule here (`tests/integration/test_access_matrix.py`
fails for one that has none, and a route without a rule is refused to all but admin). The
OpenAPI document states each rule (`x-roles`), from this table.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute

from domain.roles import ADMIN, ANALYST, CARRIER, MANAGER, PEOPLE, SUPPORT

WEBSOCKET = "WEBSOCKET"  # the method under which a WebSocket route's rule is kept


@dataclass(frozen=True)
class Rule:
    """Who may call an operation: nobody needs a token when `public`, else one of `roles`."""

    roles: tuple[str, ...]
    why: str
    public: bool = False

    def allows(self, role: str | None) -> bool:
        return self.public or (role is not None and role in self.roles)

    @property
    def sentence(self) -> str:
        if self.public:
            return f"Access: public, no token needed ({self.why})."
        return f"Access: roles {', '.join(self.roles)} ({self.why})."


PUBLIC_OPERATIONS = Rule((), "operations, for probes and scrapers", public=True)
PUBLIC_LINKS = Rule((), "recipients follow the links in their messages", public=True)
PUBLIC_SIGN_IN = Rule((), "the way in", public=True)
READ = Rule(PEOPLE, "every person's role reads")
AUDIT = Rule((ANALYST, SUPPORT, MANAGER, ADMIN), "the audit trail: not for the wall")
EXPORT = Rule((ANALYST, ADMIN), "the whole event history, for export and replay")
MANAGE = Rule((MANAGER, ADMIN), "campaign managers' commands")
CARRIERS = Rule((CARRIER, ADMIN), "carriers' machines")
SIGNED_RECEIPTS = Rule((), "signed with the stream's signing secret", public=True)
TOKENS = Rule((ADMIN,), "tokens are the admin's")

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC_OPERATIONS,
    ("GET", "/readyz"): PUBLIC_OPERATIONS,
    ("GET", "/metrics"): PUBLIC_OPERATIONS,
    ("GET", "/openapi.json"): PUBLIC_OPERATIONS,
    # Campaigns.
    ("POST", "/api/campaigns"): MANAGE,
    ("GET", "/api/campaigns"): READ,
    ("GET", "/api/campaigns/{id}"): READ,
    ("PATCH", "/api/campaigns/{id}"): MANAGE,
    ("POST", "/api/campaigns/{id}/duplicate"): MANAGE,
    ("GET", "/api/campaigns/{id}/history"): AUDIT,
    ("GET", "/api/campaigns/{id}/disclosures"): AUDIT,
    ("POST", "/api/campaigns/{id}/{command}"): MANAGE,
    ("GET", "/api/campaigns/{id}/stats"): READ,
    ("GET", "/api/campaigns/{id}/messages"): READ,
    ("GET", "/api/campaigns/{id}/estimate"): READ,
    # Domains, pools, settings, streams, contact lists.
    ("POST", "/api/domains"): MANAGE,
    ("GET", "/api/domains"): READ,
    ("POST", "/api/domains/{name}/{command}"): MANAGE,
    ("GET", "/api/settings"): READ,
    ("PUT", "/api/settings/domain-limit"): MANAGE,
    ("PUT", "/api/settings/prices"): MANAGE,
    ("POST", "/api/domain-pools"): MANAGE,
    ("GET", "/api/domain-pools"): READ,
    ("GET", "/api/domain-pools/{id}"): READ,
    ("PATCH", "/api/domain-pools/{id}"): MANAGE,
    ("GET", "/api/streams"): READ,
    ("POST", "/api/streams"): MANAGE,
    ("PATCH", "/api/streams/{name}"): MANAGE,
    ("POST", "/api/contact-lists"): MANAGE,
    ("GET", "/api/contact-lists"): READ,
    ("GET", "/api/contact-lists/{id}"): READ,
    # History, carriers, tokens.
    ("GET", "/api/events"): EXPORT,
    ("POST", "/api/carrier/receipts"): CARRIERS,
    ("POST", "/api/inbound"): CARRIERS,
    ("POST", "/api/streams/{name}/receipts"): SIGNED_RECEIPTS,
    ("GET", "/api/tokens"): TOKENS,
    ("POST", "/api/tokens"): TOKENS,
    ("DELETE", "/api/tokens/{id}"): TOKENS,
    ("GET", "/api/me"): READ,
    # Links in messages.
    ("GET", "/s/{code}"): PUBLIC_LINKS,
    ("GET", "/o/{code}"): PUBLIC_LINKS,
    ("POST", "/o/{code}"): PUBLIC_LINKS,
    # Pages, the wall and its feed.
    ("GET", "/sign-in"): PUBLIC_SIGN_IN,
    ("POST", "/sign-in"): PUBLIC_SIGN_IN,
    ("POST", "/sign-out"): Rule((), "ends the caller's own sign-in, if any", public=True),
    ("GET", "/"): READ,
    ("GET", "/campaigns"): READ,
    ("GET", "/campaigns/new"): MANAGE,  # the wizard only saves through MANAGE's commands
    ("GET", "/campaigns/{id}/wizard"): MANAGE,
    ("GET", "/campaigns/{id}"): READ,
    ("GET", "/domains"): READ,
    ("GET", "/pools"): READ,
    ("GET", "/contact-lists"): READ,
    ("GET", "/streams"): READ,
    ("GET", "/realtime"): READ,
    (WEBSOCKET, "/ws/realtime"): READ,
    (WEBSOCKET, "/ws/replay"): EXPORT,  # the history replayed: the analysts' replay
    ("GET", "/campaigns/{id}/audit"): AUDIT,
    ("GET", "/campaigns/{id}/at"): READ,
    ("GET", "/static"): Rule((), "the pages' scripts and styles", public=True),
}

# Refused to all but admin: a route someone forgot to give a rule stays closed.
NO_RULE = Rule((ADMIN,), "no rule was written for this operation")

# Forms that check their own CSRF field (they are posted by plain HTML forms).
OWN_CSRF_CHECK = frozenset({"/sign-in", "/sign-out"})


def method_of(scope: MutableMapping[str, Any]) -> str:
    if scope["type"] == "websocket":
        return WEBSOCKET
    method = str(scope["method"])
    return "GET" if method == "HEAD" else method  # Starlette serves HEAD with GET


def route_of(routes: list[BaseRoute], scope: MutableMapping[str, Any]) -> BaseRoute | None:
    """The route the router will pick: the first full match (method included)."""
    for route in routes:
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def rule_for(routes: list[BaseRoute], scope: MutableMapping[str, Any]) -> tuple[str, Rule] | None:
    """The matching route's path template and its rule; None when no route serves the
    request (the router answers 404 or 405, which need no rule)."""
    route = route_of(routes, scope)
    if route is None:
        return None
    template = getattr(route, "path", "")
    return template, RULES.get((method_of(scope), template), NO_RULE)


def operations(routes: list[BaseRoute]) -> list[tuple[str, str]]:
    """Every (method, path template) the routes serve; HEAD is GET's."""
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Route):
            methods = sorted((route.methods or set()) - {"HEAD"})
            found += [(method, route.path) for method in methods]
        elif isinstance(route, WebSocketRoute):
            found.append((WEBSOCKET, route.path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path))
    return found
