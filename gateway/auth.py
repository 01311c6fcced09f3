"""Authentication and access control for every HTTP request and WebSocket.

A request proves who it is with `Authorization: Bearer <token>` (scripts, kiosks, carriers)
or with the session cookie of a sign-in (browsers). The middleware finds the route's rule
(gateway.access), and lets the request through, or answers 401 `unauthorized` (pages: a
redirect to the sign-in page), 403 `forbidden` (pages: a page saying so), or, for a
WebSocket, an error message and a close with 1008. Requests authenticated by the cookie
must prove they come from our pages: unsafe methods carry the session's CSRF token in
`X-CSRF-Token`, WebSockets an `Origin` of this host. The token's actor (its name, with its
short id when an earlier token had that name: projections.tokens) is the actor of whatever
the request changes.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access import OWN_CSRF_CHECK, Rule, rule_for
from gateway.errors import error_response
from gateway.services import Services
from projections.tokens import AccessToken, digest_of

SESSION_COOKIE = "campaigns_session"
CSRF_COOKIE = "campaigns_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_SECONDS = 5.0  # a token revoked by another process stops working within this
CACHE_LIMIT = 10_000
POLICY_VIOLATION = 1008

# The page a signed-in browser gets for a page its role may not open (the scope, and why).
ForbiddenPage = Callable[[Scope, str], Response]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name, role and actor; with a sign-in cookie, its session."""

    name: str
    role: str
    token_id: str
    actor: str  # recorded in the events the request causes: one token's, never the platform's
    session: str | None = None  # the session's secret, when signed in by the cookie
    csrf: str | None = None

    @classmethod
    def of(
        cls, token: AccessToken, session: str | None = None, csrf: str | None = None
    ) -> Principal:
        return cls(token.name, token.role, token.id, token.actor, session, csrf)

    @property
    def by_cookie(self) -> bool:
        return self.session is not None


class Authenticator:
    """Looks tokens and sessions up in the store, keeping answers for a few seconds: most
    requests then cost no trip to the database (nor to the threadpool)."""

    def __init__(self, platform: Services) -> None:
        self.platform = platform  # its token store is looked up when first needed
        self.cache: dict[str, tuple[float, Principal | None]] = {}

    async def by_bearer(self, secret: str) -> Principal | None:
        async def look_up() -> Principal | None:
            token = await run_in_threadpool(self.platform.tokens.find, secret)
            return None if token is None else Principal.of(token)

        return await self.cached("bearer:" + digest_of(secret), look_up)

    async def by_session(self, secret: str) -> Principal | None:
        async def look_up() -> Principal | None:
            session = await run_in_threadpool(self.platform.tokens.find_session, secret)
            if session is None:
                return None
            return Principal.of(session.token, secret, session.csrf)

        return await self.cached("session:" + digest_of(secret), look_up)

    async def cached(
        self, key: str, look_up: Callable[[], Awaitable[Principal | None]]
    ) -> Principal | None:
        now = time.monotonic()
        kept = self.cache.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        found: Principal | None = await look_up()
        if len(self.cache) >= CACHE_LIMIT:
            self.cache.clear()
        self.cache[key] = (now + CACHE_SECONDS, found)
        return found

    def forget(self) -> None:
        """After a revocation or a sign-out here: no kept answer outlives it."""
        self.cache.clear()

    async def still_valid(self, principal: Principal, headers: Headers) -> bool:
        """Whether the credential in `headers` still names `principal`'s token: asked again
        while a WebSocket is open, through the cache (a revocation here clears it; one
        elsewhere shows within CACHE_SECONDS)."""
        again = await self.identify(headers)
        return again is not None and again.token_id == principal.token_id

    async def identify(self, headers: Headers) -> Principal | None:
        """The bearer token wins over the cookie: a bearer request needs no CSRF token."""
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, secret = authorization.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return None
            return await self.by_bearer(secret.strip())
        session = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        if session:
            return await self.by_session(session)
        return None


class AccessControl:
    """ASGI middleware: the rule of the route a request goes to, applied before it runs.
    It reads the app's routes as they are now: a route added later gets a rule too (with
    none written, only admin passes)."""

    def __init__(self, app: ASGIApp, forbidden_page: ForbiddenPage | None = None) -> None:
        self.app = app
        self.forbidden_page = forbidden_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        routes: list[BaseRoute] = scope["app"].routes
        found = rule_for(routes, scope)
        if found is None:  # no route: the router's 404 or 405
            await self.app(scope, receive, send)
            return
        template, rule = found
        headers = Headers(scope=scope)
        authenticator: Authenticator = scope["app"].state.authenticator
        principal = await authenticator.identify(headers)
        if principal is not None:
            state = scope.setdefault("state", {})
            state["principal"] = principal
            state["actor"] = principal.actor
        refusal = None if rule.public else refusal_of(scope, headers, template, rule, principal)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await refuse_websocket(receive, send, *refusal)
        else:
            await refuse_http(scope, receive, send, headers, *refusal, self.forbidden_page)


def refusal_of(
    scope: Scope, headers: Headers, template: str, rule: Rule, principal: Principal | None
) -> tuple[str, str] | None:
    """Why the request may not go on (an error code and a message), or None."""
    if principal is None:
        return "unauthorized", "sign in, or send Authorization: Bearer <token>"
    if not rule.allows(principal.role):
        return "forbidden", f"the {principal.role} role may not do this; {rule.sentence}"
    if not principal.by_cookie:
        return None
    if scope["type"] == "websocket":
        if not same_origin(headers):
            return "forbidden", "the Origin header must be this site when signed in by cookie"
        return None
    if scope["method"] in SAFE_METHODS or template in OWN_CSRF_CHECK:
        return None
    offered = headers.get(CSRF_HEADER, "")
    if not principal.csrf or not hmac.compare_digest(offered.encode(), principal.csrf.encode()):
        return "forbidden", "missing or wrong X-CSRF-Token header (the campaigns_csrf cookie)"
    return None


def same_origin(headers: Headers) -> bool:
    origin, host = headers.get("origin", ""), headers.get("host", "")
    return bool(origin and host) and urlsplit(origin).netloc.lower() == host.lower()


def is_page(scope: Scope, headers: Headers) -> bool:
    """A browser asking for a page: sent to sign in rather than given an error (scripts
    that sent a bad token get the error)."""
    return (
        scope["method"] in ("GET", "HEAD")
        and not str(scope["path"]).startswith("/api/")
        and "authorization" not in headers
    )


async def refuse_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: Headers,
    code: str,
    message: str,
    forbidden_page: ForbiddenPage | None = None,
) -> None:
    response: Any
    if code == "unauthorized" and is_page(scope, headers):
        target = scope["path"] + (
            "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
        )
        response = RedirectResponse("/sign-in?" + urlencode({"next": target}), status_code=303)
    elif code == "forbidden" and forbidden_page is not None and is_page(scope, headers):
        response = forbidden_page(scope, message)
    else:
        extra = {"WWW-Authenticate": 'Bearer realm="campaigns"'} if code == "unauthorized" else {}
        response = error_response(
            401 if code == "unauthorized" else 403, code, message, headers=extra
        )
    await response(scope, receive, send)


async def refuse_websocket(receive: Receive, send: Send, code: str, message: str) -> None:
    """Accepts only to say why, then closes: the wall shows the reason (and goes to the
    sign-in page when signed out) instead of retrying blindly."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    text = json.dumps({"type": "error", "error": {"code": code, "message": message}})
    await send({"type": "websocket.send", "text": text})
    await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": message[:120]})
