"""The gateway under test, in its own process: `python -m benchmarks._server ...`.

Started by `benchmarks.lifecycle`; not meant to be run by hand. It serves
`gateway.app.create_app(infra.bootstrap.build(settings), own_platform=True)` with uvicorn on
a loopback port, exactly as `campaigns serve` does (uvicorn's defaults: uvloop, httptools).

`GET /_bench/report` answers what the profile found; `POST /_bench/mark` starts the measured
window. Two things only a benchmark may do, both inside this process and never in production code:
- `--profile`: time the steps of a request (timers wrapped around functions by monkeypatching)
  and sample every thread's stack;
- `--variant`: monkeypatch one suspected cost away, to measure what removing it would give.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._auth import TOKEN
from infra.settings import Settings, parse_database_url

# What each variant changes; the driver prints these next to the figures.
VARIANTS = {
    "baseline": "the gateway as shipped",
    "inline": "commands run on the event loop thread (no run_in_threadpool hop)",
    "nofeed": "the embedded read-model feed is not running (no projector work while serving)",
    "batchfeed": "the read-model feed catches up at most every 50 ms (batched transactions)",
    "engine": "the sending engine runs too, as in `campaigns serve` (by default it is not "
    "started: this measures the gateway role)",
    "threads1": "at most 1 command in the threadpool at a time (anyio limiter 40 -> 1)",
    "threads2": "at most 2 commands in the threadpool at a time (anyio limiter 40 -> 2)",
    "threads4": "at most 4 commands in the threadpool at a time (anyio limiter 40 -> 4)",
    "switch1ms": "GIL switch interval 5 ms -> 1 ms (sys.setswitchinterval)",
    "nocommitted": "no committed-state cache: commands start from the library's aggregate "
    "cache, fast-forwarded from the store",
}


class Timers:
    """Call counts and wall time per named step, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            entry = self.data.setdefault(name, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += seconds
            entry[2] = max(entry[2], seconds)

    def reset(self) -> None:
        with self.lock:
            self.data.clear()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    def report(self) -> dict[str, dict[str, float]]:
        with self.lock:
            return {
                name: {
                    "count": c,
                    "total_s": t,
                    "mean_ms": 1000 * t / c if c else 0.0,
                    "max_ms": 1000 * m,
                }
                for name, (c, t, m) in self.data.items()
            }


class Sampler:
    """A poor man's all-threads profiler: every few ms, where is each thread?"""

    DEPTH = 3  # the innermost frame and its two callers

    def __init__(self, interval: float = 0.004) -> None:
        self.interval = interval
        self.samples = 0
        self.self_counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.incl_counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.thread_samples: collections.Counter[str] = collections.Counter()
        self.stopping = threading.Event()
        self.active = threading.Event()
        self.thread = threading.Thread(target=self.run, name="bench-sampler", daemon=True)

    @staticmethod
    def role(name: str) -> str:
        if name == "MainThread":
            return "event loop"
        if name.startswith("AnyIO worker"):
            return "threadpool workers"
        if name == "log-feed":
            return "read-model feed"
        if name == "bench-sampler":
            return "the profiler's own sampler"
        return "other: " + name.split("-")[0].split(" ")[0]

    @staticmethod
    def label(frame: Any) -> str:
        code = frame.f_code
        module = frame.f_globals.get("__name__", "?")
        return f"{module}.{code.co_qualname}"

    def run(self) -> None:
        me = threading.get_ident()
        while not self.stopping.wait(self.interval):
            if not self.active.is_set():
                continue
            names = {t.ident: t.name for t in threading.enumerate()}
            frames = sys._current_frames()
            self.samples += 1
            for ident, frame in frames.items():
                if ident == me:
                    continue
                role = self.role(names.get(ident, "?"))
                chain: list[str] = []
                f: Any = frame
                while f is not None and len(chain) < self.DEPTH:
                    chain.append(self.label(f))
                    f = f.f_back
                self.thread_samples[role] += 1
                self.self_counts[role][" <- ".join(chain)] += 1
                seen: set[str] = set()
                f = frame
                while f is not None:
                    label = self.label(f)
                    if label not in seen:
                        seen.add(label)
                        self.incl_counts[role][label] += 1
                    f = f.f_back

    def report(self, top: int = 25) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "interval_ms": self.interval * 1000,
            "threads": dict(self.thread_samples),
            "self": {role: c.most_common(top) for role, c in self.self_counts.items()},
            "inclusive": {role: c.most_common(top) for role, c in self.incl_counts.items()},
        }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) per native thread id of this process."""
    result = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        result[int(task)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return result


def cpu_by_role(before: dict[int, float], seconds: float) -> dict[str, float]:
    """Cores busy per thread role since `before` (a thread_cpu() snapshot)."""
    roles = {t.native_id: Sampler.role(t.name) for t in threading.enumerate()}
    totals: dict[str, float] = collections.defaultdict(float)
    for tid, cpu in thread_cpu().items():
        role = roles.get(tid, "other: not a Python thread")
        totals[role] += (cpu - before.get(tid, 0.0)) / seconds
    return dict(totals)


def install_profile(timers: Timers, variants: list[str]) -> None:
    """Wraps the steps of a lifecycle command in timers (monkeypatching, this process only)."""
    import eventsourcing.application as es_app
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    import gateway.api as api
    from domain.application import CampaignPlatform
    from domain.campaign import Campaign
    from infra import feed
    from infra.application import ProcessPlatform
    from infra.committed import CommittedStates
    from infra.group_commit import GroupCommit
    from projections.projector import Projector

    async def timed_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        stamps: dict[str, float] = {}

        def run() -> Any:
            stamps["start"] = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stamps["end"] = time.perf_counter()

        submitted = time.perf_counter()
        if "inline" in variants:  # the variant runs commands on the loop: keep that
            result = run()
        else:
            result = await run_in_threadpool(run)
        back = time.perf_counter()
        name = getattr(function, "__name__", "call")
        timers.add("1 hop: loop -> worker thread (queue + GIL wait)", stamps["start"] - submitted)
        timers.add(f"2 worker: {name}", stamps["end"] - stamps["start"])
        timers.add("3 hop: worker -> loop (wake-up)", back - stamps["end"])
        return result

    api.call = timed_call
    patches: list[tuple[Any, str, str]] = [
        (api, "campaign_json", "4 render: campaign_json"),
        (JSONResponse, "render", "5 render: JSONResponse.render (json.dumps)"),
        (CommittedStates, "copy", "2a committed copy (unpickle; None on a miss)"),
        (CampaignPlatform, "load", "2a.1 app.load (store read: a miss or a re-check)"),
        (es_app, "deepcopy", "2a.2 deepcopy in app.load"),
        (ProcessPlatform, "save_new", "2c app.save_new (group commit, remember the state)"),
        (GroupCommit, "save", "2c.1 GroupCommit.save (wait for the batch, or lead it)"),
        (ProcessPlatform, "store_events", "2c.2 app.store_events (one txn for a batch)"),
        (Campaign, "pause", "2b decide: Campaign.pause"),
        (Campaign, "resume", "2b decide: Campaign.resume"),
        (Projector, "handle", "feed: Projector.handle (one read-model txn)"),
        (feed, "read_messages", "feed: read_messages (log -> messages)"),
    ]
    for owner, attribute, name in patches:
        setattr(owner, attribute, timers.wrap(name, getattr(owner, attribute)))


def install_recorder_timers(timers: Timers, platform: Any) -> None:
    """Timers on the store itself: the fast-forward SELECT and the insert transaction."""
    recorder = platform.app.recorder
    recorder.insert_events = timers.wrap(
        "2c.3 recorder.insert_events (txn)", recorder.insert_events
    )
    recorder.select_events = timers.wrap("2a.3 recorder.select_events", recorder.select_events)


def install_variants(variants: list[str]) -> None:
    """Monkeypatches that change behaviour before the platform is built."""
    import gateway.api as api
    from infra.feed import LogFeed

    if "inline" in variants:

        async def inline_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        api.call = inline_call
    if "nofeed" in variants:
        LogFeed.start = lambda self: None  # type: ignore[method-assign]
    if "batchfeed" in variants:

        def batched_run(self: LogFeed) -> None:
            while not self.stopping.is_set():
                try:
                    self.catch_up()
                except Exception:
                    self.stopping.wait(1)
                self.wake.wait(0.25)
                self.wake.clear()
                self.stopping.wait(0.05)

        LogFeed.run = batched_run  # type: ignore[method-assign]


def thread_limit(variants: list[str]) -> int | None:
    for variant in variants:
        if variant.startswith("threads"):
            return int(variant.removeprefix("threads"))
    return None


def apply_platform_variants(variants: list[str], platform: Any) -> None:
    if "switch1ms" in variants:
        sys.setswitchinterval(0.001)
    if "nocommitted" in variants:
        platform.app.committed = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--schema", default="public")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--variant", default="baseline")
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="cProfile the event loop thread (use with the inline variant: then every "
        "command runs there) from the mark to the report",
    )
    parser.add_argument("--reuse-port", action="store_true", help="share the port (SO_REUSEPORT)")
    args = parser.parse_args(argv)

    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from gateway.app import create_app
    from infra.bootstrap import build

    variants = [v for v in args.variant.split(",") if v and v != "baseline"]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")

    settings = Settings(
        data_dir=args.data_dir or Path("var"),
        postgres=parse_database_url(args.database_url, args.schema) if args.database_url else None,
        host="127.0.0.1",
        port=args.port,
        # The engine would drive the benchmark's Started campaigns on to Sending; in the
        # scale-out shape it is a process of its own, not part of the gateway's load.
        sending="engine" in variants,
        bootstrap_token=TOKEN,
    )
    timers = Timers()
    sampler = Sampler()
    install_variants(variants)
    if args.profile:
        install_profile(timers, variants)
    platform = build(settings)
    apply_platform_variants(variants, platform)
    if args.profile:
        install_recorder_timers(timers, platform)
        sampler.thread.start()
    app = create_app(platform, own_platform=True)

    # Benchmark-only control endpoint: the driver marks the start of the measured window so
    # that set-up and warm-up are not in the profile.
    import cProfile
    import io
    import pstats

    # CPU time of the event loop thread (time.thread_time), not wall time: with the inline
    # variant and one client, that is the CPU cost of a command, function by function.
    cpu_profiler = cProfile.Profile(time.thread_time) if args.cprofile else None
    marked: dict[str, float] = {}
    cpu_before: dict[int, float] = {}

    async def mark(_request: Request) -> JSONResponse:
        timers.reset()
        sampler.active.set()
        if cpu_profiler is not None:
            cpu_profiler.enable()
        marked["at"] = time.perf_counter()
        cpu_before.clear()
        cpu_before.update(thread_cpu())
        return JSONResponse({"ok": True})

    def cpu_report() -> str:
        if cpu_profiler is None:
            return ""
        cpu_profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(cpu_profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
        return out.getvalue()

    started = time.perf_counter()

    async def report(_request: Request) -> JSONResponse:
        sampler.active.clear()
        return JSONResponse(
            {
                "variants": variants or ["baseline"],
                "uptime_s": time.perf_counter() - started,
                "timers": timers.report() if args.profile else {},
                "sampler": sampler.report() if args.profile else {},
                "cprofile": cpu_report(),
                "thread_cpu": cpu_by_role(cpu_before, time.perf_counter() - marked["at"])
                if marked
                else {},
                "group_commit": {
                    "batches": platform.app.group_commit.batches,
                    "saved": platform.app.group_commit.saved,
                },
            }
        )

    async def pid(_request: Request) -> JSONResponse:
        return JSONResponse({"pid": os.getpid()})

    app.router.routes.insert(0, Route("/_bench/mark", mark, methods=["POST"]))
    app.router.routes.insert(0, Route("/_bench/pid", pid, methods=["GET"]))
    app.router.routes.insert(0, Route("/_bench/report", report, methods=["GET"]))

    served: Any = app
    limit = thread_limit(variants)
    if limit is not None:
        import anyio.to_thread

        limited = False

        async def limiting_app(scope: Any, receive: Any, send: Any) -> None:
            nonlocal limited
            if not limited and scope["type"] == "http":
                anyio.to_thread.current_default_thread_limiter().total_tokens = limit
                limited = True
            await app(scope, receive, send)

        served = limiting_app
    if args.profile:
        inner = served

        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"].startswith("/_bench"):
                await inner(scope, receive, send)
                return
            start = time.perf_counter()
            try:
                await inner(scope, receive, send)
            finally:
                timers.add(
                    "0 ASGI app, whole request (after HTTP parsing)", time.perf_counter() - start
                )

        served = timed_app

    config = uvicorn.Config(served, host="127.0.0.1", port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    sockets = None
    if args.reuse_port:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", args.port))
        sockets = [sock]
    try:
        server.run(
            sockets=sockets
        )  # until SIGTERM from the driver (uvicorn shuts down, then re-raises it)
    finally:
        sampler.stopping.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
