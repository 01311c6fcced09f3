"""The `campaigns` command line: every command of `infra.cli`, and `serve` and `demo`, which
run the whole platform behind the HTTP edge in one process."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from infra import cli
from infra.process import AlreadySending, settle
from infra.settings import Settings

STARTUP_FAILURE = 3  # uvicorn's exit status when the application does not start
PROGRAM = (sys.executable, "-m", "gateway.cli")  # what `stack up` starts each role with


def add_server_options(parser: argparse.ArgumentParser) -> None:
    cli.add_store_options(parser)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000; 0: a free one)")


def add_server_commands(commands: Any) -> None:
    add_server_options(
        commands.add_parser(
            "serve", help="run everything in one process on the embedded default (SQLite)"
        )
    )
    add_server_options(
        commands.add_parser(
            "demo", help="like serve, and adds sample domains, a pool and campaigns when empty"
        )
    )


def serve(args: argparse.Namespace, *, with_demo: bool = False) -> int:
    import uvicorn

    from gateway.app import create_app
    from infra.bootstrap import build

    settings = cli.settings_from(args).with_changes(role="demo" if with_demo else "serve")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    platform = build(settings)
    if settings.sending:
        try:
            platform.sending.claim()
        except AlreadySending:
            platform.close()
            raise
    demo_loop = None
    demo_token = None
    if with_demo:
        from infra.demo import DemoLoop, add_demo_data, demo_sign_in_token

        added = add_demo_data(platform)
        if added:
            print(f"added demo data: {added}", flush=True)
        demo_loop = DemoLoop(platform)
        demo_loop.start()
        demo_token = demo_sign_in_token(platform)
    app = create_app(platform, own_platform=True)
    settle()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws_per_message_deflate=settings.ws_compression,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    server = uvicorn.Server(config)
    try:
        # Bound before the addresses are printed: with port 0 only the socket knows its port.
        try:
            listening = config.bind_socket()
        except SystemExit:  # uvicorn has logged why (the port is taken, say)
            platform.close()
            raise
        announce(settings, listening.getsockname()[1], demo_token)
        server.run(sockets=[listening])
    finally:
        if demo_loop is not None:
            demo_loop.stop()
    return 0 if server.started else STARTUP_FAILURE


def demo(args: argparse.Namespace) -> int:
    return serve(args, with_demo=True)


def announce(settings: Settings, port: int, demo_token: str | None) -> None:
    address = dashboard_address(settings.host, port)
    print(f"store: {settings.store_description}", flush=True)
    print(f"dashboard: {address}/", flush=True)
    if demo_token is not None:
        print(f"sign in at {address}/sign-in with the demo admin token: {demo_token}", flush=True)


def dashboard_address(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on host and port."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def parser() -> argparse.ArgumentParser:
    return cli.parser(add_server_commands, PROGRAM)


COMMANDS: dict[str, cli.Command] = {"serve": serve, "demo": demo, **cli.COMMANDS}


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(parser().parse_args(argv), COMMANDS)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
