"""Sending with one, two and three dispatchers, and the time a stream's failover takes.

    python -m benchmarks.scale_out [--recipients 150000] [--dispatchers 1,2,3] [--failovers 3]

The scale-out topology on this machine: PostgreSQL and a Kafka broker (the project's own local
copies), `campaigns relay`, `campaigns project`, one gateway, and N dispatchers. Three streams
on the demo carrier, unthrottled, send a campaign each (a third of the recipients each); with
three streams each dispatcher owns one when there are three of them.

For each N it prints the rate from launch until the carriers have taken every message, the
sustained rate (from the first message taken to the last), the ratio to one dispatcher in
the same run, and CPU per 1,000 messages of every process (from /proc): what each message
costs, which is what adding dispatchers on more machines would spread.

Then the failover: two dispatchers, one stream sending steadily; the owner is killed with
SIGKILL, and the time until its successor hands the stream's first message to the carrier is
measured (the carrier's books say when), `--failovers` times. The target is under the lease
time plus 2 s.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from benchmarks._proc import cluster_cpu, postmaster_of, process_cpu
from benchmarks._topology import (
    ROOT,
    Api,
    Role,
    Topology,
    campaign_per_stream,
    prepare_domains,
)
from infra import local_kafka, local_postgres

FOLDER = ROOT / "var" / "bench-scale-out"
STREAMS = ("demo", "second", "third")


@dataclass
class Services:
    url: str
    bootstrap: str
    postmaster: int
    broker: int


def start_services(postgres_port: int, kafka_port: int) -> Services:
    url = local_postgres.start(FOLDER / "postgres", postgres_port)
    bootstrap = local_kafka.start(FOLDER / "kafka", kafka_port, kafka_port + 1)
    postmaster = postmaster_of(FOLDER / "postgres" / "cluster" / "data")
    broker = int((FOLDER / "kafka" / "kafka.pid").read_text().split()[0])
    return Services(url, bootstrap, postmaster, broker)


def topology_for(services: Services, lease: float, name: str) -> Topology:
    schema = f"scale_{name}_{uuid.uuid4().hex[:6]}"
    return Topology(
        FOLDER / "runs" / schema,
        services.url,
        schema,
        kafka=services.bootstrap,
        topic_prefix=schema,
        lease_seconds=lease,
    )


def taken(topology: Topology, stream: str | None = None) -> int:
    with topology.database() as connection:
        if stream is None:
            row = connection.execute("SELECT COUNT(*) FROM demo_carrier_accepted").fetchone()
        else:
            row = connection.execute(
                "SELECT COUNT(*) FROM demo_carrier_accepted WHERE stream = %s", (stream,)
            ).fetchone()
    return int(row[0]) if row else 0


def launch(api: Api, recipients: int, streams: tuple[str, ...], rate: int = 0) -> list[str]:
    prepare_domains(api, limit=1_000_000_000)
    quiet = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0}
    api.patch("/api/streams/demo", json={"rate": rate, **quiet})
    for stream in streams[1:]:
        api.post(
            "/api/streams",
            json={"name": stream, "carrier": "demo", "rate": rate, "settings": quiet},
        )
    campaigns = campaign_per_stream(api, recipients, streams, "Scale-out")
    time.sleep(1.5)  # every dispatcher takes its streams before the launch
    for campaign_id in campaigns:
        api.post(f"/api/campaigns/{campaign_id}/launch")
    return campaigns


@dataclass
class Figures:
    dispatchers: int
    messages: int
    from_launch: float  # messages/s
    sustained: float  # messages/s
    cpu_ms: dict[str, float]  # per 1,000 messages, by process kind


def cpu(roles: list[Role], services: Services) -> dict[str, float]:
    found: dict[str, float] = {}
    for role in roles:
        kind = "dispatchers" if role.command == "dispatch" else role.command
        found[kind] = found.get(kind, 0.0) + process_cpu(role.pid)
    found["postgres"] = cluster_cpu(services.postmaster)
    found["broker"] = process_cpu(services.broker)
    return found


def throughput(services: Services, dispatchers: int, recipients: int, lease: float) -> Figures:
    topology = topology_for(services, lease, f"d{dispatchers}")
    try:
        topology.add("relay", "relay")
        topology.add("project", "project")
        gateway = topology.add("gateway", "serve")
        for n in range(dispatchers):
            topology.add(f"dispatch-{n + 1}", "dispatch")
        topology.wait_ready()
        api = Api([gateway])
        share = recipients // len(STREAMS)
        total = share * len(STREAMS)
        before = cpu(list(topology.roles.values()), services)
        launched = time.monotonic()
        launch(api, total, STREAMS)
        while taken(topology) < total:
            time.sleep(0.2)
        elapsed = time.monotonic() - launched
        after = cpu(list(topology.roles.values()), services)
        with topology.database() as connection:
            row = connection.execute(
                "SELECT MIN(accepted_at), MAX(accepted_at) FROM demo_carrier_accepted"
            ).fetchone()
        assert row is not None
        span = (datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])).total_seconds()
        return Figures(
            dispatchers,
            total,
            total / elapsed,
            total / max(span, 1e-3),
            {kind: 1000 * (after[kind] - before[kind]) / (total / 1000) for kind in after},
        )
    finally:
        topology.stop()


def failovers(services: Services, lease: float, count: int, rate: int) -> list[float]:
    """Seconds from an owner's SIGKILL to its successor's first message taken."""
    topology = topology_for(services, lease, "failover")
    delays = []
    try:
        topology.add("relay", "relay")
        topology.add("project", "project")
        gateway = topology.add("gateway", "serve")
        dispatchers = [topology.add(f"dispatch-{n}", "dispatch") for n in (1, 2)]
        topology.wait_ready()
        api = Api([gateway])
        # Enough recipients to keep the stream sending through every failover.
        launch(api, int(rate * count * lease * 3), ("demo",), rate=rate)
        while taken(topology, "demo") < rate:
            time.sleep(0.2)
        for round_ in range(count):
            pid = api.owners()["demo"]
            assert pid is not None
            owner = next(d for d in dispatchers if d.alive and d.pid == pid[0])
            owner.signal(signal.SIGKILL)
            killed = datetime.now(UTC)
            delay = None
            while delay is None:
                time.sleep(0.05)
                with topology.database() as connection:
                    row = connection.execute(
                        "SELECT MIN(accepted_at) FROM demo_carrier_accepted "
                        "WHERE stream = 'demo' AND accepted_at > %s",
                        (killed.isoformat(),),
                    ).fetchone()
                if row and row[0]:
                    delay = (datetime.fromisoformat(row[0]) - killed).total_seconds()
                elif (datetime.now(UTC) - killed).total_seconds() > lease * 5:
                    raise RuntimeError("no successor sent anything")
            delays.append(delay)
            print(f"  failover {round_ + 1}: {delay:.2f} s", file=sys.stderr, flush=True)
            owner.start()  # as a supervisor would
            time.sleep(lease / 2)
    finally:
        topology.stop()
    return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=150_000)
    parser.add_argument("--dispatchers", default="1,2,3")
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--failover-rate", type=int, default=500, help="messages/s")
    parser.add_argument("--postgres-port", type=int, default=25492)
    parser.add_argument("--kafka-port", type=int, default=29171)
    args = parser.parse_args(argv)
    services = start_services(args.postgres_port, args.kafka_port)
    rows: list[Figures] = []
    delays: list[float] = []
    try:
        for n in (int(part) for part in args.dispatchers.split(",") if part):
            print(f"{n} dispatcher(s), {args.recipients:,} recipients ...", file=sys.stderr)
            rows.append(throughput(services, n, args.recipients, args.lease))
            report(rows[-1:], [], args.lease, file=sys.stderr)
        if args.failovers:
            delays = failovers(services, args.lease, args.failovers, args.failover_rate)
    finally:
        local_kafka.stop(FOLDER / "kafka")
        local_postgres.stop(FOLDER / "postgres")
        report(rows, delays, args.lease)
    return 0


def report(
    rows: list[Figures], delays: list[float], lease: float, file: TextIO = sys.stdout
) -> None:
    base = rows[0].sustained if rows else 1.0
    kinds = sorted({kind for row in rows for kind in row.cpu_ms})
    if rows:
        print(
            "dispatchers  messages  from launch/s  sustained/s  ratio to the first  "
            + "  ".join(f"{kind} ms" for kind in kinds)
            + "  total ms (CPU per 1,000 messages)",
            file=file,
        )
    for row in rows:
        print(
            f"{row.dispatchers:>11}  {row.messages:>8,}  {row.from_launch:>13,.0f}  "
            f"{row.sustained:>11,.0f}  {row.sustained / base:>18.2f}  "
            + "  ".join(f"{row.cpu_ms.get(kind, 0):>{len(kind) + 3}.1f}" for kind in kinds)
            + f"  {sum(row.cpu_ms.values()):>8.1f}",
            file=file,
        )
    if delays:
        worst = max(delays)
        print(
            f"failover, SIGKILL of the owner to the successor's first message (lease "
            f"{lease:g} s): "
            + ", ".join(f"{d:.2f} s" for d in delays)
            + f"; median {statistics.median(delays):.2f} s, worst {worst:.2f} s; target under "
            f"{lease + 2:g} s: {'met' if worst < lease + 2 else 'NOT met'}",
            file=file,
        )


if __name__ == "__main__":
    sys.exit(main())
