"""The `campaigns` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from infra.settings import Settings, SettingsError


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_environment()
    changes: dict[str, object] = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir)
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    return settings.with_changes(**changes) if changes else settings


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="folder of the SQLite files (default: $CAMPAIGNS_DATA_DIR or ./var); ignored "
        "when CAMPAIGNS_DATABASE_URL points at PostgreSQL",
    )


def add_server_options(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")


def serve(args: argparse.Namespace, *, with_demo: bool = False) -> int:
    import uvicorn

    from gateway.app import create_app
    from infra.bootstrap import build

    settings = settings_from(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    platform = build(settings)
    demo_loop = None
    if with_demo:
        from infra.demo import DemoLoop, add_demo_data

        added = add_demo_data(platform)
        if added:
            print(f"added demo data: {added}", flush=True)
        demo_loop = DemoLoop(platform)
        demo_loop.start()
    app = create_app(platform, own_platform=True)
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"store: {settings.store_description}", flush=True)
    print(f"dashboard: http://{shown_host}:{settings.port}/", flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        if demo_loop is not None:
            demo_loop.stop()
    return 0


def audit(args: argparse.Namespace) -> int:
    from domain.errors import DomainError
    from infra.bootstrap import build

    try:
        campaign_id = uuid.UUID(args.campaign_id)
    except ValueError:
        print(f"error: {args.campaign_id!r} is not a campaign id", file=sys.stderr)
        return 2
    with build(settings_from(args)) as platform:
        try:
            campaign = platform.app.get_campaign(campaign_id)
        except DomainError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1
        platform.feed.catch_up()
        rows = platform.campaign_list.history(platform.database, str(campaign_id))
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(
        f"{campaign.fields['name']} ({campaign_id}): {campaign.status}, version {campaign.version}"
    )
    for row in rows:
        change = (
            f"{row['from_status'] or 'new'} -> {row['to_status']}"
            if row["from_status"] != row["to_status"]
            else row["to_status"]
        )
        print(
            f"{row['version']:>4}  {row['at']}  {row['type']:<24} {change:<26} "
            f"by {row['actor']}: {row['reason']}"
        )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="campaigns",
        description="An event-sourced SMS campaign platform. Settings come from the "
        "environment (see the README); options override them.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve", help="run everything in one process on the embedded default (SQLite)"
    )
    add_server_options(serve_parser)
    demo_parser = commands.add_parser(
        "demo", help="like serve, and adds sample domains, a pool and campaigns when empty"
    )
    add_server_options(demo_parser)
    audit_parser = commands.add_parser(
        "audit", help="print a campaign's status changes: who, when, why"
    )
    audit_parser.add_argument("campaign_id", help="the campaign's id")
    audit_parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_store_options(audit_parser)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "demo":
            return serve(args, with_demo=True)
        if args.command == "audit":
            return audit(args)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
