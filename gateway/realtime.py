"""The realtime hub (F12): `WS /ws/realtime` for the walls.

One hub per gateway process follows its feed (see infra.realtime) and keeps every
campaign's live row, the position they reflect and a ring of recent changes. Each client
gets a snapshot of the rows matching its filters, then updates. Clients with the same
filters share one encoded message per change batch; each client has a bounded queue, and a
client that falls behind has its queue dropped and gets a fresh snapshot instead, so a slow
client never holds up the others. Reconnecting with `after=` resumes from the ring with no
gap, or gets a snapshot when that position is older than the ring. A socket outlives
neither its token nor its session: each is asked about again while it is open, and a
revoked token, a sign-out or an expired session closes it (1008).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from starlette.datastructures import Headers
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from domain.fields import Invalid, format_time, parse_whole_number
from projections.wall import FilterError, RowFilter

if TYPE_CHECKING:  # gateway.auth imports gateway.services, which imports this module
    from gateway.auth import Authenticator, Principal

Row = dict[str, Any]
Change = tuple[int, Row]

HEARTBEAT_SECONDS = 5.0
RING = 10_000  # changes kept for clients that resume with `after=`
QUEUE_LIMIT = 50  # messages waiting for one client before it gets a snapshot instead
READY_SECONDS = 15.0  # how long a client waits for the hub's first snapshot
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
MAX_POSITION = 2**63 - 1  # positions are the event store's BIGINT notification ids
# How often an open socket's token or session is asked about again. The authenticator's
# cache answers most of these (the store is asked at most once per CACHE_SECONDS per
# credential), so a revocation closes the socket within that cache's 5 s and this.
ACCESS_SECONDS = 1.0
ACCESS_ENDED = "the token was revoked, or the session ended or expired: sign in again"

log = logging.getLogger(__name__)


class Feed(Protocol):
    def start(self, deliver: Any, reset: Any) -> None: ...

    def stop(self) -> None: ...


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Credential:
    """What a socket was let in with (its token, or its session cookie), kept to ask the
    authenticator again while the socket is open. Sockets with the same one share it."""

    principal: Principal
    authorization: str
    cookie: str
    authenticator: Authenticator = field(compare=False, repr=False)

    @classmethod
    def of(cls, websocket: WebSocket) -> Credential | None:
        """None without a principal (a route no token is needed for)."""
        principal = websocket.scope.get("state", {}).get("principal")
        if principal is None:
            return None
        headers = websocket.headers
        return cls(
            principal,
            headers.get("authorization", ""),
            headers.get("cookie", ""),
            websocket.app.state.authenticator,
        )

    async def holds(self) -> bool:
        sent = {"authorization": self.authorization, "cookie": self.cookie}
        headers = Headers({name: value for name, value in sent.items() if value})
        return await self.authenticator.still_valid(self.principal, headers)


async def close_for_access(websocket: WebSocket) -> None:
    """Says why, as the connect-time refusal does (the wall goes to sign in), then 1008."""
    error = {"code": "unauthorized", "message": ACCESS_ENDED}
    try:
        await websocket.send_text(encode({"type": "error", "error": error}))
        await websocket.close(POLICY_VIOLATION, ACCESS_ENDED[:120])
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # it went away meanwhile


def now_text() -> str:
    return format_time(datetime.now(UTC))


class Client:
    """One connection: its filters, its queue of encoded messages and its state. A task
    sends while there is something to send and ends when the queue is empty, so an idle
    client holds no task of its own (memory per idle client is the point)."""

    __slots__ = (
        "credential",
        "filter",
        "hub",
        "last_sent",
        "queue",
        "sending",
        "stale",
        "websocket",
    )

    def __init__(
        self,
        row_filter: RowFilter,
        hub: Hub | None = None,
        websocket: Any = None,
        credential: Credential | None = None,
    ):
        self.filter = row_filter
        self.hub = hub
        self.websocket = websocket
        self.credential = credential
        self.queue: deque[str] = deque()
        self.stale = False  # a fresh snapshot is due instead of the queue
        self.sending: asyncio.Task[None] | None = None
        self.last_sent = time.monotonic()

    def push(self, text: str) -> None:
        if self.send_now(text):
            return
        if len(self.queue) >= QUEUE_LIMIT:
            self.queue.clear()
            self.stale = True
        else:
            self.queue.append(text)
        self.kick()

    def send_now(self, text: str) -> bool:
        """Starts the send at once when nothing is queued (what Python 3.12's eager tasks do):
        a connection that takes it without waiting costs no task and no trip through the
        event loop, which is most of a broadcast's cost per client. One whose transport is
        paused (a client not reading) finishes the send in a task of its own, and what
        comes next queues behind it, so it never holds up the broadcast. False: queue it."""
        if self.sending is not None or self.queue or self.stale or self.websocket is None:
            return False
        step = self.websocket.send_text(text)
        try:
            waiting = step.send(None)
        except StopIteration:
            self.last_sent = time.monotonic()
            return True
        except (WebSocketDisconnect, RuntimeError, OSError):
            return True  # the connection went away; its reader cleans up
        self.sending = asyncio.get_running_loop().create_task(self.finish(step, waiting))
        return True

    async def finish(self, step: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Goes on with a send that had to wait, as a task would have, then with the queue."""
        try:
            while True:
                try:
                    await (waiting if waiting is not None else asyncio.sleep(0))
                except asyncio.CancelledError:
                    step.close()
                    raise
                except Exception:
                    pass  # the send sees the same failure when it goes on
                try:
                    waiting = step.send(None)
                except StopIteration:
                    break
            self.last_sent = time.monotonic()
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.queue.clear()
            return
        finally:
            self.sending = None
        self.kick()  # what was queued meanwhile

    def resnapshot(self) -> None:
        self.queue.clear()
        self.stale = True
        self.kick()

    def kick(self) -> None:
        if self.sending is None and self.websocket is not None and (self.queue or self.stale):
            self.sending = asyncio.get_running_loop().create_task(self.drain())

    async def drain(self) -> None:
        assert self.hub is not None
        try:
            while self.stale or self.queue:
                if self.stale:
                    self.stale = False
                    self.queue.clear()
                    text = self.hub.snapshot_message(self.filter)
                else:
                    text = self.queue.popleft()
                await self.websocket.send_text(text)
                self.last_sent = time.monotonic()
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.queue.clear()  # the connection went away; its reader cleans up
        finally:
            self.sending = None

    def stop(self) -> None:
        self.websocket = None
        self.queue.clear()
        if self.sending is not None:
            self.sending.cancel()


class Hub:
    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.position = -1  # none until the feed's first snapshot
        self.rows: dict[str, Row] = {}
        self.ring: deque[tuple[int, str, Row | None, Row]] = deque(maxlen=RING)
        self.groups: dict[RowFilter, set[Client]] = {}
        self.snapshots: dict[RowFilter, tuple[int, str]] = {}  # encoded, per position
        self.ready = asyncio.Event()
        self.updated_at = now_text()
        self.beating: asyncio.Task[None] | None = None
        self.guarding: asyncio.Task[None] | None = None
        self.closing: set[asyncio.Task[None]] = set()

    # The feed's side (called in the event loop).

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.feed.start(
            lambda changes: loop.call_soon_threadsafe(self.apply, changes),
            lambda position, rows: loop.call_soon_threadsafe(self.reset, position, rows),
        )
        self.beating = loop.create_task(self.beat())
        self.guarding = loop.create_task(self.guard())

    async def stop(self) -> None:
        for task in (self.beating, self.guarding, *self.closing):
            if task is not None:
                task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self.feed.stop)

    def reset(self, position: int, rows: list[Row]) -> None:
        """A fresh snapshot from the feed: every client gets it too."""
        self.position = position
        self.rows = {row["id"]: row for row in rows}
        self.ring.clear()
        self.snapshots.clear()
        self.updated_at = now_text()
        self.ready.set()
        for clients in self.groups.values():
            for client in clients:
                client.resnapshot()

    def apply(self, changes: list[Change]) -> None:
        """Changes in order: the rows move on, and every group whose filters they touch
        gets one encoded update for all of its clients."""
        fresh = [(seq, row) for seq, row in changes if seq > self.position]
        if not fresh:
            return
        touched: list[tuple[str, Row | None, Row]] = []
        for seq, row in fresh:
            old = self.rows.get(row["id"])
            self.rows[row["id"]] = row
            self.ring.append((seq, row["id"], old, row))
            touched.append((row["id"], old, row))
        self.position = fresh[-1][0]
        self.updated_at = now_text()
        self.snapshots.clear()
        for row_filter, clients in self.groups.items():
            if not clients:
                continue
            text = self.update_message(row_filter, touched, self.position)
            if text is not None:
                for client in clients:
                    client.push(text)

    # Messages.

    def update_message(
        self,
        row_filter: RowFilter,
        touched: Iterable[tuple[str, Row | None, Row]],
        position: int,
        *,
        always: bool = False,
    ) -> str | None:
        """An update with the touched rows the filter shows, and the ids it no longer
        shows; None when the filter sees nothing of them (unless `always`)."""
        latest: dict[str, Row] = {}
        removed: dict[str, None] = {}
        for campaign_id, old, new in touched:
            if row_filter.matches(new):
                latest[campaign_id] = new
                removed.pop(campaign_id, None)
            elif campaign_id in latest or (old is not None and row_filter.matches(old)):
                latest.pop(campaign_id, None)
                removed[campaign_id] = None
        if not latest and not removed and not always:
            return None
        return encode(
            {
                "type": "update",
                "position": position,
                "at": self.updated_at,
                "rows": list(latest.values()),
                "removed": list(removed),
            }
        )

    def snapshot_message(self, row_filter: RowFilter) -> str:
        cached = self.snapshots.get(row_filter)
        if cached is not None and cached[0] == self.position:
            return cached[1]
        rows = sorted(
            (row for row in self.rows.values() if row_filter.matches(row)),
            key=lambda row: (row["created_at"], row["id"]),
            reverse=True,
        )
        text = encode(
            {"type": "snapshot", "position": self.position, "at": self.updated_at, "rows": rows}
        )
        self.snapshots[row_filter] = (self.position, text)
        return text

    def resume_message(self, row_filter: RowFilter, after: int) -> str | None:
        """The changes after `after` that the filter sees, as one update; None when the
        ring no longer reaches back that far (or the client is ahead of this hub)."""
        if after > self.position:
            return None
        oldest = self.ring[0][0] if self.ring else self.position + 1
        if after < oldest - 1:
            return None
        touched = [(cid, old, new) for seq, cid, old, new in self.ring if seq > after]
        return self.update_message(row_filter, touched, self.position, always=True)

    def heartbeat_message(self) -> str:
        return encode({"type": "heartbeat", "position": self.position, "at": now_text()})

    # The clients' side.

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            row_filter = RowFilter.from_query(websocket.query_params)
            after = parse_after(websocket.query_params.get("after"))
        except FilterError as error:
            await refuse(websocket, str(error))
            return
        try:
            await asyncio.wait_for(self.ready.wait(), READY_SECONDS)
        except TimeoutError:
            await websocket.close(TRY_AGAIN_LATER, "the realtime feed is not ready yet")
            return
        client = Client(row_filter, self, websocket, Credential.of(websocket))
        # The first message and joining the group happen with no await in between: no
        # change can fall between what the first message reflects and the queue.
        first = None if after is None else self.resume_message(row_filter, after)
        self.groups.setdefault(row_filter, set()).add(client)
        client.push(first or self.snapshot_message(row_filter))
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # clients have nothing to say; reading notices them leaving
        finally:
            self.leave(client)

    def leave(self, client: Client) -> None:
        client.stop()
        clients = self.groups.get(client.filter)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self.groups[client.filter]

    async def beat(self) -> None:
        """Sends a heartbeat to every client that has heard nothing for a while."""
        while True:
            await asyncio.sleep(1)
            quiet_since = time.monotonic() - HEARTBEAT_SECONDS
            text = None
            for clients in self.groups.values():
                for client in clients:
                    if client.last_sent < quiet_since and client.sending is None:
                        text = text or self.heartbeat_message()
                        client.push(text)

    async def guard(self) -> None:
        """Closes the sockets whose token or session no longer lets them in."""
        while True:
            await asyncio.sleep(ACCESS_SECONDS)
            try:
                await self.close_revoked()
            except Exception:  # the store did not answer: ask again next time
                log.warning("could not check the walls' access", exc_info=True)

    async def close_revoked(self) -> None:
        sharing: dict[Credential, list[Client]] = {}
        for clients in self.groups.values():
            for client in clients:
                if client.credential is not None:
                    sharing.setdefault(client.credential, []).append(client)
        for credential, holders in sharing.items():
            if await credential.holds():
                continue
            for client in holders:
                websocket = client.websocket
                self.leave(client)
                if websocket is not None:  # closed in a task: a slow client holds up no one
                    task = asyncio.get_running_loop().create_task(close_for_access(websocket))
                    self.closing.add(task)
                    task.add_done_callback(self.closing.discard)

    @property
    def clients(self) -> int:
        return sum(len(clients) for clients in self.groups.values())


def parse_after(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_whole_number(value, 0, MAX_POSITION)
    except Invalid:
        raise FilterError("after must be a position (a whole number, 0 or more)") from None


async def refuse(websocket: WebSocket, message: str) -> None:
    await websocket.send_text(
        encode({"type": "error", "error": {"code": "validation_failed", "message": message}})
    )
    await websocket.close(POLICY_VIOLATION, message[:120])


async def realtime(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    await hub.serve(websocket)


routes = [WebSocketRoute("/ws/realtime", realtime)]
