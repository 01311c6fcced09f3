"""Lifecycle commands over HTTP against the bare library, in one run.

    .venv/bin/python -m benchmarks.lifecycle [--backend sqlite|postgres|both] [--seconds N]
        [--clients C] [--client asyncio|httpx] [--repeat R] [--command-ids]
        [--variants a,b+c,...] [--profile [--profile-variant v]] [--cpu-profile]

For each backend it measures, one after the other (R interleaved rounds, medians):
1. bare: `ProcessPlatform.save()` of lifecycle changes made by direct aggregate calls
   (pause, resume, pause, ... on campaigns already Started, held in memory), from 1 thread
   and from 4 threads, each thread on its own campaigns;
2. http: first the harness's own ceiling (the same clients on `GET /healthz`), then
   `POST /api/campaigns/{id}/pause` and `/resume` alternately from C concurrent keep-alive
   clients (`--client asyncio`, the default: C connections of one event loop in one thread;
   `--client httpx`: C httpx clients in threads), each on its own Started campaigns, against
   a real uvicorn server in its own process serving `create_app(build(settings),
   own_platform=True)` with the sending engine not started; every request's latency is kept;
then prints commands/s, the ratio HTTP/bare (the best bare figure is the denominator, named),
the HTTP p50/p99/max, and whether the targets of docs/targets.md are
met: HTTP >= 50 % of bare and p99 < 50 ms (stated for PostgreSQL; shown for SQLite too).

Diagnostics, optional: `--variants` re-runs the HTTP phase with server-side monkeypatches
(see benchmarks/_server.py VARIANTS; `procsN` runs N gateway processes on one port);
`--profile` runs an instrumented server (step timers, CPU per thread role, stack samples);
`--cpu-profile` runs one client against a server whose commands run on the event loop
under cProfile (CPU time), to see the cost of one command function by function.

Everything is on 127.0.0.1, every phase is bounded by --seconds, and what was started is
stopped: the server processes, and the throwaway PostgreSQL (var/bench-postgres, port 55433,
started with infra.local_postgres and stopped at the end). Each phase uses a fresh store: a
temporary folder for SQLite, a fresh schema for PostgreSQL (all dropped at the end).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._auth import HEADERS
from benchmarks._proc import process_cpu

ROOT = Path(__file__).resolve().parents[1]
PG_DIR = ROOT / "var" / "bench-postgres"
PG_PORT = 55433
CAMPAIGNS_PER_WORKER = 4
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
SERVER_START_TIMEOUT = 60.0


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- stores


@dataclass
class Store:
    """One fresh store: a SQLite folder or a PostgreSQL schema."""

    backend: str
    data_dir: Path | None = None
    database_url: str | None = None
    schema: str = "public"

    def settings(self) -> Any:
        from infra.settings import Settings, parse_database_url

        if self.backend == "sqlite":
            assert self.data_dir is not None
            return Settings(data_dir=self.data_dir)
        assert self.database_url is not None
        return Settings(postgres=parse_database_url(self.database_url, self.schema))

    def server_args(self) -> list[str]:
        if self.backend == "sqlite":
            return ["--data-dir", str(self.data_dir)]
        return ["--database-url", str(self.database_url), "--schema", self.schema]


class Stores:
    """Hands out fresh stores and removes them all at the end."""

    def __init__(self, backend: str, database_url: str | None) -> None:
        self.backend = backend
        self.database_url = database_url
        self.stamp = f"{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        self.made: list[Store] = []
        self.tmp = (
            Path(tempfile.mkdtemp(prefix="campaigns-bench-")) if backend == "sqlite" else None
        )

    def fresh(self, purpose: str) -> Store:
        n = len(self.made)
        if self.backend == "sqlite":
            assert self.tmp is not None
            store = Store("sqlite", data_dir=self.tmp / f"{n}-{purpose}")
        else:
            store = Store(
                "postgres",
                database_url=self.database_url,
                schema=f"bench_{self.stamp}_{n}_{purpose}",
            )
        self.made.append(store)
        return store

    def remove_all(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        import psycopg

        try:
            with psycopg.connect(str(self.database_url), autocommit=True) as connection:
                for store in self.made:
                    connection.execute(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')
        except Exception as error:  # the cluster is throwaway: report and go on
            say(f"could not drop the bench schemas: {error}")


# --------------------------------------------------------------------------- campaigns


def complete_fields(n: int) -> dict[str, Any]:
    """Everything a campaign needs to launch (the unit tests' complete campaign)."""
    return {
        "name": f"Bench {n}",
        "description": "lifecycle benchmark",
        "tags": ["bench"],
        "sender": "Shop",
        "stream": "demo",
        "contact_lists": ["2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"],
        "variants": [
            {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3},
            {"text": "Sale now on {short_url} Stop: {optout_url}", "weight": 1},
        ],
        "links": {
            "short": {"target": "https://shop.example.com/spring", "domains": ["go.example.com"]},
            "optout": {"domains": ["out.example.com"]},
        },
    }


LINK_DOMAINS = ("go.example.com", "out.example.com")


def add_link_domains(app: Any) -> None:
    """The domains the campaigns' links name, added and configured (idempotent)."""
    app.add_domains(list(LINK_DOMAINS), actor="bench")
    for name in LINK_DOMAINS:
        app.change_domain_status(name, "configure", actor="bench")


def started_campaigns(app: Any, count: int) -> list[Any]:
    """Creates `count` complete campaigns and drives them to Started through the application:
    create and launch as a user would, then the system's prepare and start."""
    add_link_domains(app)
    campaigns = []
    for n in range(count):
        campaign = app.create_campaign(complete_fields(n), actor="bench")
        app.change_campaign_status(campaign.id, "launch", actor="bench")
        campaign = app.get_campaign(campaign.id)
        campaign.prepare(100, datetime.now(UTC))
        campaign.start("bench")
        app.save(campaign)
        campaign = app.get_campaign(campaign.id)
        assert campaign.status.value == "Started", campaign.status
        campaigns.append(campaign)
    return campaigns


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """What one timed phase did: operations, seconds, latencies (s)."""

    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    cpu: dict[str, float] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # one per repeat, when combined

    @property
    def rate(self) -> float:
        if self.rates:
            return statistics.median(self.rates)
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def spread(self) -> str:
        """The repeats' range, e.g. "[612-701]"; empty for a single run."""
        if len(self.rates) < 2:
            return ""
        return f"[{min(self.rates):,.0f}-{max(self.rates):,.0f}]"

    @classmethod
    def combine(cls, runs: list[Run]) -> Run:
        """Repeats of one phase: the median rate, every latency, the mean CPU."""
        if len(runs) == 1:
            return runs[0]
        keys = {k for run in runs for k in run.cpu}
        return cls(
            ops=sum(r.ops for r in runs),
            seconds=sum(r.seconds for r in runs),
            latencies=[x for r in runs for x in r.latencies],
            errors=sum(r.errors for r in runs),
            first_error=next((r.first_error for r in runs if r.first_error), ""),
            cpu={k: statistics.mean(r.cpu.get(k, 0.0) for r in runs) for k in keys},
            rates=[r.rate for r in runs],
        )

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000


def run_threads(
    workers: list[Callable[[float, float], tuple[int, list[float], int, str]]],
    warmup: float,
    seconds: float,
    cpu_probe: Callable[[], dict[str, float]] | None = None,
    on_measure: Callable[[], None] | None = None,
) -> Run:
    """Runs each worker in its own thread over [now, now + warmup + seconds]; each counts only
    what it started in the measured window, [start + warmup, end)."""
    results: list[tuple[int, list[float], int, str]] = [(0, [], 0, "")] * len(workers)
    begin = time.perf_counter() + 0.2
    measure_from = begin + warmup
    end = measure_from + seconds

    def body(i: int) -> None:
        results[i] = workers[i](measure_from, end)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    if on_measure:
        on_measure()
    cpu_before = cpu_probe() if cpu_probe else {}
    time.sleep(max(0.0, end - time.perf_counter()))
    cpu_after = cpu_probe() if cpu_probe else {}
    for thread in threads:
        thread.join(timeout=seconds + 60)
    run = Run(seconds=seconds)
    for ops, latencies, errors, first_error in results:
        run.ops += ops
        run.latencies.extend(latencies)
        run.errors += errors
        run.first_error = run.first_error or first_error
    run.cpu = {k: (cpu_after[k] - cpu_before.get(k, 0.0)) / seconds for k in cpu_after}
    return run


def postgres_cpu() -> float:
    """CPU seconds used so far by every live process named postgres (the bench cluster)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        total += process_cpu(int(entry.name))
    return total


# --------------------------------------------------------------------------- 1. bare


def bare_phase(
    store: Store,
    threads_list: list[int],
    warmup: float,
    seconds: float,
    cpu_probe: Callable[[], dict[str, float]] | None = None,
) -> dict[int, Run]:
    """`app.save()` of pause/resume on Started campaigns held in memory: the library's rate."""
    from domain.status import Status
    from infra.application import ProcessPlatform
    from infra.bootstrap import ensure_schema, store_environment

    settings = store.settings()
    if settings.postgres is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    else:
        ensure_schema(settings)
    app = ProcessPlatform(env=store_environment(settings))
    app.ensure_demo_stream()
    results: dict[int, Run] = {}
    try:
        for n_threads in threads_list:
            campaigns = started_campaigns(app, n_threads * CAMPAIGNS_PER_WORKER)

            def worker_for(
                mine: list[Any],
            ) -> Callable[[float, float], tuple[int, list[float], int, str]]:
                def work(measure_from: float, end: float) -> tuple[int, list[float], int, str]:
                    ops, latencies, i = 0, [], 0
                    while True:
                        t0 = time.perf_counter()
                        if t0 >= end:
                            break
                        campaign = mine[i % len(mine)]
                        i += 1
                        if campaign.status is Status.STARTED:
                            campaign.pause(actor="bench", command_id=None)
                        else:
                            campaign.resume(actor="bench", command_id=None)
                        app.save(campaign)
                        if t0 >= measure_from:
                            ops += 1
                            latencies.append(time.perf_counter() - t0)
                    return ops, latencies, 0, ""

                return work

            workers = [
                worker_for(campaigns[k * CAMPAIGNS_PER_WORKER : (k + 1) * CAMPAIGNS_PER_WORKER])
                for k in range(n_threads)
            ]
            probe = cpu_probe or cpu_probe_for([], store.backend)
            run = run_threads(workers, warmup, seconds, cpu_probe=probe)
            results[n_threads] = run
            say(
                f"bare {store.backend}, {n_threads} thread(s): {run.rate:,.0f} saves/s "
                f"(p50 {run.percentile(50):.2f} ms, p99 {run.percentile(99):.2f} ms)"
            )
    finally:
        app.close()
    return results


def cpu_probe_for(server_pids: list[int], backend: str) -> Callable[[], dict[str, float]]:
    def probe() -> dict[str, float]:
        times = os.times()
        cpu = {"bench process": times.user + times.system}
        if backend == "postgres":
            cpu["postgres"] = postgres_cpu()
        if server_pids:
            cpu["server process(es)"] = sum(process_cpu(pid) for pid in server_pids)
        return cpu

    return probe


# --------------------------------------------------------------------------- 2. http


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def split_variant(variant: str) -> tuple[str, int]:
    """A variant's server-side part and its number of server processes (`procsN`)."""
    parts = [v for v in variant.split(",") if v]
    processes = 1
    for part in [p for p in parts if p.startswith("procs")]:
        processes = int(part.removeprefix("procs"))
        parts.remove(part)
    return ",".join(parts) or "baseline", processes


@contextmanager
def server_process(
    store: Store, *, profile: bool, variant: str, cprofile: bool = False
) -> Iterator[tuple[str, list[int]]]:
    """The gateway in its own process (or several sharing the port, for `procsN`: the first
    one feeds the read models, the others do not, as in the scale-out shape)."""
    port = free_port()
    server_variant, processes = split_variant(variant)
    commands = []
    for n in range(processes):
        this_variant = server_variant if n == 0 else f"{server_variant},nofeed"
        command = [
            sys.executable,
            "-m",
            "benchmarks._server",
            "--port",
            str(port),
            "--variant",
            this_variant,
            *store.server_args(),
        ]
        if processes > 1:
            command.append("--reuse-port")
        if profile:
            command.append("--profile")
        if cprofile:
            command.append("--cprofile")
        commands.append(command)
    running: list[subprocess.Popen[bytes]] = []
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for command in commands:
            process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL)
            running.append(process)
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while True:  # each one ready before the next starts (same port, one lifespan each)
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the server exited with {process.returncode} while starting"
                    )
                try:  # ready, and this very process answering (the port may be shared)
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200 and any(
                        httpx.get(f"{base}/_bench/pid", timeout=2, headers=HEADERS).json()["pid"]
                        == process.pid
                        for _ in range(20)
                    ):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server was not ready within {SERVER_START_TIMEOUT:.0f} s"
                    )
                time.sleep(0.1)
        yield base, [p.pid for p in running]
    finally:
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # uvicorn: graceful shutdown, lifespan closes
        for process in running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                say(f"server {process.pid} did not stop within 30 s; killing it")
                process.kill()
                process.wait(timeout=10)


def setup_http_campaigns(store: Store, count: int) -> list[str]:
    """Campaigns driven to Started, written with the platform's app before the server starts
    (the server's lifespan then catches the read models up)."""
    from infra.bootstrap import build

    with build(store.settings()) as platform:
        return [str(c.id) for c in started_campaigns(platform.app, count)]


def noop_worker(base: str) -> Callable[[float, float], tuple[int, list[float], int, str]]:
    import httpx

    def work(measure_from: float, end: float) -> tuple[int, list[float], int, str]:
        ops, latencies = 0, []
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base, timeout=30, limits=limits, headers=HEADERS) as client:
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                client.get("/healthz").raise_for_status()
                if t0 >= measure_from:
                    ops += 1
                    latencies.append(time.perf_counter() - t0)
        return ops, latencies, 0, ""

    return work


def httpx_command_worker(
    base: str, mine: list[str], command_ids: bool
) -> Callable[[float, float], tuple[int, list[float], int, str]]:
    """One thread, one keep-alive httpx client, pausing and resuming its own campaigns."""
    import httpx

    def work(measure_from: float, end: float) -> tuple[int, list[float], int, str]:
        status = dict.fromkeys(mine, "Started")
        ops, latencies, errors, first_error, i = 0, [], 0, "", 0
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base, timeout=30, limits=limits, headers=HEADERS) as client:
            while True:
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                cid = mine[i % len(mine)]
                i += 1
                command = "pause" if status[cid] == "Started" else "resume"
                body = {"command_id": str(uuid.uuid4())} if command_ids else None
                response = client.post(f"/api/campaigns/{cid}/{command}", json=body)
                elapsed = time.perf_counter() - t0
                if response.status_code == 200:
                    status[cid] = response.json()["status"]
                else:
                    errors += 1
                    first_error = first_error or f"{response.status_code} {response.text[:300]}"
                    status[cid] = client.get(f"/api/campaigns/{cid}").json()["status"]
                if t0 >= measure_from:
                    ops += 1
                    latencies.append(elapsed)
        return ops, latencies, errors, first_error

    return work


def asyncio_command_client(mine: list[str], command_ids: bool) -> Any:
    """One connection of the asyncio client, pausing and resuming its own campaigns."""
    import json

    from benchmarks._http import Connection

    async def client(
        connection: Connection, measure_from: float, end: float
    ) -> tuple[int, list[float], int, str]:
        status = dict.fromkeys(mine, "Started")
        latencies: list[float] = []
        ops, errors, first_error, i = 0, 0, "", 0
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                return ops, latencies, errors, first_error
            cid = mine[i % len(mine)]
            i += 1
            command = "pause" if status[cid] == "Started" else "resume"
            body = json.dumps({"command_id": str(uuid.uuid4())}).encode() if command_ids else None
            code, answer = await connection.request("POST", f"/api/campaigns/{cid}/{command}", body)
            elapsed = time.perf_counter() - t0
            if code == 200:
                status[cid] = json.loads(answer)["status"]
            else:
                errors += 1
                first_error = first_error or f"{code} {answer[:300].decode(errors='replace')}"
                _code, current = await connection.request("GET", f"/api/campaigns/{cid}")
                status[cid] = json.loads(current)["status"]
            if t0 >= measure_from:
                ops += 1
                latencies.append(elapsed)

    return client


def client_workers(
    kind: str, base: str, groups: list[list[str]], *, noop: bool = False, command_ids: bool = False
) -> list[Callable[[float, float], tuple[int, list[float], int, str]]]:
    """The load: one httpx client per thread, or every asyncio connection in one thread.
    `groups` are the campaigns of each client; `noop` sends GET /healthz instead (the
    harness's ceiling), from as many clients."""
    if kind == "httpx":
        if noop:
            return [noop_worker(base) for _ in groups]
        return [httpx_command_worker(base, mine, command_ids) for mine in groups]
    from benchmarks import _http

    host, port = base.removeprefix("http://").split(":")
    clients = (
        [_http.get_healthz] * len(groups)
        if noop
        else [asyncio_command_client(mine, command_ids) for mine in groups]
    )

    def work(measure_from: float, end: float) -> tuple[int, list[float], int, str]:
        return _http.run_clients(host, int(port), clients, measure_from, end)

    return [work]


def http_phase(
    store: Store,
    clients: int,
    warmup: float,
    seconds: float,
    *,
    client: str = "asyncio",
    profile: bool = False,
    variant: str = "baseline",
    command_ids: bool = False,
    cprofile: bool = False,
    noop_seconds: float = 0.0,
) -> tuple[Run, dict[str, Any]]:
    """Lifecycle commands over HTTP; with `noop_seconds`, first the same clients on
    `GET /healthz` (the harness's own ceiling: client + uvicorn, no work), in report["noop"]."""
    import httpx

    ids = setup_http_campaigns(store, clients * CAMPAIGNS_PER_WORKER)
    per = CAMPAIGNS_PER_WORKER
    groups = [ids[k * per : (k + 1) * per] for k in range(clients)]
    with server_process(store, profile=profile, variant=variant, cprofile=cprofile) as (
        base,
        pids,
    ):

        def mark() -> None:
            httpx.post(f"{base}/_bench/mark", timeout=10, headers=HEADERS)

        noop = None
        if noop_seconds:
            noop = run_threads(
                client_workers(client, base, groups, noop=True),
                min(1.0, warmup),
                noop_seconds,
                cpu_probe=cpu_probe_for(pids, store.backend),
            )
            say(f"http {store.backend}: no-op GET /healthz {noop.rate:,.0f} requests/s")
        run = run_threads(
            client_workers(client, base, groups, command_ids=command_ids),
            warmup,
            seconds,
            cpu_probe=cpu_probe_for(pids, store.backend),
            on_measure=mark,
        )
        report = httpx.get(f"{base}/_bench/report", timeout=30, headers=HEADERS).json()
        report["noop"] = noop
    say(
        f"http {store.backend} [{variant}]: {run.rate:,.0f} commands/s, p50 "
        f"{run.percentile(50):.1f} ms, p99 {run.percentile(99):.1f} ms, errors {run.errors}"
    )
    return run, report


# --------------------------------------------------------------------------- printing


@dataclass
class Result:
    backend: str
    bare: dict[int, Run]
    http: Run
    variants: dict[str, Run] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    cprofile: tuple[int, str] = (0, "")
    profile_rate: float = 0.0
    noop: Run | None = None
    group_commit: tuple[int, int] = (0, 0)  # the HTTP phases' commands saved, transactions

    def best_bare(self) -> tuple[float, str]:
        threads, run = max(self.bare.items(), key=lambda item: item[1].rate)
        return run.rate, f"bare {threads} thr"


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    rounds = f", median of {args.repeat} interleaved rounds" if args.repeat > 1 else ""
    print()
    print(
        f"Lifecycle commands over HTTP vs bare app.save(): {args.seconds:g} s per phase{rounds}, "
        f"{args.clients} {args.client} HTTP clients"
        f"{' with command ids' if args.command_ids else ''}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    header = (
        f"{'backend':<9} {'bare 1 thr/s':>12} {'bare 4 thr/s':>12} {'HTTP cmd/s':>10} "
        f"{'HTTP/bare':>9}  {'denominator':<11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'errors':>6}  {'>=50%':<5} {'p99<50':<6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        best, which = r.best_bare()
        ratio = r.http.rate / best if best else 0.0
        print(
            f"{r.backend:<9} {r.bare[1].rate:>12,.0f} {r.bare[4].rate:>12,.0f} "
            f"{r.http.rate:>10,.0f} {ratio:>9.0%}  {which:<11} "
            f"{r.http.percentile(50):>7.1f} {r.http.percentile(99):>7.1f} "
            f"{max(r.http.latencies, default=0) * 1000:>7.1f} {r.http.errors:>6}  "
            f"{'yes' if ratio >= TARGET_RATIO else 'NO':<5} "
            f"{'yes' if r.http.percentile(99) < TARGET_P99_MS else 'NO':<6}"
        )
        if r.http.rates:
            print(
                f"{'  range':<9} {r.bare[1].spread:>12} {r.bare[4].spread:>12} {r.http.spread:>10}"
            )
    print(
        "targets (docs/targets.md; stated for PostgreSQL): HTTP >= 50% of "
        "the best bare figure, p99 < 50 ms"
    )
    print()
    print(
        f"Harness ceiling: the same {args.clients} keep-alive {args.client} clients on "
        "GET /healthz:"
    )
    for r in results:
        if r.noop is not None:
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.noop.cpu.items()) if v >= 0.01)
            print(
                f"  {r.backend:<9} {r.noop.rate:>8,.0f} requests/s, p50 "
                f"{r.noop.percentile(50):.1f} ms (cores busy: {cpu})"
            )
    print()
    print("Group commit in the HTTP phases (warm-up included): commands saved per transaction")
    for r in results:
        saved, batches = r.group_commit
        if batches:
            each = saved / batches
            print(f"  {r.backend:<9} {saved:,} in {batches:,} transactions, {each:.1f} each")
    print()
    print(f"CPU while measuring, in cores busy (the machine has {os.cpu_count()}):")
    for r in results:
        http_cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.http.cpu.items()))
        bare_cpu = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.bare[4].cpu.items()))
        print(f"  {r.backend:<9} HTTP: {http_cpu}")
        print(f"  {'':<9} bare 4 thr: {bare_cpu}")
        if r.http.first_error:
            print(f"  {r.backend}: first HTTP error: {r.http.first_error}")
    if any(r.variants for r in results):
        from benchmarks._server import VARIANTS

        print()
        print("What-if variants (monkeypatched in the benchmark's server only; same load):")
        print(
            f"{'backend':<9} {'variant':<22} {'HTTP cmd/s':>10} {'range':>12} {'vs base':>8} "
            f"{'HTTP/bare':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        )
        for r in results:
            best, _which = r.best_bare()
            for name, run in r.variants.items():
                change = run.rate / r.http.rate - 1 if r.http.rate else 0.0
                print(
                    f"{r.backend:<9} {name:<22} {run.rate:>10,.0f} {run.spread:>12} "
                    f"{change:>+8.0%} {run.rate / best if best else 0:>9.0%} "
                    f"{run.percentile(50):>7.1f} {run.percentile(99):>7.1f} {run.errors:>6}"
                )
        names = sorted({v for r in results for n in r.variants for v in n.split(",")})
        for name in names:
            if name.startswith("procs"):
                print(
                    f"  {name}: {name.removeprefix('procs')} gateway processes sharing the "
                    "port (SO_REUSEPORT); only the first feeds the read models"
                )
            elif name in VARIANTS:
                print(f"  {name}: {VARIANTS[name]}")
    for r in results:
        if r.profile:
            print_profile(r)
    for r in results:
        if r.cprofile[1]:
            print()
            print(
                f"cProfile (CPU time of the event loop thread), {r.backend}: 1 client, commands "
                f"inline on the event loop, no feed; {r.cprofile[0]} requests in the window "
                "(divide the times by it)"
            )
            print(r.cprofile[1])


def print_profile(r: Result) -> None:
    profile = r.profile
    timers = profile.get("timers", {})
    print()
    print(f"Server-side profile, {r.backend} (a separate, instrumented run; measured window only)")
    requests = timers.get("0 ASGI app, whole request (after HTTP parsing)", {}).get("count", 0)
    print(f"{'step':<58} {'calls':>8} {'mean ms':>8} {'max ms':>8} {'ms/request':>10}")
    for name in sorted(timers):
        t = timers[name]
        per_request = 1000 * t["total_s"] / requests if requests else 0.0
        count, mean, most = t["count"], t["mean_ms"], t["max_ms"]
        print(f"{name:<58} {count:>8} {mean:>8.3f} {most:>8.1f} {per_request:>10.3f}")
    thread_cpu = profile.get("thread_cpu", {})
    if thread_cpu and r.profile_rate:
        print(
            f"Server CPU by thread role, cores busy and ms of CPU per command "
            f"({r.profile_rate:,.0f} commands/s in this run):"
        )
        for role, cores in sorted(thread_cpu.items(), key=lambda item: -item[1]):
            print(f"  {role:<40} {cores:5.2f}   {1000 * cores / r.profile_rate:6.2f} ms")
        total = sum(thread_cpu.values())
        print(f"  {'all':<40} {total:5.2f}   {1000 * total / r.profile_rate:6.2f} ms")
    sampler = profile.get("sampler", {})
    if sampler:
        print(
            f"Stack samples every {sampler['interval_ms']:.0f} ms ({sampler['samples']} samples); "
            "innermost Python frame per thread role, top entries:"
        )
        for role, entries in sorted(sampler["self"].items()):
            total = sampler["threads"].get(role, 1)
            print(f"  [{role}] {total} thread-samples")
            for label, count in entries[:12]:
                print(f"    {count / total:6.1%}  {label}")


# --------------------------------------------------------------------------- main


def run_backend(backend: str, args: argparse.Namespace, database_url: str | None) -> Result:
    stores = Stores(backend, database_url)
    warmup = min(2.0, max(0.5, args.seconds / 5))
    try:
        bare_runs: dict[int, list[Run]] = {1: [], 4: []}
        http_runs: list[Run] = []
        noop_runs: list[Run] = []
        variant_runs: dict[str, list[Run]] = {v: [] for v in args.variants}
        saved = batches = 0
        for repeat in range(1, args.repeat + 1):
            say(f"{backend}: round {repeat} of {args.repeat}: bare library phase")
            for threads, run in bare_phase(
                stores.fresh("bare"), [1, 4], warmup, args.seconds
            ).items():
                bare_runs[threads].append(run)
            say(f"{backend}: round {repeat} of {args.repeat}: HTTP phase, {args.clients} clients")
            http_run, report = http_phase(
                stores.fresh("http"),
                args.clients,
                warmup,
                args.seconds,
                client=args.client,
                command_ids=args.command_ids,
                noop_seconds=min(3.0, args.seconds),
            )
            http_runs.append(http_run)
            noop_runs.append(report["noop"])
            group = report.get("group_commit") or {}
            saved += group.get("saved", 0)
            batches += group.get("batches", 0)
            for variant in args.variants:
                run, _ = http_phase(
                    stores.fresh("var"),
                    args.clients,
                    warmup,
                    args.seconds,
                    client=args.client,
                    variant=variant,
                    command_ids=args.command_ids,
                )
                variant_runs[variant].append(run)
        result = Result(
            backend,
            {threads: Run.combine(runs) for threads, runs in bare_runs.items()},
            Run.combine(http_runs),
            {variant: Run.combine(runs) for variant, runs in variant_runs.items()},
            noop=Run.combine([run for run in noop_runs if run is not None]),
            group_commit=(saved, batches),
        )
        if args.profile:
            say(f"{backend}: profiled HTTP run (instrumented; figures not used above)")
            profiled, report = http_phase(
                stores.fresh("prof"),
                args.clients,
                warmup,
                args.seconds,
                client=args.client,
                profile=True,
                command_ids=args.command_ids,
                variant=args.profile_variant.replace("+", ","),
            )
            result.profile = report
            result.profile_rate = profiled.rate
        if args.cpu_profile:
            say(f"{backend}: cProfiled HTTP run (1 client, inline,nofeed)")
            run, report = http_phase(
                stores.fresh("cprof"),
                1,
                warmup,
                args.seconds,
                client=args.client,
                variant="inline,nofeed",
                cprofile=True,
                command_ids=args.command_ids,
            )
            result.cprofile = (run.ops, report.get("cprofile", ""))
        return result
    finally:
        stores.remove_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lifecycle",
        description="Lifecycle commands over HTTP vs the bare library's app.save(), one run.",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured phase (10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (8)")
    parser.add_argument(
        "--client",
        choices=["asyncio", "httpx"],
        default="asyncio",
        help="asyncio: every client a keep-alive connection of one event loop in one thread "
        "(default; cheap enough not to be the ceiling); httpx: one httpx client per thread "
        "(the first harness, about 1 ms of CPU per request on the bench side)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of bare + HTTP (+ variants), interleaved; rates are the median (1)",
    )
    parser.add_argument(
        "--pg-port", type=int, default=PG_PORT, help=f"throwaway PostgreSQL port ({PG_PORT})"
    )
    parser.add_argument(
        "--command-ids", action="store_true", help="send a fresh command_id with every command"
    )
    parser.add_argument(
        "--variants",
        default="",
        help="also run the HTTP phase with these server-side what-if monkeypatches, each a "
        "comma list joined by '+' (e.g. inline,nofeed,inline+nofeed); see benchmarks/_server.py",
    )
    parser.add_argument(
        "--cpu-profile",
        action="store_true",
        help="also run 1 client against an inline,nofeed server under cProfile: the CPU cost "
        "of one command, function by function",
    )
    parser.add_argument(
        "--profile-variant",
        default="baseline",
        help="the server variant the --profile run uses (baseline)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run an instrumented HTTP phase and print where the server's time goes",
    )
    args = parser.parse_args(argv)
    args.variants = [v.replace("+", ",") for v in args.variants.split(",") if v]
    if args.seconds <= 0 or args.clients < 1 or args.repeat < 1:
        parser.error("--seconds must be > 0, --clients and --repeat >= 1")
    os.chdir(ROOT)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    pg_started = False
    try:
        for backend in backends:
            database_url = None
            if backend == "postgres":
                from infra import local_postgres

                say(f"starting the throwaway PostgreSQL in {PG_DIR} on port {args.pg_port}")
                database_url = local_postgres.start(PG_DIR, args.pg_port)
                pg_started = True
            results.append(run_backend(backend, args, database_url))
    finally:
        if pg_started:
            from infra import local_postgres

            say("stopping the throwaway PostgreSQL")
            local_postgres.stop(PG_DIR)
    print_table(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
