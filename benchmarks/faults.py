"""The fault suite: the scale-out topology on one machine, faults injected while campaigns
send, then the promises checked.

    python -m benchmarks.faults [--recipients 200000] [--seed N] [--lease 10] [--rate 1500]

What runs: PostgreSQL and a three-broker Kafka cluster (KRaft, replication factor 3,
`min.insync.replicas=2`), both the project's own local copies in a folder of the run; then
`campaigns relay`, `campaigns project`, two gateways and three dispatchers. Two streams
(`demo` and `backup`) each send one campaign, half of the recipients each. While they send,
a schedule drawn from the seed injects, at moments drawn from the seed (shares of the
messages taken so far), in an order drawn from the seed:

- SIGKILL of a dispatcher owning a stream (a supervisor starts it again after a while);
- SIGSTOP of a dispatcher owning a stream, past its lease, then SIGCONT;
- SIGKILL of the relay, and of the projector (each started again after a while);
- SIGKILL of the broker leading the events topic's partition, started again after a while;
- a fast restart of PostgreSQL while batches are on their way.

Then it checks and prints: every recipient in the carriers' books exactly once (none twice,
none left out), both campaigns Finished, the stats equal to a recount and `campaigns verify`
clean, and the owner changes of each stream in the store's audit trail, one per epoch. It
prints the seed first: `--seed` replays a run's schedule. Exit status 0 when every check
passed.
"""

from __future__ import annotations

import argparse
import math
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._topology import (
    ROOT,
    Api,
    Role,
    Topology,
    books_of,
    campaign_per_stream,
    prepare_domains,
)
from infra import local_kafka, local_postgres

STREAMS = ("demo", "backup")
KINDS = (
    "kill-dispatcher",
    "freeze-dispatcher",
    "kill-relay",
    "kill-projector",
    "kill-broker",
    "restart-postgres",
)
FIRST, LAST = 0.05, 0.60  # the faults land between these shares of the messages taken
FINISH_SECONDS = 900.0


@dataclass
class Fault:
    kind: str
    at_share: float  # of every message, taken by the carriers
    pause: float  # seconds: how long the target stays down (or frozen, past the lease)
    stream: str  # whose owner, for the dispatcher faults
    injected_at: float | None = None  # seconds since sending began
    taken_when: int = 0  # messages taken when it was injected
    what: str = ""


@dataclass
class Run:
    seed: int
    recipients: int
    lease: float
    rate: int
    folder: Path
    started: float = field(default_factory=time.monotonic)
    sending_began: float = 0.0  # seconds since 1970
    lines: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f} s] {message}"
        self.lines.append(line)
        print(line, file=sys.stderr, flush=True)


def schedule(seed: int, lease: float) -> list[Fault]:
    """The faults, their order, moments and pauses, drawn from the seed alone."""
    draw = random.Random(seed)
    kinds = list(KINDS)
    draw.shuffle(kinds)
    step = (LAST - FIRST) / (len(kinds) - 1)
    faults = []
    for index, kind in enumerate(kinds):
        at = FIRST + index * step + draw.uniform(-step / 4, step / 4)
        if kind == "freeze-dispatcher":
            pause = lease + draw.uniform(1.0, 3.0)
        else:
            pause = draw.uniform(1.0, 4.0)
        faults.append(Fault(kind, max(0.02, at), pause, draw.choice(STREAMS)))
    return faults


class Cluster:
    """PostgreSQL, the Kafka cluster and the roles of one run."""

    def __init__(self, run: Run, postgres_port: int, kafka_ports: list[int]) -> None:
        self.run = run
        self.postgres_dir = run.folder / "postgres"
        self.kafka_dir = run.folder / "kafka"
        self.postgres_port = postgres_port
        self.kafka_ports = kafka_ports
        self.topology: Topology | None = None

    def start(self) -> Topology:
        run = self.run
        run.say(f"starting PostgreSQL on {self.postgres_port}")
        url = local_postgres.start(self.postgres_dir, self.postgres_port, open_from=run.folder)
        run.say(f"starting a three-broker Kafka cluster on {self.kafka_ports[:3]}")
        bootstrap = local_kafka.start_cluster(
            self.kafka_dir, self.kafka_ports[:3], self.kafka_ports[3:]
        )
        schema = f"faults_{uuid.uuid4().hex[:8]}"
        topology = Topology(
            run.folder / "roles",
            url,
            schema,
            kafka=bootstrap,
            topic_prefix=schema,
            lease_seconds=run.lease,
        )
        self.topology = topology
        # The relay first: it creates the topics (replication factor 3).
        for name, command in (
            ("relay", "relay"),
            ("project", "project"),
            ("gateway-1", "serve"),
            ("gateway-2", "serve"),
            ("dispatch-1", "dispatch"),
            ("dispatch-2", "dispatch"),
            ("dispatch-3", "dispatch"),
        ):
            topology.add(name, command)
        topology.wait_ready(timeout=120)
        run.say(f"roles up: {', '.join(topology.roles)} (schema {schema})")
        return topology

    def stop(self) -> None:
        if self.topology is not None:
            self.topology.stop()
        local_kafka.stop_cluster(self.kafka_dir)
        local_postgres.stop(self.postgres_dir)


def launch(api: Api, run: Run) -> list[str]:
    """Two campaigns, one per stream, half of the recipients each, launched."""
    prepare_domains(api, limit=100_000_000)
    api.patch("/api/streams/demo", json={"rate": run.rate})
    api.post(
        "/api/streams",
        json={"name": "backup", "carrier": "demo", "rate": run.rate, "command_id": "faults-backup"},
    )
    campaigns = campaign_per_stream(api, run.recipients, STREAMS, "Faults")
    for campaign_id in campaigns:
        api.post(f"/api/campaigns/{campaign_id}/launch")
    return campaigns


def taken(topology: Topology) -> int:
    """Messages the carriers have taken so far (0 while the database is away)."""
    try:
        with topology.database() as connection:
            row = connection.execute("SELECT COUNT(*) FROM demo_carrier_accepted").fetchone()
    except Exception:
        return -1
    return int(row[0]) if row else 0


def owner_of(api: Api, topology: Topology, stream: str, timeout: float) -> Role:
    """The dispatcher owning the stream now (waits for one)."""
    deadline = time.monotonic() + timeout
    while True:
        found = api.owners().get(stream)
        if found is not None:
            for role in topology.roles.values():
                if role.command == "dispatch" and role.alive and role.pid == found[0]:
                    return role
        if time.monotonic() > deadline:
            raise RuntimeError(f"no dispatcher owns the stream {stream}")
        time.sleep(0.2)


def inject(fault: Fault, cluster: Cluster, api: Api) -> threading.Thread | None:
    """Injects the fault; what ends it (a start, SIGCONT) comes `fault.pause` later, in a
    thread of its own, while the next faults go on."""
    topology = cluster.topology
    assert topology is not None
    roles = topology.roles
    if fault.kind in ("kill-dispatcher", "freeze-dispatcher"):
        target = owner_of(api, topology, fault.stream, timeout=cluster.run.lease * 4)
        if fault.kind == "kill-dispatcher":
            fault.what = (
                f"SIGKILL {target.name} (pid {target.pid}, owner of {fault.stream}), started "
                f"again {fault.pause:.1f} s later"
            )
            target.signal(signal.SIGKILL)
            return later(fault.pause, target.start)
        fault.what = (
            f"SIGSTOP {target.name} (pid {target.pid}, owner of {fault.stream}) for "
            f"{fault.pause:.1f} s (lease {cluster.run.lease:g} s), then SIGCONT"
        )
        target.signal(signal.SIGSTOP)
        return later(fault.pause, lambda: target.signal(signal.SIGCONT))
    if fault.kind in ("kill-relay", "kill-projector"):
        target = roles["relay" if fault.kind == "kill-relay" else "project"]
        fault.what = (
            f"SIGKILL {target.name} (pid {target.pid}), started again {fault.pause:.1f} s later"
        )
        target.signal(signal.SIGKILL)
        return later(fault.pause, target.start)
    if fault.kind == "kill-broker":
        topic = f"{topology.topic_prefix}.events"
        leader = local_kafka.partition_leader(topology.kafka or "", topic)
        if leader is None:
            raise RuntimeError(f"no broker leads {topic}")
        fault.what = (
            f"SIGKILL broker {leader} (leader of {topic}), started again {fault.pause:.1f} s later"
        )
        local_kafka.kill_node(cluster.kafka_dir, leader)
        return later(fault.pause, lambda: local_kafka.start_node(cluster.kafka_dir, leader))
    fault.what = "PostgreSQL restarted (fast shutdown) mid-batch"
    local_postgres.restart(cluster.postgres_dir, "fast")
    return None


def later(seconds: float, action: Callable[[], object]) -> threading.Thread:
    """Runs `action` after `seconds`, in a thread of its own."""

    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_finished(api: Api, campaigns: list[str], run: Run) -> bool:
    deadline = time.monotonic() + FINISH_SECONDS
    while time.monotonic() < deadline:
        statuses = [api.get(f"/api/campaigns/{c}")["status"] for c in campaigns]
        if all(status == "Finished" for status in statuses):
            return True
        if any(status in ("Aborted", "Rejected", "Suspended", "Paused") for status in statuses):
            run.say(f"campaigns stopped as {statuses}")
            return False
        time.sleep(0.5)
    return False


def verify(topology: Topology, timeout: float = 120.0) -> tuple[bool, str]:
    """`campaigns verify` until clean (the stats catch up through Kafka), or its last
    differences."""
    deadline = time.monotonic() + timeout
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "verify"],
            cwd=ROOT,
            env=topology.environment("verify"),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode == 0:
            return True, result.stdout.strip().splitlines()[-1]
        if time.monotonic() > deadline:
            return False, (result.stdout + result.stderr)[-3000:]
        time.sleep(2)


def outcomes_left(topology: Topology, campaigns: list[str], timeout: float = 60.0) -> int:
    """Messages still waiting for their outcome once the receipts had time to come."""
    deadline = time.monotonic() + timeout
    while True:
        with topology.database() as connection:
            row = connection.execute(
                "SELECT COUNT(*) FROM messages WHERE campaign_id = ANY(%s) AND status = 'sent'",
                (campaigns,),
            ).fetchone()
        left = int(row[0]) if row else 0
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(1)


def stats_caught_up(api: Api, campaigns: list[str], recipients: int) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sent = sum(int(api.get(f"/api/campaigns/{c}/stats")["sent"]) for c in campaigns)
        if sent == recipients:
            return True
        time.sleep(0.5)
    return False


def owner_changes(api: Api, topology: Topology) -> tuple[list[str], list[str]]:
    """The owner changes in the audit trail, and what is missing from it: every epoch a
    stream reached has its event."""
    changes = api.events("StreamOwnership.OwnerChanged")
    lines, problems = [], []
    by_stream: dict[str, list[int]] = {}
    with topology.database() as connection:
        epochs = dict(connection.execute("SELECT stream, epoch FROM stream_leases").fetchall())
    opened = {e["aggregate_id"]: e["data"]["stream"] for e in api.events("StreamOwnership.Opened")}
    for event in changes:
        data = event["data"]
        stream = opened.get(event["aggregate_id"], "?")
        by_stream.setdefault(stream, []).append(int(data["epoch"]))
        lines.append(
            f"{event['at']}  {stream:<7} epoch {data['epoch']:>2}  "
            f"{data.get('previous_owner') or '-'} -> {data['owner']}: {data['reason']}"
        )
    for stream, last in epochs.items():
        recorded = sorted(set(by_stream.get(str(stream), [])))
        missing = sorted(set(range(1, int(last) + 1)) - set(recorded))
        if missing:
            problems.append(f"{stream}: no owner change recorded for epochs {missing}")
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=None, help="replays a run's schedule")
    parser.add_argument("--lease", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--rate", type=int, default=1500, help="per stream, messages/s")
    parser.add_argument("--postgres-port", type=int, default=25482)
    parser.add_argument("--kafka-port", type=int, default=29151, help="the first of six")
    parser.add_argument("--dir", help="the run's folder (default: a temporary one)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    with tempfile.TemporaryDirectory(prefix="campaigns-faults-") as scratch:
        folder = Path(args.dir) if args.dir else Path(scratch)
        run = Run(seed, args.recipients, args.lease, args.rate, folder)
        print(f"seed: {seed}", flush=True)
        return suite(run, args.postgres_port, list(range(args.kafka_port, args.kafka_port + 6)))


def suite(run: Run, postgres_port: int, kafka_ports: list[int]) -> int:
    faults = schedule(run.seed, run.lease)
    cluster = Cluster(run, postgres_port, kafka_ports)
    checks: list[tuple[str, bool, str]] = []
    try:
        topology = cluster.start()
        api = Api(topology.gateways())
        campaigns = launch(api, run)
        run.say(f"launched {len(campaigns)} campaigns, {run.recipients:,} recipients")
        sending_began = time.monotonic()
        endings: list[threading.Thread] = []
        run.sending_began = time.time()
        for fault in faults:
            goal = int(fault.at_share * run.recipients)
            while (count := taken(topology)) < goal:
                time.sleep(0.05)
            fault.taken_when = count
            fault.injected_at = time.monotonic() - sending_began
            ending = inject(fault, cluster, api)
            if ending is not None:
                endings.append(ending)
            run.say(f"fault at {count:,} taken: {fault.what}")
        for ending in endings:  # every role and broker back before the end
            ending.join()
        finished = wait_finished(api, campaigns, run)
        run.say("campaigns finished" if finished else "campaigns did not finish")
        books = books_of(topology, campaigns)
        checks.append(("both campaigns Finished", finished, ""))
        checks.append(
            (
                "every recipient in the carriers' books exactly once",
                books.exactly_once(run.recipients),
                f"{books.messages:,} messages for {books.recipients:,} recipients of "
                f"{run.recipients:,}; twice: {len(books.twice)}",
            )
        )
        checks.append(
            (
                "the stats count every message",
                stats_caught_up(api, campaigns, run.recipients),
                "",
            )
        )
        waiting = outcomes_left(topology, campaigns)
        checks.append(
            (
                "every message has its outcome (a new owner's carrier reports on the rest)",
                waiting == 0,
                f"{waiting:,} messages without an outcome" if waiting else "",
            )
        )
        clean, said = verify(topology)
        checks.append(
            ("campaigns verify (stats equal a recount, read models a replay)", clean, said)
        )
        timeline = taken_per_second(topology)
        lines, problems = owner_changes(api, topology)
        checks.append(
            ("every owner change of a stream in the audit trail", not problems, "; ".join(problems))
        )
        while_sending = all(
            f.injected_at is not None and f.taken_when < run.recipients for f in faults
        )
        checks.append(("every fault injected while the campaigns sent", while_sending, ""))
    except Exception as error:
        run.say(f"the run failed: {error}")
        checks.append(("the run completed", False, str(error)))
        lines, timeline = [], {}
    finally:
        cluster.stop()
    report(run, faults, lines, checks, timeline)
    return 0 if all(ok for _name, ok, _detail in checks) else 1


def taken_per_second(topology: Topology) -> dict[float, int]:
    """Messages the carriers took in each second, by the second (seconds since 1970)."""
    with topology.database() as connection:
        rows = connection.execute(
            "SELECT SUBSTR(accepted_at, 1, 19), COUNT(*) FROM demo_carrier_accepted GROUP BY 1"
        ).fetchall()
    return {
        datetime.fromisoformat(second).replace(tzinfo=UTC).timestamp(): int(count)
        for second, count in rows
    }


def draw(timeline: dict[float, int], faults: list[Fault], began: float) -> list[str]:
    """Messages taken per second over the run, a bar per few seconds, faults marked."""
    if not timeline:
        return []
    first, last = min(timeline), max(timeline)
    span = max(1, math.ceil((last - first + 1) / 40))  # seconds per bar: 40 bars at most
    bars = []
    for start in range(int(first), int(last) + 1, span):
        rate = sum(timeline.get(float(second), 0) for second in range(start, start + span)) / span
        bars.append((start, rate))
    top = max(rate for _start, rate in bars) or 1
    lines = []
    for start, rate in bars:
        marks = [
            f.kind
            for f in faults
            if f.injected_at is not None and start <= began + f.injected_at < start + span
        ]
        bar = "█" * round(30 * rate / top)
        note = f"  <- {', '.join(marks)}" if marks else ""
        lines.append(f"  {start - first:5.0f} s {bar:<30} {rate:7,.0f}/s{note}")
    return lines


def report(
    run: Run,
    faults: list[Fault],
    owners: list[str],
    checks: list[tuple[str, bool, str]],
    timeline: dict[float, int],
) -> None:
    print(
        f"seed: {run.seed}  (replay: python -m benchmarks.faults --seed {run.seed} "
        f"--recipients {run.recipients} --lease {run.lease:g} --rate {run.rate})"
    )
    print("faults injected:")
    for fault in faults:
        when = (
            f"{fault.injected_at:6.1f} s, {fault.taken_when:,} taken"
            if fault.injected_at is not None
            else "not injected"
        )
        print(f"  {fault.kind:<18} at {fault.at_share:4.0%} ({when}): {fault.what}")
    print("messages taken by the carriers per second:")
    for line in draw(timeline, faults, run.sending_began):
        print(line)
    print("owner changes (the audit trail):")
    for line in owners:
        print(f"  {line}")
    print("checks:")
    for name, ok, detail in checks:
        print(f"  [{'ok' if ok else 'FAILED'}] {name}{': ' + detail if detail else ''}")


if __name__ == "__main__":
    sys.exit(main())
