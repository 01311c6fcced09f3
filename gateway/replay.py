"""`WS /ws/replay` (F15): a chosen time range of the history played onto the Realtime page
at a chosen speed, in the wall's own messages, each marked as a replay.

`?from=<time>&to=<time>&speed=<history seconds per second>` and the wall's filters (`name`,
`status`, `tag`). First a `snapshot` of the rows at `from`, then an `update` about four
times a second with the rows the history changed, then `end` (and the server closes). Every
message carries `replay: {"from", "to", "speed", "at"}`, `at` being the moment of the history
it shows.

Each replay loads and plays history, so a gateway plays at most MAX_REPLAYS at once and at
most MAX_REPLAYS_PER_TOKEN for one token (its sessions included); beyond, an `error` and a
close with 1013 (try again later). Like the wall, a replay stops (1008) when its token is
revoked or its session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from domain.fields import format_time
from gateway.realtime import (
    ACCESS_SECONDS,
    TRY_AGAIN_LATER,
    Credential,
    close_for_access,
    encode,
    refuse,
)
from gateway.services import Services
from projections.replay import Replay
from projections.wall import MAX_SPEED, FilterError, Player, RowFilter, parse_moment

TICK_SECONDS = 0.25
MAX_RANGE = timedelta(days=366)
MAX_REPLAYS = 8  # playing at once in one gateway
MAX_REPLAYS_PER_TOKEN = 2


def parse_speed(value: str | None) -> float:
    try:
        speed = float(value or "60")
    except ValueError:
        raise FilterError(f"speed is not a number: {value!r}") from None
    if not 0 < speed <= MAX_SPEED:
        raise FilterError(f"speed must be above 0 and at most {MAX_SPEED:,.0f}")
    return speed


class ReplaySlots:
    """The replays playing in one gateway, counted per token."""

    def __init__(self, most: int = MAX_REPLAYS, per_token: int = MAX_REPLAYS_PER_TOKEN) -> None:
        self.most = most
        self.per_token = per_token
        self.playing: Counter[str] = Counter()

    def take(self, token_id: str) -> str | None:
        """Takes a slot for the token; or says why there is none (and takes nothing)."""
        if self.playing.total() >= self.most:
            return f"this gateway is playing {self.most} replays already: try again later"
        if self.playing[token_id] >= self.per_token:
            return f"this token is playing {self.per_token} replays already: try again later"
        self.playing[token_id] += 1
        return None

    def give_back(self, token_id: str) -> None:
        self.playing[token_id] -= 1
        if self.playing[token_id] <= 0:
            del self.playing[token_id]


def slots_of(websocket: WebSocket) -> ReplaySlots:
    """The gateway's slots (made with the app)."""
    slots: ReplaySlots = websocket.app.state.replay_slots
    return slots


class AccessWatch:
    """Asks about the replay's token or session again every ACCESS_SECONDS."""

    def __init__(self, credential: Credential | None) -> None:
        self.credential = credential
        self.due = time.monotonic() + ACCESS_SECONDS

    async def ended(self) -> bool:
        if self.credential is None or time.monotonic() < self.due:
            return False
        self.due = time.monotonic() + ACCESS_SECONDS
        return not await self.credential.holds()


async def replay(websocket: WebSocket) -> None:
    await websocket.accept()
    params = websocket.query_params
    try:
        start = parse_moment(params.get("from"), "from")
        end = parse_moment(params.get("to"), "to")
        speed = parse_speed(params.get("speed"))
        row_filter = RowFilter.from_query(params)
        if not start < end or end - start > MAX_RANGE:
            raise FilterError("from must come before to, at most a year apart")
    except FilterError as error:
        await refuse(websocket, str(error))
        return
    credential = Credential.of(websocket)
    holder = "" if credential is None else credential.principal.token_id
    slots = slots_of(websocket)
    refusal = slots.take(holder)
    if refusal is not None:
        await refuse_busy(websocket, refusal)
        return
    try:
        await load_and_play(websocket, start, end, speed, row_filter, AccessWatch(credential))
    finally:
        slots.give_back(holder)


async def refuse_busy(websocket: WebSocket, message: str) -> None:
    error = {"code": "too_many_requests", "message": message}
    await websocket.send_text(encode({"type": "error", "error": error}))
    await websocket.close(TRY_AGAIN_LATER, message[:120])


async def load_and_play(
    websocket: WebSocket,
    start: datetime,
    end: datetime,
    speed: float,
    row_filter: RowFilter,
    watch: AccessWatch,
) -> None:
    platform: Services = websocket.app.state.platform
    history = await run_in_threadpool(Replay, platform.read_events, platform.database, start, end)
    player = Player(history, row_filter, speed)
    snapshot = encode(player.snapshot(await run_in_threadpool(history.snapshot)))
    if await watch.ended():  # loading a long range may outlast the token
        await close_for_access(websocket)
        return
    await websocket.send_text(snapshot)
    listener = asyncio.create_task(wait_for_leaving(websocket))
    try:
        await play(websocket, player, listener, watch)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


async def play(
    websocket: WebSocket, player: Player, listener: asyncio.Task[None], watch: AccessWatch
) -> None:
    history = player.replay
    began = time.monotonic()
    while not listener.done():
        if await watch.ended():
            await close_for_access(websocket)
            return
        played = timedelta(seconds=(time.monotonic() - began) * player.speed)
        # Capped before the addition: near the last representable time it would overflow.
        moment = history.start + min(played, history.end - history.start)
        rows = await run_in_threadpool(history.step, moment)
        message = player.update(rows, moment)
        try:
            if message is not None:
                await websocket.send_text(encode(message))
            if moment >= history.end:
                await websocket.send_text(
                    encode(
                        {
                            "type": "end",
                            "position": history.position,
                            "at": format_time(moment),
                            "replay": player.marker(moment),
                        }
                    )
                )
                await websocket.close(1000, "the replay reached its end")
                return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return
        await asyncio.wait({listener}, timeout=TICK_SECONDS)


async def wait_for_leaving(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


routes = [WebSocketRoute("/ws/replay", replay)]
