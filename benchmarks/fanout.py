"""WebSocket fan-out from one gateway process, beside a bare broadcast loop in the same run.

    .venv/bin/python -m benchmarks.fanout [--clients 1000,5000,10000] [--rounds 20] [--kafka]

Every phase serves real uvicorn in its own process, and the clients (one asyncio event loop in
this process, the `websockets` client offering permessage-deflate as browsers do) connect to
`/ws/realtime`:
- bare: `benchmarks/_bare_ws.py`, a Starlette endpoint and a plain send loop over every
  connection (`POST /broadcast` sends one row to all);
- embedded: `campaigns serve` on SQLite in a fresh folder (the sending engine off); each round
  renames a Draft over HTTP, and the change travels as it does in production: the commit, the
  read models' feed, the realtime rows, the change log, the hub, every client;
- kafka (`--kafka`, 1,000 clients by default, `--kafka-clients`): `campaigns stack up` on its
  own ports (PostgreSQL 25932, Kafka 29992, gateway 8193); the rename travels through the relay,
  Kafka, the projector, the realtime topic and the gateway's hub.

Per phase and client count: commit-to-client latency (from just before the HTTP request that
makes the change to the moment each client has the message) p50, p99 and max over every
client of every round, messages missed, and the server's memory per idle client (resident
memory with N clients minus with none, over N). Clients are added to those already connected
(1,000, then up to 5,000, then 10,000). The clients share two cores with the server: their own
receiving is part of every figure, the bare loop's included, hence the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from benchmarks import _ws as ws
from benchmarks._auth import HEADERS, SERVER_ENV

ROOT = Path(__file__).resolve().parents[1]
BARE_PORT, HUB_PORT = 8191, 8192
STACK_PORT, STACK_PG_PORT, STACK_KAFKA_PORT = 8193, 25932, 29992
STACK_DIR = ROOT / "var" / "bench-fanout-stack"
CONNECT_BATCH = 200
ROUND_TIMEOUT = 20.0
TARGETS_MS = {("embedded", 1000): 50.0, ("embedded", 5000): 150.0, ("kafka", 1000): 250.0}
IDLE_TARGET_KIB = 64.0
MARK = "fanout-"
MARK_BYTES = MARK.encode()
VERBOSE = False
WARM_ROUNDS = 3  # untimed rounds after each burst of new connections


class Fleet:
    """Connected clients, and when each saw each marker."""

    def __init__(self, host: str, port: int, path: str = "/ws/realtime") -> None:
        self.host, self.port, self.path = host, port, path
        self.clients: list[ws.Client] = []
        self.arrivals: dict[str, list[float]] = defaultdict(list)

    async def grow(self, total: int) -> None:
        while len(self.clients) < total:
            batch = min(CONNECT_BATCH, total - len(self.clients))
            self.clients += await asyncio.gather(
                *(ws.connect(self.host, self.port, self.path, self.seen) for _ in range(batch))
            )

    def seen(self, message: bytes) -> None:
        at = time.perf_counter()
        start = message.find(MARK_BYTES)
        if start >= 0:
            self.arrivals[message[start : message.index(b'"', start)].decode()].append(at)

    async def close(self) -> None:
        for client in self.clients:
            client.close()
        self.clients = []
        await asyncio.sleep(0.5)


class Phase:
    """A server, how to make it send a change, and its process for memory readings."""

    name = ""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def start(self) -> None:
        raise NotImplementedError

    async def change(self, http: httpx.AsyncClient, marker: str) -> None:
        raise NotImplementedError

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class BarePhase(Phase):
    def __init__(self, deflate: bool) -> None:
        super().__init__()
        self.deflate = deflate
        self.name = "bare" + ("/deflate" if deflate else "")

    def start(self) -> None:
        self.base_url = f"http://127.0.0.1:{BARE_PORT}"
        flags = [] if self.deflate else ["--no-deflate"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._bare_ws", "--port", str(BARE_PORT), *flags],
            cwd=ROOT,
        )
        wait_ready(self.base_url)

    async def change(self, http: httpx.AsyncClient, marker: str) -> None:
        response = await http.post(f"{self.base_url}/broadcast", json=sample_row(marker))
        response.raise_for_status()


class HubPhase(Phase):
    kind = "embedded"

    def __init__(self, deflate: bool) -> None:
        super().__init__()
        self.deflate = deflate
        self.name = self.kind + ("/deflate" if deflate else "")
        self.folder = tempfile.TemporaryDirectory(prefix="campaigns-fanout-")
        self.campaign_id = ""

    def start(self) -> None:
        self.base_url = f"http://127.0.0.1:{HUB_PORT}"
        env = {
            **os.environ,
            "CAMPAIGNS_WS_COMPRESSION": "on" if self.deflate else "off",
            "CAMPAIGNS_SENDING": "off",
            "CAMPAIGNS_DATABASE_URL": "",
            "CAMPAIGNS_KAFKA": "",
            **SERVER_ENV,
        }
        prefix = os.environ.get("BENCH_SERVER_PREFIX")  # a diagnostic hook, e.g. GC settings
        launcher = (
            ["-c", prefix + "; from gateway.cli import main; main()"]
            if prefix
            else ["-m", "gateway.cli"]
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                *launcher,
                "serve",
                "--data-dir",
                self.folder.name,
                "--port",
                str(HUB_PORT),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        wait_ready(self.base_url)
        self.campaign_id = create_drafts(self.base_url)

    async def change(self, http: httpx.AsyncClient, marker: str) -> None:
        response = await http.patch(
            f"{self.base_url}/api/campaigns/{self.campaign_id}", json={"name": marker}
        )
        response.raise_for_status()

    def stop(self) -> None:
        super().stop()
        self.folder.cleanup()


class KafkaPhase(HubPhase):
    kind = "kafka"

    def where(self) -> list[str]:
        return [
            "--dir",
            str(STACK_DIR),
            "--port",
            str(STACK_PORT),
            "--postgres-port",
            str(STACK_PG_PORT),
            "--kafka-port",
            str(STACK_KAFKA_PORT),
        ]

    def start(self) -> None:
        self.base_url = f"http://127.0.0.1:{STACK_PORT}"
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "stack", "up", *self.where()],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            env={
                **os.environ,
                # A fresh store and topics of its own: the broker outlives a run.
                "CAMPAIGNS_DATABASE_SCHEMA": f"fanout_{int(time.time())}",
                "CAMPAIGNS_KAFKA_TOPIC_PREFIX": f"fanout-{int(time.time())}",
                "CAMPAIGNS_WS_COMPRESSION": "on" if self.deflate else "off",
                **SERVER_ENV,
            },
        )
        wait_ready(self.base_url)
        self.campaign_id = create_drafts(self.base_url)

    def pid(self) -> int:
        from infra import stack as topology

        where = topology.Stack(
            STACK_DIR, port=STACK_PORT, postgres_port=STACK_PG_PORT, kafka_port=STACK_KAFKA_PORT
        )
        pid = topology.status(where).get("serve")
        assert pid, "the stack's gateway is not running"
        return int(pid)

    def stop(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "stack", "down", *self.where()],
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        self.folder.cleanup()


def sample_row(name: str) -> dict[str, Any]:
    """A row the size of the hub's, for the bare loop to send."""
    return {
        "id": "7d0e5b1c-2f4a-4c3e-9a51-0b8e6f1d2c3a",
        "name": name,
        "status": "Draft",
        "status_reason": "",
        "tags": ["bench"],
        "type": "outbound",
        "stream": "demo",
        "created_at": "2026-11-29T12:00:00.000000Z",
        "recipients": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "clicks": 0,
        "unique_clicks": 0,
        "ctr": None,
        "opt_outs": 0,
        "replies": 0,
        "cost": "0.0000",
        "send_rate": 0.0,
        "domains": [],
        "active_domains": [],
        "updated_at": "2026-11-29T12:00:00.000000Z",
    }


def create_drafts(base_url: str, others: int = 20) -> str:
    """The campaign each round renames, and a few more rows on the wall."""
    with httpx.Client(base_url=base_url, timeout=30, headers=HEADERS) as http:
        for n in range(others):
            http.post("/api/campaigns", json={"name": f"Other {n}", "tags": ["bench"]})
        answer = http.post("/api/campaigns", json={"name": "Renamed", "tags": ["bench"]})
        answer.raise_for_status()
        return str(answer.json()["id"])


def wait_ready(base_url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not become ready")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def measure(phase: Phase, counts: list[int], rounds: int) -> list[dict[str, Any]]:
    results = []
    port = int(phase.base_url.rsplit(":", 1)[1])
    fleet = Fleet("127.0.0.1", port)
    async with httpx.AsyncClient(timeout=30, headers=HEADERS) as http:
        await fleet.grow(20)  # warm-up: the first connections and messages
        for n in range(3):
            await phase.change(http, f"{MARK}warm{n}")
            await asyncio.sleep(0.3)
        await fleet.close()
        await asyncio.sleep(1)
        base = rss_kib(phase.pid())
        fleet = Fleet("127.0.0.1", port)
        for count in counts:
            started = time.perf_counter()
            await fleet.grow(count)
            connect_s = time.perf_counter() - started
            await asyncio.sleep(2)
            per_client = (rss_kib(phase.pid()) - base) / count
            for n in range(WARM_ROUNDS):  # the first rounds after a burst of connections
                await phase.change(http, f"{MARK}settle{count}-{n}")  # pay for its full GC
                await asyncio.sleep(0.5)
            latencies: list[float] = []
            missed = 0
            for n in range(rounds):
                marker = f"{MARK}{phase.name}-{count}-{n}"
                sent_at = time.perf_counter()
                await phase.change(http, marker)
                deadline = sent_at + ROUND_TIMEOUT
                while len(fleet.arrivals[marker]) < count and time.perf_counter() < deadline:
                    await asyncio.sleep(0.005)
                arrived = fleet.arrivals.pop(marker, [])
                missed += count - len(arrived)
                latencies += [1000 * (at - sent_at) for at in arrived]
                if VERBOSE and arrived:
                    print(
                        f"    round {n}: first {1000 * (min(arrived) - sent_at):.1f} ms, "
                        f"last {1000 * (max(arrived) - sent_at):.1f} ms",
                        flush=True,
                    )
                await asyncio.sleep(0.2)
            result = {
                "phase": phase.name,
                "clients": count,
                "connect_s": connect_s,
                "p50": percentile(latencies, 0.5),
                "p99": percentile(latencies, 0.99),
                "max": max(latencies, default=float("nan")),
                "missed": missed,
                "kib_per_client": per_client,
            }
            print(
                f"  {phase.name:<8} {count:>6,} clients: p50 {result['p50']:7.1f} ms  "
                f"p99 {result['p99']:7.1f} ms  max {result['max']:7.1f} ms  missed {missed}  "
                f"{per_client:5.1f} KiB/client (connected in {connect_s:.1f} s)",
                flush=True,
            )
            results.append(result)
        await fleet.close()
    return results


def run_phase(phase: Phase, counts: list[int], rounds: int) -> list[dict[str, Any]]:
    print(f"{phase.name}: starting", flush=True)
    phase.start()
    try:
        import uvloop

        return uvloop.run(measure(phase, counts, rounds))
    finally:
        phase.stop()


def report(results: list[dict[str, Any]]) -> None:
    bare = {
        (r["phase"].endswith("/deflate"), r["clients"]): r
        for r in results
        if r["phase"].startswith("bare")
    }
    print()
    print(
        f"{'phase':<17} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7} "
        f"{'KiB/client':>10} {'p99/bare':>9}  target"
    )
    for r in results:
        is_bare = r["phase"].startswith("bare")
        base = bare.get((r["phase"].endswith("/deflate"), r["clients"]))
        ratio = f"{r['p99'] / base['p99']:.2f}" if base and not is_bare else ""
        target = TARGETS_MS.get((r["phase"].split("/")[0], r["clients"]))
        verdict = []
        if target and not is_bare:
            verdict.append(f"p99<{target:.0f} {'met' if r['p99'] < target else 'NOT met'}")
        if not is_bare:
            verdict.append("held" if r["missed"] == 0 else "NOT held")
            small = r["kib_per_client"] < IDLE_TARGET_KIB
            verdict.append(f"<{IDLE_TARGET_KIB:.0f} KiB {'met' if small else 'NOT met'}")
        print(
            f"{r['phase']:<17} {r['clients']:>7,} {r['p50']:>8.1f} {r['p99']:>8.1f} "
            f"{r['max']:>8.1f} {r['missed']:>7} {r['kib_per_client']:>10.1f} {ratio:>9}  "
            f"{', '.join(verdict)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1000,5000,10000")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kafka", action="store_true", help="also through the scale-out stack")
    parser.add_argument("--kafka-clients", default="1000")
    parser.add_argument("--phases", default="bare,embedded", help="bare, embedded (or both)")
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="also with permessage-deflate accepted (CAMPAIGNS_WS_COMPRESSION=on, and the bare "
        "loop likewise); by default the gateway declines it",
    )
    parser.add_argument("--verbose", action="store_true", help="each round's first and last")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    counts = [int(c) for c in args.clients.split(",")]
    wanted = max([*counts, *(int(c) for c in args.kafka_clients.split(","))]) * 2 + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    results: list[dict[str, Any]] = []
    phases = args.phases.split(",")
    for deflate in (False, True) if args.deflate else (False,):
        if "bare" in phases:
            results += run_phase(BarePhase(deflate), counts, args.rounds)
        if "embedded" in phases:
            results += run_phase(HubPhase(deflate), counts, args.rounds)
    if args.kafka:
        kafka_counts = [int(c) for c in args.kafka_clients.split(",")]
        if "bare" not in phases or not set(kafka_counts) <= set(counts):
            results += run_phase(BarePhase(False), kafka_counts, args.rounds)
        results += run_phase(KafkaPhase(False), kafka_counts, args.rounds)
    report(results)


if __name__ == "__main__":
    main()
