"""The bare broadcast loop the fan-out benchmark compares the hub with: a Starlette
WebSocket endpoint that keeps every connection in a set, and `POST /broadcast` that sends one
message to each of them with a plain loop. Served by uvicorn with the same defaults as
`campaigns serve` (permessage-deflate offered to clients that ask for it).

    python -m benchmarks._bare_ws --port P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

clients: set[WebSocket] = set()
position = 0


async def follow(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(json.dumps({"type": "snapshot", "position": position, "rows": []}))
    clients.add(websocket)
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        clients.discard(websocket)


async def broadcast(request: Request) -> Response:
    global position
    row = await request.json()
    position += 1
    text = json.dumps({"type": "update", "position": position, "rows": [row], "removed": []})

    async def send_all() -> None:
        for websocket in list(clients):
            try:
                await websocket.send_text(text)
            except Exception:
                clients.discard(websocket)

    asyncio.get_running_loop().create_task(send_all())
    return JSONResponse({"clients": len(clients)})


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        WebSocketRoute("/ws/realtime", follow),
        Route("/broadcast", broadcast, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", healthz),
    ]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws", default=os.environ.get("BENCH_WS", "auto"))
    parser.add_argument(
        "--no-deflate", action="store_true", default="BENCH_NO_DEFLATE" in os.environ
    )
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        ws=args.ws,
        ws_per_message_deflate=not args.no_deflate,
    )
