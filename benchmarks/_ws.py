"""A minimal WebSocket client for the fan-out benchmark: thousands of connections on one
event loop, each costing a few microseconds per message, so that the figures measure the
server rather than the clients.

It offers permessage-deflate as browsers do (`client_max_window_bits`), inflates compressed
messages with zlib, answers pings, and hands each text message to a callback as bytes. It
speaks only what a server-to-client stream needs; it is not a general client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import zlib
from collections.abc import Callable

from benchmarks._auth import TOKEN

DEFLATE_TAIL = b"\x00\x00\xff\xff"
TEXT, CLOSE, PING = 0x1, 0x8, 0x9


class Client(asyncio.Protocol):
    def __init__(self, request: bytes, on_message: Callable[[bytes], None]) -> None:
        self.request = request
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflate: zlib._Decompress | None = None
        self.fresh_context = False  # server_no_context_takeover: a new inflater per message
        self.window_bits = 15
        self.parts: list[bytes] = []
        self.compressed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's has no asyncio base
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.handshake(self.buffer[:end].decode("latin-1"))
            self.buffer = self.buffer[end + 4 :]
        self.frames()

    def handshake(self, head: str) -> None:
        status, *lines = head.split("\r\n")
        if " 101 " not in status + " ":
            self.open.set_exception(ConnectionError(status))
            return
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions" and "permessage-deflate" in value:
                for parameter in value.split(";")[1:]:
                    key, _, number = parameter.strip().partition("=")
                    if key == "server_max_window_bits" and number:
                        self.window_bits = int(number)
                    elif key == "server_no_context_takeover":
                        self.fresh_context = True
                self.inflate = zlib.decompressobj(-self.window_bits)
        self.open.set_result(None)

    def frames(self) -> None:
        data = self.buffer
        offset = 0
        while len(data) - offset >= 2:
            first, second = data[offset], data[offset + 1]
            length, start = second & 0x7F, offset + 2
            if length == 126:
                if len(data) - start < 2:
                    break
                (length,) = struct.unpack_from("!H", data, start)
                start += 2
            elif length == 127:
                if len(data) - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", data, start)
                start += 8
            if len(data) - start < length:
                break
            self.frame(first, data[start : start + length])
            offset = start + length
        self.buffer = data[offset:]

    def frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if opcode == PING:
            self.send(0xA, payload)
            return
        if opcode == CLOSE:
            if self.transport:
                self.transport.close()
            return
        if opcode == TEXT:
            self.compressed = bool(first & 0x40)
            self.parts = []
        self.parts.append(payload)
        if not first & 0x80:
            return  # more fragments follow
        message = b"".join(self.parts)
        if self.compressed and self.inflate is not None:
            if self.fresh_context:
                self.inflate = zlib.decompressobj(-self.window_bits)
            message = self.inflate.decompress(message + DEFLATE_TAIL)
        self.on_message(message)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header = bytes([0x80 | opcode, 0x80 | len(payload)])  # control frames are < 126 bytes
        if self.transport and not self.transport.is_closing():
            self.transport.write(header + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed during the handshake"))

    def close(self) -> None:
        if self.transport:
            self.transport.close()


async def connect(host: str, port: int, path: str, on_message: Callable[[bytes], None]) -> Client:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _transport, client = await loop.create_connection(
        lambda: Client(request, on_message), host, port
    )
    await asyncio.wait_for(client.open, 60)
    return client
