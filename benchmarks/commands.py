"""Concurrent commands in one process: with and without the committed-state cache, against
the bare library, in one run.

    .venv/bin/python -m benchmarks.commands [--backend sqlite|postgres|both] [--seconds N]
        [--threads T] [--shared] [--repeat R]

For each backend, R interleaved rounds of three phases, each on a fresh store and with T
threads, each thread toggling its own Started campaigns (with `--shared`, every thread on
the same few campaigns, so commands clash and are decided again):
1. bare: `app.save()` of pause/resume made by direct aggregate calls on campaigns held in
   memory (the library's rate, as in benchmarks.lifecycle);
2. committed: `ProcessPlatform.run_command` with the committed-state cache (commands start
   from an unpickled copy of what this process last committed: no read of the store);
3. library: the same with `committed_states=0`, so commands start from the library's
   aggregate cache (AGGREGATE_CACHE_MAXSIZE, fast-forwarded from the store: one read of the
   aggregate's newer events, then a deepcopy).
It prints commands/s (median of the rounds), the ratio to bare, p50/p99, and the CPU per
command of this process (os.times) and of PostgreSQL (every process named postgres).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._proc import cluster_cpu, postmaster_of
from benchmarks.lifecycle import (
    CAMPAIGNS_PER_WORKER,
    PG_DIR,
    PG_PORT,
    ROOT,
    Run,
    Store,
    Stores,
    bare_phase,
    run_threads,
    say,
    started_campaigns,
)

Worker = Callable[[float, float], tuple[int, list[float], int, str]]
Probe = Callable[[], dict[str, float]]
PHASES = ("bare", "committed", "library")


def cpu_probe(backend: str) -> Probe:
    """CPU seconds so far of this process and, on PostgreSQL, of the bench cluster only (not
    of other clusters on the machine)."""
    postmaster = postmaster_of(PG_DIR / "cluster" / "data") if backend == "postgres" else None

    def probe() -> dict[str, float]:
        times = os.times()
        cpu = {"bench process": times.user + times.system}
        if postmaster is not None:
            cpu["postgres"] = cluster_cpu(postmaster)
        return cpu

    return probe


def command_phase(
    store: Store, committed_states: int, threads: int, shared: bool, warmup: float, seconds: float
) -> Run:
    """`run_command` toggling Started campaigns between Paused and Started, from threads."""
    from domain.campaign import Campaign
    from domain.status import Status
    from infra.application import ProcessPlatform
    from infra.bootstrap import ensure_schema, store_environment

    settings = store.settings()
    if settings.postgres is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    else:
        ensure_schema(settings)
    app = ProcessPlatform(env=store_environment(settings), committed_states=committed_states)
    app.ensure_demo_stream()

    def toggle(campaign: Campaign) -> None:
        if campaign.status is Status.STARTED:
            campaign.pause(actor="bench", command_id=None)
        else:
            campaign.resume(actor="bench", command_id=None)

    def worker_for(mine: list[Any]) -> Worker:
        def work(measure_from: float, end: float) -> tuple[int, list[float], int, str]:
            ops, latencies, errors, first, i = 0, [], 0, "", 0
            while (t0 := time.perf_counter()) < end:
                campaign_id = mine[i % len(mine)].id
                i += 1
                try:
                    app.run_command(Campaign, campaign_id, "campaign", toggle)
                except Exception as error:
                    errors += 1
                    first = first or repr(error)
                    continue
                if t0 >= measure_from:
                    ops += 1
                    latencies.append(time.perf_counter() - t0)
            return ops, latencies, errors, first

        return work

    try:
        campaigns = started_campaigns(app, CAMPAIGNS_PER_WORKER * (1 if shared else threads))
        workers = [
            worker_for(
                campaigns
                if shared
                else campaigns[k * CAMPAIGNS_PER_WORKER : (k + 1) * CAMPAIGNS_PER_WORKER]
            )
            for k in range(threads)
        ]
        return run_threads(workers, warmup, seconds, cpu_probe=cpu_probe(store.backend))
    finally:
        app.close()


def cpu_per_command(run: Run, key: str) -> float:
    """Milliseconds of CPU per command: cores busy over the window, divided by the rate."""
    return 1000 * run.cpu.get(key, 0.0) / run.rate if run.rate else 0.0


def run_backend(backend: str, args: argparse.Namespace, database_url: str | None) -> dict[str, Run]:
    stores = Stores(backend, database_url)
    warmup = min(2.0, max(0.5, args.seconds / 5))
    runs: dict[str, list[Run]] = {phase: [] for phase in PHASES}
    try:
        for repeat in range(1, args.repeat + 1):
            say(f"{backend}: round {repeat} of {args.repeat}")
            bare = bare_phase(
                stores.fresh("bare"), [args.threads], warmup, args.seconds, cpu_probe(backend)
            )
            runs["bare"].append(bare[args.threads])
            for phase, states in (("committed", 10_000), ("library", 0)):
                run = command_phase(
                    stores.fresh(phase), states, args.threads, args.shared, warmup, args.seconds
                )
                say(f"{backend} {phase}: {run.rate:,.0f} commands/s, errors {run.errors}")
                runs[phase].append(run)
    finally:
        stores.remove_all()
    return {phase: Run.combine(each) for phase, each in runs.items()}


def print_table(results: dict[str, dict[str, Run]], args: argparse.Namespace) -> None:
    rounds = f", median of {args.repeat} interleaved rounds" if args.repeat > 1 else ""
    shape = "all on the same campaigns" if args.shared else "each on its own campaigns"
    print()
    print(
        f"Commands in one process: {args.threads} threads {shape}, {args.seconds:g} s per "
        f"phase{rounds}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    header = (
        f"{'backend':<9} {'phase':<10} {'cmd/s':>8} {'range':>15} {'vs bare':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'CPU ms/cmd':>10} {'PG ms/cmd':>9}"
    )
    print(header)
    print("-" * len(header))
    for backend, runs in results.items():
        bare = runs["bare"].rate
        for phase, run in runs.items():
            print(
                f"{backend:<9} {phase:<10} {run.rate:>8,.0f} {run.spread:>15} "
                f"{run.rate / bare if bare else 0:>7.0%} {run.percentile(50):>7.2f} "
                f"{run.percentile(99):>7.2f} {run.errors:>6} "
                f"{cpu_per_command(run, 'bench process'):>10.3f} "
                f"{cpu_per_command(run, 'postgres'):>9.3f}"
            )
            if run.first_error:
                print(f"  first error: {run.first_error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.commands",
        description="Concurrent commands with and without the committed-state cache.",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measured phase (5)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent commanders (8)")
    parser.add_argument("--shared", action="store_true", help="every thread on one set")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--pg-port", type=int, default=PG_PORT)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.threads < 1 or args.repeat < 1:
        parser.error("--seconds must be > 0, --threads and --repeat >= 1")
    os.chdir(ROOT)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, dict[str, Run]] = {}
    for backend in backends:
        if backend != "postgres":
            results[backend] = run_backend(backend, args, None)
            continue
        from infra import local_postgres

        say(f"starting the throwaway PostgreSQL in {PG_DIR} on port {args.pg_port}")
        database_url = local_postgres.start(PG_DIR, args.pg_port)
        try:
            results[backend] = run_backend(backend, args, database_url)
        finally:
            say("stopping the throwaway PostgreSQL")
            local_postgres.stop(PG_DIR)
    print_table(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
