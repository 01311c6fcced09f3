"""The Starlette application: one routes table, the error format, and a lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gateway import (
    api,
    campaign_activity,
    carrier,
    contact_lists,
    links,
    realtime,
    replay,
    tokens_api,
)
from gateway.auth import AccessControl, Authenticator
from gateway.errors import EXCEPTION_HANDLERS
from gateway.openapi import openapi_document
from gateway.services import Services
from web.pages import forbidden_page, page_routes, static_files
from web.sign_in import SignInThrottle, sign_in_routes
from web.wall import wall_routes


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    platform: Services = request.app.state.platform
    checks: dict[str, Any] = {}
    try:
        checks["store"] = {
            "ok": True,
            "position": await run_in_threadpool(platform.app.recorder.max_notification_id) or 0,
        }
    except Exception as error:  # any failure of the store means not ready
        checks["store"] = {"ok": False, "error": str(error)}
    try:
        checks["read_models"] = {
            "ok": True,
            "position": await run_in_threadpool(platform.projector.position),
        }
    except Exception as error:
        checks["read_models"] = {"ok": False, "error": str(error)}
    try:
        kafka = await run_in_threadpool(platform.kafka_check)
        if kafka is not None:
            checks["kafka"] = kafka
    except Exception as error:
        checks["kafka"] = {"ok": False, "error": str(error)}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


METRICS = {
    "stored": "Events saved in the store (its last position).",
    "relayed": "Events the relay has published to Kafka (the last position it reached).",
    "projected": "Events applied to the read models (the last position they reflect).",
}


async def metrics(request: Request) -> Response:
    """Prometheus text: positions along the pipeline as counters (their rates are the
    throughputs) and the lags between them."""
    platform: Services = request.app.state.platform
    positions = await run_in_threadpool(platform.positions)
    lines = []
    for name, value in positions.items():
        metric = f"campaigns_events_{name}_total"
        lines += [
            f"# HELP {metric} {METRICS[name]}",
            f"# TYPE {metric} counter",
            f"{metric} {value}",
        ]
    stored = positions["stored"]
    for name in ("relayed", "projected"):
        if name in positions:
            metric = f"campaigns_{name}_lag_events"
            lines += [
                f"# HELP {metric} Events stored but not yet {name}.",
                f"# TYPE {metric} gauge",
                f"{metric} {max(0, stored - positions[name])}",
            ]
    hub = getattr(request.app.state, "hub", None)
    if hub is not None:
        lines += [
            "# HELP campaigns_wall_clients WebSocket clients of this gateway's realtime hub.",
            "# TYPE campaigns_wall_clients gauge",
            f"campaigns_wall_clients {hub.clients}",
            "# HELP campaigns_wall_position The realtime change log's position this hub reached.",
            "# TYPE campaigns_wall_position counter",
            f"campaigns_wall_position {max(hub.position, 0)}",
        ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


async def openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


def create_app(platform: Services, *, own_platform: bool = False) -> Starlette:
    """The web application over a built platform. With `own_platform`, the app starts it
    when it starts and closes it when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_platform:
            await run_in_threadpool(platform.start)  # type: ignore[attr-defined]
        hub = app.state.hub = realtime.Hub(platform.realtime_feed())
        await hub.start()
        try:
            yield
        finally:
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
        middleware=[Middleware(AccessControl, forbidden_page=forbidden_page)],
    )
    app.state.platform = platform
    app.state.authenticator = Authenticator(platform)
    app.state.sign_in_throttle = SignInThrottle()
    return app
