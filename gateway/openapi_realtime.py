"""The realtime part of the OpenAPI document: the Realtime page, `WS /ws/realtime` and
`WS /ws/replay`.

OpenAPI has no WebSocket operations; each stream is described under its path's
`x-websocket` extension, with the schemas of its messages in the components (declared in
gateway.schemas.realtime_answers)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

DESCRIPTION = """\
Open with `GET /ws/realtime` and `Upgrade: websocket`. Query: `name` (a substring, any case),
`status` and `tag` (repeatable, or comma-separated; a row matches any of them), `after` (a
position this client has already seen).

The server sends JSON text messages:
- `snapshot`: every matching campaign's row (newest first) and the `position` they reflect.
  The first message, unless `after` could be continued; also sent again whenever the client
  fell too far behind (its queue is bounded) or the gateway's feed had to start over.
- `update`: the rows that changed and now match, the ids of rows that no longer match
  (`removed`), and the `position` the client has reached. Updates that arrive while a client
  is busy are queued; a client whose queue fills up gets a fresh snapshot instead.
- `heartbeat`: after 5 s without another message, with the current `position`.
- `error`: a filter could not be used (`validation_failed`); the server then closes (1008).

A position is a number of the realtime rows' change log, shared by every gateway of a
deployment. Reconnecting with `after=<the last position seen>` continues with an `update`
holding everything missed, or a `snapshot` when that position is older than the gateway's
ring of recent changes (10,000) or newer than what it has. The server declines
permessage-deflate unless `CAMPAIGNS_WS_COMPRESSION=on`."""


REPLAY_DESCRIPTION = """\
`from` and `to` (times, at most a year apart) and `speed` (seconds of history per second,
above 0, at most 100,000; 60 by default), and the wall's filters. First a `snapshot` of the
rows as they were at `from`, then about four `update`s a second with the rows the history
changed, then `end`, and the server closes (1000). Every message carries
`replay: {"from", "to", "speed", "at"}`, `at` being the moment of the history it shows.
Statuses and fields follow the stored events; the figures are the per-minute counters summed
up to the minute that holds `at`. Bad input: an `error` message, then close (1008)."""


def realtime_paths(html: Schema) -> dict[str, Schema]:
    return {
        "/realtime": {
            "get": {
                "operationId": "realtimePage",
                "summary": "The Realtime page (the ops wall)",
                "tags": ["pages"],
                "description": "Live campaign cards and totals, fed by `WS /ws/realtime`. "
                "Query: `name`, `tag`, `status` (repeatable) preset its filters; without "
                "`status` it shows the campaigns on their way (Processing to Suspended). "
                "With `replay_from` and `replay_to` (UTC) and `speed` it plays that range of "
                "the history instead (`WS /ws/replay`), marked as a replay.",
                "responses": {"200": {"description": "The page.", "content": html}},
            }
        },
        "/ws/realtime": {
            "summary": "The realtime feed (WebSocket)",
            "description": DESCRIPTION,
            "x-websocket": {
                "query": ["name", "status", "tag", "after"],
                "messages": [
                    {"$ref": f"#/components/schemas/Realtime{kind}"}
                    for kind in ("Snapshot", "Update", "Heartbeat")
                ],
            },
        },
        "/ws/replay": {
            "summary": "A time range of the history played onto the wall (WebSocket)",
            "description": REPLAY_DESCRIPTION,
            "x-websocket": {
                "query": ["from", "to", "speed", "name", "status", "tag"],
                "messages": [
                    {"$ref": f"#/components/schemas/Realtime{kind}"}
                    for kind in ("Snapshot", "Update", "End")
                ],
            },
        },
    }
