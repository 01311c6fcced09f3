"""The `campaigns` commands below the HTTP edge; `gateway.cli` adds `serve` and `demo` and is
the program that runs them all."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.process import AlreadySending, settle
from infra.settings import Settings, SettingsError

if TYPE_CHECKING:
    from domain.application import CampaignPlatform
    from infra.bootstrap import Platform
    from projections.audit_trail import HistoryFilter
    from projections.disclosures import Disclosure
    from projections.messages import EventMessage


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_environment()
    changes: dict[str, object] = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir)
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None) is not None:  # 0 too: the system picks a free port
        changes["port"] = args.port
    return settings.with_changes(**changes) if changes else settings


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="folder of the SQLite files (default: $CAMPAIGNS_DATA_DIR or ./var); with "
        "CAMPAIGNS_DATABASE_URL pointing at PostgreSQL, only the demo carrier's books",
    )


def audit(args: argparse.Namespace) -> int:
    from domain.errors import DomainError
    from infra.bootstrap import build
    from projections.audit_trail import filtered
    from projections.disclosures import DisclosureFilter

    try:
        filters = audit_filter(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    campaign_id = uuid.UUID(args.campaign_id)
    with build(settings_from(args).with_changes(sending=False)) as platform:
        try:
            campaign = platform.app.get_campaign(campaign_id)
        except DomainError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1
        platform.feed.catch_up()
        rows = filtered(
            platform.campaign_list.history(platform.database, str(campaign_id)), filters
        )
        reads = DisclosureFilter(filters.actor, filters.since, filters.until)
        disclosures = list(platform.disclosures.every(str(campaign_id), reads))
    if args.disclosures:
        return print_disclosures(disclosures, args)
    if args.csv:
        from projections.audit_trail import csv_lines

        sys.stdout.writelines(line.replace("\r\n", "\n") for line in csv_lines(rows))
        return 0
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(
        f"{campaign.fields['name']} ({campaign_id}): {campaign.status}, version {campaign.version}"
    )
    for row in rows:
        print(audit_line(row))
    if disclosures:
        print(f"\npersonal data read ({len(disclosures)}, newest first):")
        for disclosure in disclosures:
            print(disclosure_line(disclosure))
    return 0


def print_disclosures(disclosures: list[Disclosure], args: argparse.Namespace) -> int:
    if args.csv:
        from projections.disclosures import csv_lines

        sys.stdout.writelines(line.replace("\r\n", "\n") for line in csv_lines(disclosures))
        return 0
    for disclosure in disclosures:
        if args.json:
            print(json.dumps(disclosure.to_json(), ensure_ascii=False))
        else:
            print(disclosure_line(disclosure))
    return 0


def disclosure_line(disclosure: Disclosure) -> str:
    return (
        f"      {disclosure.at}  {disclosure.actor} ({disclosure.role}) from "
        f"{disclosure.address}: {disclosure.what}"
    )


def audit_filter(args: argparse.Namespace) -> HistoryFilter:
    """The options' filters; a malformed time is a ValueError that names its option."""
    from projections.audit_trail import HistoryFilter

    def moment(option: str, raw: str | None, end_of_day: bool) -> datetime | None:
        if not raw:
            return None
        try:
            return parse_moment(raw, end_of_day=end_of_day)
        except ValueError:
            raise ValueError(f"--{option} must be an ISO 8601 date or time, not {raw!r}") from None

    if not is_uuid(args.campaign_id):
        raise ValueError(f"{args.campaign_id!r} is not a campaign id")
    return HistoryFilter(
        actor=args.actor or None,
        type=args.type or None,
        since=moment("from", args.since, False),
        until=moment("to", args.until, True),
    )


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def parse_moment(raw: str, *, end_of_day: bool) -> datetime:
    """A date (its start, or its last instant) or a time; without a zone, UTC."""
    if len(raw) == 10:
        start = datetime.combine(date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC)
        return start + timedelta(days=1, microseconds=-1) if end_of_day else start
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_line(row: dict[str, Any]) -> str:
    change = (
        f"{row['from_status'] or 'new'} -> {row['to_status']}"
        if row["from_status"] != row["to_status"]
        else row["to_status"]
    )
    line = (
        f"{row['version']:>4}  {row['at']}  {row['type']:<24} {change:<26} "
        f"by {row['actor']}: {row['reason']}"
    )
    if row.get("details"):
        line += f"\n{'':>6}{row['details']}"
    return line


def open_store(args: argparse.Namespace) -> CampaignPlatform:
    """The event store alone: exporting reads it and importing fills it, and neither wants
    the read models, the sending engine, or the demo stream that `build` adds."""
    from domain.application import CampaignPlatform
    from infra.bootstrap import schema_lock, store_environment

    settings = settings_from(args)
    settings.check()
    if settings.postgres is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    with schema_lock(settings):
        return CampaignPlatform(env=store_environment(settings))


def export(args: argparse.Namespace) -> int:
    from infra.event_archive import csv_lines, ndjson_lines, stored_messages
    from infra.feed import read_messages
    from infra.progress import Meter, progress_display

    app = open_store(args)
    try:
        last = app.recorder.max_notification_id() or 0
        with progress_display() as display:
            exported = Meter(display, "exported", max(last - args.after, 0))
            counted = [0]

            def counting(messages: Iterator[EventMessage]) -> Iterator[EventMessage]:
                for message in messages:
                    counted[0] += 1
                    exported(counted[0])
                    yield message

            read = stored_messages(lambda a, n: read_messages(app, a, n), args.after)
            messages = counting(read)
            lines = csv_lines(messages) if args.format == "csv" else ndjson_lines(messages)
            if args.output:
                with open(args.output, "w", encoding="utf-8", newline="") as target:
                    target.writelines(lines)
            else:
                sys.stdout.writelines(lines)
                sys.stdout.flush()
            exported.finish(counted[0])
    finally:
        app.close()
    return 0


def replay(args: argparse.Namespace) -> int:
    from infra.bootstrap import build
    from infra.history_replay import play

    with build(settings_from(args).with_changes(sending=False)) as platform:
        platform.feed.catch_up()
        platform.domain_feed.catch_up()
        return play(platform, args)


def import_history(args: argparse.Namespace) -> int:
    from infra.bootstrap import build
    from infra.event_archive import ImportRefused, import_events
    from infra.progress import Meter, progress_display

    app = open_store(args)
    try:
        with progress_display() as display, open(args.file, encoding="utf-8") as source:
            imported = Meter(display, "imported", None)
            written = import_events(app, source, imported)
            imported.finish(written)
    except ImportRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    finally:
        app.close()
    with (
        build(settings_from(args).with_changes(sending=False)) as platform,
        progress_display() as display,
    ):
        for view in platform.projectors:
            replay = Meter(display, f"read model {view}", written)
            replay.finish(platform.rebuild(replay.replayed, view))
        redraw = Meter(display, "realtime rows", None, unit="campaigns")
        redraw.finish(platform.redraw_realtime(redraw))
    print(f"imported {written:,} events from {args.file}; the read models are rebuilt")
    return 0


def token(args: argparse.Namespace) -> int:
    """Makes, lists or revokes access tokens; a new token's secret is printed once, alone on
    the last line, and kept nowhere."""
    from domain.errors import DomainError
    from infra.bootstrap import build

    with build(settings_from(args).with_changes(sending=False)) as platform:
        tokens = platform.tokens
        try:
            if args.action == "create":
                made, secret = tokens.create(args.name or "", args.role or "")
                print(f"created {made.role} token {made.name!r} ({made.id}); it is shown once:")
                print(secret)
            elif args.action == "list":
                for each in tokens.list_tokens(with_revoked=args.all):
                    ended = f"  revoked {each.revoked_at}" if each.revoked_at else ""
                    print(f"{each.id}  {each.role:<8} {each.created_at}  {each.name}{ended}")
            else:
                revoked = tokens.revoke(args.token_id or "")
                if not revoked:
                    print("error: no live token has this id or name", file=sys.stderr)
                    return 1
                for each in revoked:
                    print(f"revoked {each.role} token {each.name!r} ({each.id})")
        except DomainError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 2
    return 0


def link_key(args: argparse.Namespace) -> int:
    """Rotates or lists the store's link keys (projections.link_keys); never their secrets."""
    from infra.bootstrap import build

    with build(settings_from(args).with_changes(sending=False)) as platform:
        keys = platform.sending.link_keys
        if args.action == "rotate":
            made = keys.rotate()
            print(
                f"link key {made.id} is now current: links made from now on use it; "
                "links already sent keep working"
            )
        else:
            current = keys.current().id
            for each in keys.every_key():
                print(f"{each.id}  {each.created_at}{'  current' if each.id == current else ''}")
    return 0


def stop_on_signals(*stops: Callable[[], object]) -> None:
    """SIGTERM and SIGINT stop the workers cleanly."""

    def stop_all(*_args: object) -> None:
        for stop in stops:
            stop()

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop_all)


def relay(args: argparse.Namespace) -> int:
    from infra.bootstrap import build
    from infra.relay import run_relay

    settings = settings_from(args).with_changes(sending=False)
    require_kafka(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with build(settings) as platform:
        worker = platform.relay()
        outbox = platform.outbox_publisher()
        settle()
        stop_on_signals(worker.stop, outbox.stop)
        print(
            f"relay: {settings.store_description} -> {settings.events_topic}, "
            f"activity outbox -> {settings.activity_topic}",
            flush=True,
        )
        publisher = threading.Thread(target=outbox.run, name="activity-outbox")
        publisher.start()
        run_relay(worker)
        outbox.stop()
        publisher.join(timeout=30)
    return 0


def project(args: argparse.Namespace) -> int:
    from infra.bootstrap import build

    settings = settings_from(args).with_changes(sending=False)
    require_kafka(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with build(settings) as platform:
        catch_up_from_the_store(platform)
        feed, *others = platform.kafka_feeds()
        stats = platform.stats_feed()
        stop_on_signals(feed.stopping.set, *(other.stopping.set for other in [*others, stats]))
        publisher = platform.realtime_publisher()
        settle()
        print(
            f"projector: {settings.events_topic} -> read models, "
            f"{settings.activity_topic} -> stats, realtime rows -> {settings.realtime_topic}",
            flush=True,
        )
        for other in [*others, stats]:
            other.start()
        platform.realtime_worker.start()
        publisher.start()
        feed.run()
        for other in [*others, stats]:
            other.stop()
        publisher.stop()
    return 0


def catch_up_from_the_store(platform: Platform) -> None:
    """A read model that has never been fed (a new view, or a new deployment of an old
    store) is rebuilt from the store before Kafka feeds it: the topic need not hold the
    whole history, and the feed then skips what the rebuild covered."""
    stored = platform.app.recorder.max_notification_id() or 0
    for name, projector in platform.projectors.items():
        if stored and projector.position() == 0:
            replayed = platform.rebuild(view=name)
            print(f"projector: {name} rebuilt from the store ({replayed:,} events)", flush=True)


def dispatch(args: argparse.Namespace) -> int:
    from infra.bootstrap import build

    settings = settings_from(args).with_changes(sending=True, role="dispatch")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stopping = threading.Event()
    with build(settings) as platform:
        platform.sending.claim()
        stop_on_signals(stopping.set)
        if settings.kafka is None:
            platform.feed.catch_up()
            platform.feed.start()
        settle()
        platform.sending.start()
        print(
            f"dispatcher: sending as {platform.sending.ownership.owner} "
            f"(stream leases of {settings.lease_seconds:g} s)",
            flush=True,
        )
        stopping.wait()
    return 0


def require_kafka(settings: Settings) -> None:
    if settings.kafka is None:
        raise SettingsError("this command needs CAMPAIGNS_KAFKA (host:port of the brokers)")


def rebuild(args: argparse.Namespace) -> int:
    from infra.bootstrap import build
    from infra.progress import Meter, progress_display

    with build(settings_from(args).with_changes(sending=False)) as platform:
        if args.view == "stats":
            started = time.monotonic()
            rows = platform.activity.stats.rebuild_stats()
            elapsed = time.monotonic() - started
            print(
                f"rebuilt stats: {rows:,} rows recounted from the activity rows in {elapsed:.1f} s"
            )
            return 0
        if args.view == "realtime":
            started = time.monotonic()
            with progress_display() as display:
                redraw = Meter(display, "realtime", None, unit="campaigns")
                count = platform.redraw_realtime(redraw)
                redraw.finish(count)
            elapsed = time.monotonic() - started
            print(f"redrawn realtime rows: {count:,} campaigns in {elapsed:.1f} s")
            return 0
        last = platform.app.recorder.max_notification_id() or 0
        started = time.monotonic()
        with progress_display() as display:
            meter = Meter(display, args.view, last)

            def progress(_position: int, replayed: int) -> None:
                # Events replayed out of about as many as stored (the last notification id,
                # ids may skip): a rebuild inside the database goes a group of aggregates at
                # a time.
                meter(replayed, max(last, replayed))

            replayed = platform.rebuild(progress, args.view)
            meter.finish(replayed)
        elapsed = time.monotonic() - started
    rate = replayed / max(elapsed, 1e-9)
    how = " inside the database" if platform.projectors[args.view].rebuilt_in_database else ""
    print(
        f"rebuilt {args.view}{how}: {replayed:,} events in {elapsed:.1f} s ({rate:,.0f} events/s)"
    )
    return 0


def verify(args: argparse.Namespace) -> int:
    from infra.bootstrap import build

    with build(settings_from(args).with_changes(sending=False)) as platform:
        differences = platform.verify()
        health = platform.database_health()
    for line in health.report() if health else []:
        print(line)
    for line in differences:
        print(line)
    if differences:
        print(f"the read models differ from a replay of the store ({len(differences)} lines)")
        return 1
    print("the read models equal a fresh replay of the store")
    return 0


def stack(args: argparse.Namespace) -> int:
    from infra import stack as topology

    where = topology.Stack(
        Path(args.dir),
        port=8000 if args.port is None else args.port,
        postgres_port=args.postgres_port,
        kafka_port=args.kafka_port,
        dispatchers=args.dispatchers,
        program=args.program,
    )
    if args.action == "up":
        address = topology.up(where)
        print(f"gateway: {address}", flush=True)
    elif args.action == "down":
        left = topology.down(where)
        print(f"left in {where.folder.absolute()}:" if left else "nothing left behind")
        for line in left:
            print(f"  {line}")
    else:
        running = topology.status(where)
        for role, pid in running.items():
            print(f"{role:<9} {'pid ' + str(pid) if pid else 'not running'}")
        for kind, folder in where.folders().items():
            print(f"{kind:<9} {folder.absolute()}")
        return 0 if all(running.values()) else 1
    return 0


def parser(
    add_first: Callable[[Any], None] | None = None, program: Sequence[str] = ()
) -> argparse.ArgumentParser:
    """The commands below the HTTP edge; `add_first` adds the caller's own before them, and
    `program` is the command line that runs this program, for the processes `stack up`
    starts."""
    root = argparse.ArgumentParser(
        prog="campaigns",
        description="An event-sourced SMS campaign platform. Settings come from the "
        "environment (see the README); options override them.",
    )
    root.set_defaults(program=tuple(program))
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if add_first is not None:
        add_first(commands)
    audit_parser = commands.add_parser(
        "audit",
        help="print a campaign's status changes (who, when, why) and who was shown its "
        "personal data",
    )
    audit_parser.add_argument("campaign_id", help="the campaign's id")
    output = audit_parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--csv", action="store_true", help="CSV with a header line")
    audit_parser.add_argument("--actor", help="only this actor's events (a name, or system)")
    audit_parser.add_argument("--type", help="only this event type (Paused or Campaign.Paused)")
    audit_parser.add_argument(
        "--from", dest="since", help="at or after this date or time (UTC unless it says)"
    )
    audit_parser.add_argument(
        "--to", dest="until", help="at or before this time; a date means through its end"
    )
    audit_parser.add_argument(
        "--disclosures",
        action="store_true",
        help="only who was shown the campaign's personal data (numbers, links, contact "
        "columns), newest first; --actor, --from and --to apply",
    )
    add_store_options(audit_parser)
    export_parser = commands.add_parser(
        "export", help="write the stored events, in order, as NDJSON or CSV, with progress"
    )
    export_parser.add_argument(
        "--after", type=int, default=0, help="only events after this position (default 0)"
    )
    export_parser.add_argument(
        "--format",
        choices=("ndjson", "csv"),
        default="ndjson",
        help="ndjson (the default; what import reads) or csv (data as a JSON column)",
    )
    export_parser.add_argument("--output", help="the file to write (default: stdout)")
    add_store_options(export_parser)
    replay_parser = commands.add_parser(
        "replay",
        help="play a time range of the history as the Realtime page's replay does: the rows "
        "as they were at --from, then what changed, at --speed (seconds of history per "
        "second; 0: as fast as it goes)",
    )
    replay_parser.add_argument("--from", dest="start", required=True, help="a UTC time")
    replay_parser.add_argument("--to", dest="end", required=True, help="a UTC time")
    replay_parser.add_argument("--speed", type=float, default=60.0)
    replay_parser.add_argument("--name", help="campaigns whose name holds this (any case)")
    replay_parser.add_argument("--status", action="append", help="repeatable")
    replay_parser.add_argument("--tag", action="append", help="repeatable")
    replay_parser.add_argument(
        "--json", action="store_true", help="the wall's replay messages, one JSON per line"
    )
    add_store_options(replay_parser)
    import_parser = commands.add_parser(
        "import",
        help="load an NDJSON export into an empty store (same ids, versions, times, order) "
        "and build the read models from it",
    )
    import_parser.add_argument("file", help="an NDJSON file written by export")
    add_store_options(import_parser)
    for name, text in (
        ("relay", "publish the store's events to Kafka (scale-out; one active at a time)"),
        ("project", "feed the read models from Kafka (scale-out)"),
        ("dispatch", "run the sending engine and the carriers' links only, without the API"),
    ):
        add_store_options(commands.add_parser(name, help=text))
    rebuild_parser = commands.add_parser(
        "rebuild", help="drop a read model and rebuild it from the store, with progress"
    )
    rebuild_parser.add_argument(
        "view",
        choices=VIEWS,
        help="campaigns: the campaign list and the audit trail, and domains: the domains' "
        "usage, replayed from the store; stats: recounted from the activity rows "
        "(messages, clicks, opt-outs, replies); realtime: the wall's rows, redrawn from "
        "the other read models",
    )
    add_store_options(rebuild_parser)
    add_store_options(
        commands.add_parser(
            "verify", help="compare every read model with a fresh replay of the store"
        )
    )
    add_token_parser(commands)
    add_link_key_parser(commands)
    stack_parser = commands.add_parser(
        "stack",
        help="run the whole scale-out topology locally: PostgreSQL, Kafka, relay, projector, "
        "dispatchers, gateway",
    )
    stack_parser.add_argument("action", choices=("up", "down", "status"))
    stack_parser.add_argument("--dir", default="var/stack", help="its folder (default var/stack)")
    stack_parser.add_argument(
        "--port", type=int, help="the gateway's port (default 8000; 0: a free one)"
    )
    stack_parser.add_argument(
        "--postgres-port", type=int, default=25442, help="PostgreSQL's port (default 25442)"
    )
    stack_parser.add_argument(
        "--dispatchers",
        type=int,
        default=1,
        choices=range(1, 9),
        metavar="N",
        help="sending processes to start (default 1, at most 8): they share the streams "
        "out, and each takes over a stopped one's streams within the lease time",
    )
    stack_parser.add_argument(
        "--kafka-port",
        type=int,
        default=29102,
        help="the broker's port (default 29102; its controller: the next one)",
    )
    return root


def add_token_parser(commands: Any) -> None:
    from domain.roles import ROLES

    token_parser = commands.add_parser(
        "token",
        help="make, list or revoke access tokens (create prints the new token on its last line)",
    )
    actions = token_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new token; its secret is printed once")
    create.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        help="viewer (the wall, reads), analyst (reads, the event history), support (reads, "
        "audit), manager (every command), admin (everything, tokens), carrier (receipts and "
        "replies)",
    )
    create.add_argument(
        "--name", required=True, help="who uses it: recorded as the actor of their changes"
    )
    add_store_options(create)
    listing = actions.add_parser("list", help="the live tokens (never their secrets)")
    listing.add_argument("--all", action="store_true", help="revoked ones too")
    add_store_options(listing)
    revoke = actions.add_parser("revoke", help="revoke a token and end its sign-ins")
    revoke.add_argument("token_id", help="the token's id or name")
    add_store_options(revoke)


def add_link_key_parser(commands: Any) -> None:
    link_key_parser = commands.add_parser(
        "link-key", help="rotate or list the secret keys of the link codes in messages"
    )
    actions = link_key_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_store_options(
        actions.add_parser(
            "rotate", help="new links use a new key; links already sent keep working"
        )
    )
    add_store_options(
        actions.add_parser("list", help="each key's id and when it was made (never the keys)")
    )


VIEWS = ("campaigns", "domains", "stats", "realtime")
Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Command] = {
    "audit": audit,
    "export": export,
    "import": import_history,
    "replay": replay,
    "relay": relay,
    "project": project,
    "dispatch": dispatch,
    "rebuild": rebuild,
    "verify": verify,
    "stack": stack,
    "token": token,
    "link-key": link_key,
}


def run(args: argparse.Namespace, commands: Mapping[str, Command]) -> int:
    """Runs the parsed command; its exit status."""
    try:
        return commands[args.command](args)
    except (SettingsError, AlreadySending) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
