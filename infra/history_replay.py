"""`campaigns replay`: a time range of the history played in the terminal, as the wall's
replay plays it (the same rows, the same messages as `WS /ws/replay`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from typing import Any, TextIO

from infra.bootstrap import Platform
from infra.progress import Meter, progress_display
from projections.replay import Replay
from projections.wall import MAX_SPEED, FilterError, Player, RowFilter, parse_moment

TICK_SECONDS = 0.25
FAST_STEP = timedelta(minutes=1)  # speed 0: a minute of history per step, no waiting


class Filters(dict[str, list[str]]):
    """The command's options in the shape the wall's filters read."""

    def get(self, key: str, default: Any = None) -> Any:
        values = super().get(key)
        return values[-1] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(super().get(key, []))


def play(platform: Platform, args: argparse.Namespace, out: TextIO | None = None) -> int:
    try:
        start, end = parse_moment(args.start, "--from"), parse_moment(args.end, "--to")
        row_filter = RowFilter.from_query(
            Filters(name=[args.name or ""], status=args.status or [], tag=args.tag or [])
        )
    except FilterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not start < end:
        print("error: --from must come before --to", file=sys.stderr)
        return 2
    if not 0 <= args.speed <= MAX_SPEED:
        print(f"error: --speed must be 0 to {MAX_SPEED:,.0f}", file=sys.stderr)
        return 2
    history = Replay(platform.read_events, platform.database, start, end)
    player = Player(history, row_filter, args.speed)
    span = (end - start).total_seconds()
    with progress_display() as display:
        out = out or sys.stdout  # taken here: on a terminal, the lines go above the progress
        played = Meter(display, "replayed", round(span))
        played.show(reached(start, end), 0)
        show(player.snapshot(history.snapshot()), args.json, out)
        began, moment = time.monotonic(), start
        while moment < end:
            if args.speed:
                time.sleep(TICK_SECONDS)
                moment = start + timedelta(seconds=(time.monotonic() - began) * args.speed)
            else:
                moment += FAST_STEP
            moment = min(moment, end)
            message = player.update(history.step(moment), moment)
            if message is not None:
                show(message, args.json, out)
            played.show(reached(moment, end), (moment - start).total_seconds())
        played.finish(span, reached(end, end))
        show(
            {"type": "end", "position": history.position, "replay": player.marker(end)},
            args.json,
            out,
        )
    return 0


def reached(moment: datetime, end: datetime) -> str:
    """Where the replay is in its time range, for its progress."""
    return f"{moment:%Y-%m-%d %H:%M:%S} of {end:%Y-%m-%d %H:%M:%S}"


def show(message: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
    else:
        at = message["replay"]["at"]
        if message["type"] == "end":
            out.write(f"{clock(at)}  end of the replay\n")
        for campaign_id in message.get("removed", []):
            out.write(f"{clock(at)}  {campaign_id}  no longer matches\n")
        for row in message.get("rows", []):
            out.write(f"{clock(at)}  {line(row)}\n")
    out.flush()


def line(row: dict[str, Any]) -> str:
    ctr = "-" if row["ctr"] is None else f"{row['ctr']:.2f}%"
    return (
        f"{row['name'][:40]:<40} {row['status']:<10} sent {row['sent']:,}/{row['recipients']:,}"
        f"  delivered {row['delivered']:,}  failed {row['failed']:,}  clicks {row['clicks']:,}"
        f"  CTR {ctr}  cost {row['cost']}"
    )


def clock(at: str) -> str:
    return f"{at[:10]} {at[11:19]}"
