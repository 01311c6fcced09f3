"""The Realtime page (F12): the ops wall, fed over `WS /ws/realtime`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.status import FINAL, Status
from gateway.pages.rendering import render

# What the wall shows unless asked otherwise: campaigns on their way (launched, not final).
ON_THEIR_WAY = tuple(s for s in Status if s is not Status.DRAFT and s not in FINAL)


SPEEDS = (
    ("1", "real time"),
    ("10", "10 times"),
    ("60", "60 times (a minute a second)"),
    ("600", "600 times"),
    ("3600", "3,600 times (an hour a second)"),
)


async def realtime_page(request: Request) -> Response:
    chosen = request.query_params.getlist("status")
    query = request.query_params
    replay = None
    if query.get("replay_from") and query.get("replay_to"):
        # The page only carries the choice; WS /ws/replay checks it and says what is wrong.
        replay = {
            "from": query["replay_from"],
            "to": query["replay_to"],
            "speed": query.get("speed", "60"),
        }
    return render(
        "realtime.html",
        request,
        active="realtime",
        replay=replay,
        speeds=SPEEDS,
        statuses=[str(status) for status in Status],
        chosen=chosen if "status" in request.query_params else [str(s) for s in ON_THEIR_WAY],
        name_filter=request.query_params.get("name", ""),
        tag_filter=request.query_params.get("tag", ""),
    )


wall_routes = [Route("/realtime", realtime_page, methods=["GET"])]
