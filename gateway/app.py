"""The Starlette application: one routes table, the error format, and a lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from domain.roles import ADMIN
from gateway import (
    api,
    campaign_activity,
    carrier,
    contact_lists,
    disclosures,
    links,
    realtime,
    replay,
    tokens_api,
)
from gateway.auth import AccessControl, Authenticator
from gateway.clicks import AddressLimit, ClickWriter
from gateway.errors import EXCEPTION_HANDLERS
from gateway.metrics import Metrics, RequestTimer, metrics
from gateway.openapi import openapi_json
from gateway.pages.campaigns import forbidden_page, page_routes, static_files
from gateway.pages.sign_in import sign_in_routes
from gateway.pages.wall import wall_routes
from gateway.schemas.answers import answer
from gateway.schemas.operations_answers import Health
from gateway.security_headers import SecurityHeaders
from gateway.services import Services

log = logging.getLogger(__name__)


async def healthz(_request: Request) -> Response:
    return answer(Health(status="ok"))


# What a failed check says to whoever asks; the error itself goes to the log, and to admins.
NOT_READY = {
    "store": "the event store did not answer",
    "read_models": "the read models did not answer",
    "kafka": "no Kafka broker answered",
}


async def readyz(request: Request) -> Response:
    """Whether the store, the read models and Kafka (where configured) answer. The
    public answer says which part failed; the driver's own error (hosts, users) is logged
    and shown to admins only."""
    platform: Services = request.app.state.platform
    checks: dict[str, Any] = {}
    errors: dict[str, str] = {}

    async def check(name: str, probe: Callable[[], dict[str, Any] | None]) -> None:
        try:
            found = await run_in_threadpool(probe)
        except Exception as error:  # any failure of a part means not ready
            found = {"ok": False, "error": str(error)}
        if found is None:
            return
        if not found["ok"]:
            errors[name] = str(found.pop("error", "") or NOT_READY[name])
            found["error"] = NOT_READY[name]
        checks[name] = found

    await check("store", lambda: {"ok": True, "position": store_position(platform)})
    await check("read_models", lambda: {"ok": True, "position": platform.projector.position()})
    await check("kafka", platform.kafka_check)
    for name, error in errors.items():
        log.warning("not ready: %s: %s", NOT_READY[name], error)
    principal = getattr(request.state, "principal", None)
    if errors and principal is not None and principal.role == ADMIN:
        for name, error in errors.items():
            checks[name]["details"] = error
    ready = not errors
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def store_position(platform: Services) -> int:
    return platform.app.recorder.max_notification_id() or 0


async def openapi(_request: Request) -> Response:
    return Response(openapi_json(), media_type="application/json")


def create_app(platform: Services, *, own_platform: bool = False) -> Starlette:
    """The web application over a built platform. With `own_platform`, the app starts it
    when it starts and closes it when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_platform:
            await run_in_threadpool(platform.start)  # type: ignore[attr-defined]
        hub = app.state.hub = realtime.Hub(platform.realtime_feed())
        await hub.start()
        app.state.clicks.start()
        try:
            yield
        finally:
            await app.state.clicks.stop()
            await hub.stop()
            if own_platform:
                await run_in_threadpool(platform.close)  # type: ignore[attr-defined]

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *api.routes,
        *campaign_activity.routes,
        *carrier.routes,
        *contact_lists.routes,
        *disclosures.routes,
        *links.routes,
        *realtime.routes,
        *replay.routes,
        *tokens_api.routes,
        *sign_in_routes,
        *page_routes,
        *wall_routes,
        Mount("/static", app=static_files(), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestTimer),  # first: it times refusals and errors too
            Middleware(SecurityHeaders),
            Middleware(AccessControl, forbidden_page=forbidden_page),
        ],
    )
    app.state.platform = platform
    app.state.authenticator = Authenticator(platform)
    app.state.clicks = ClickWriter(
        lambda clicks: platform.activity.engagement.record_clicks(clicks)
    )
    app.state.link_limit = AddressLimit()
    app.state.disclosures = disclosures.DisclosureRecorder(
        lambda disclosure: platform.disclosures.add(disclosure)
    )
    app.state.replay_slots = replay.ReplaySlots()
    app.state.metrics = Metrics(platform, app.state)
    return app
