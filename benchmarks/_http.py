"""A minimal HTTP/1.1 keep-alive client on asyncio: load generation for the benchmarks only.

httpx clients in threads cost about 1 ms of CPU per request in the benchmark's own process,
so on a 2-core machine the harness, not the server, capped the measured rate (about 1,000 to
1,200 requests/s even for `GET /healthz`). Here every client is one connection driven by one
event loop (uvloop when installed) in one thread, at a few tens of microseconds per request.
It speaks just what our server answers: a status line, headers, and a body with a
Content-Length or chunked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._auth import TOKEN

AUTHORIZATION = f"Authorization: Bearer {TOKEN}\r\n"

Result = tuple[int, list[float], int, str]  # ops, latencies (s), errors, first error


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{AUTHORIZATION}"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(body or b'')}\r\n\r\n"
        self.writer.write(head.encode("ascii") + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            return status, await self.read_chunks()
        return status, await self.reader.readexactly(length)

    async def read_chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    def close(self) -> None:
        self.writer.close()


Client = Callable[[Connection, float, float], Awaitable[Result]]


def run_clients(
    host: str, port: int, clients: list[Client], measure_from: float, end: float
) -> Result:
    """Runs every client on its own connection in one event loop, in this thread, until `end`;
    each counts what it started in [measure_from, end). Returns the sum of their results."""

    async def main() -> list[Result]:
        connections = [await Connection.open(host, port) for _ in clients]
        try:
            return await asyncio.gather(
                *(
                    client(c, measure_from, end)
                    for client, c in zip(clients, connections, strict=True)
                )
            )
        finally:
            for connection in connections:
                connection.close()

    loop_factory: Any = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        results = runner.run(main())
    ops, latencies, errors, first_error = 0, [], 0, ""
    for result in results:
        ops += result[0]
        latencies.extend(result[1])
        errors += result[2]
        first_error = first_error or result[3]
    return ops, latencies, errors, first_error


async def get_healthz(connection: Connection, measure_from: float, end: float) -> Result:
    """The harness's ceiling: a request the server answers without doing any work."""
    ops, latencies = 0, list[float]()
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            return ops, latencies, 0, ""
        status, body = await connection.request("GET", "/healthz")
        if status != 200:
            raise RuntimeError(f"GET /healthz answered {status}: {body[:200]!r}")
        if t0 >= measure_from:
            ops += 1
            latencies.append(time.perf_counter() - t0)
