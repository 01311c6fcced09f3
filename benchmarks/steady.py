"""The same campaign five times on one long-lived topology: does the rate hold run after run?

    python -m benchmarks.steady [--recipients 100000] [--runs 5] [--kill-in 2]

PostgreSQL and a Kafka broker (the project's own local copies, in `var/bench-steady`), then
`campaigns relay`, `campaigns project`, one gateway and two dispatchers on one schema, as
`campaigns stack up` runs them. The same campaign (one contact list, the demo stream,
unthrottled, every message delivered; `--demo-outcomes`: the demo stream's failures, clicks,
replies and opt-outs too) is launched `--runs` times, one after the other; during run
`--kill-in` the stream's owner is killed with SIGKILL half-way and started again, as a
supervisor would (`--fault freeze`: frozen with SIGSTOP and left so, another dispatcher
started beside it). `--new-broker-after N` replaces the broker by an empty one after run N,
under the same database, as a stack in a fresh folder sharing one cluster had it. Each run's
rate is from the launch until the campaign is Finished and the stats hold an outcome for
every message sent; CPU per 1,000 messages is every process's (from /proc), with the
machine's load average beside it (other work on the machine moves the rate, much less the
CPU per message). The last run must reach at least 0.8 of the first. After the runs it
prints what the database says of itself (the largest tables' dead rows, the oldest open
transaction, sessions idle in a transaction).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from benchmarks._proc import cluster_cpu, postmaster_of, process_cpu
from benchmarks._topology import (
    ROOT,
    Api,
    Role,
    Topology,
    campaign_body,
    contact_csv,
    prepare_domains,
)
from domain.stream import MESSAGE_OUTCOMES
from infra import local_kafka, local_postgres

FOLDER = ROOT / "var" / "bench-steady"


@dataclass(frozen=True)
class Run:
    number: int
    messages: int
    seconds: float
    cpu_ms: float  # every process, per 1,000 messages
    fault: str | None  # "kill" or "freeze", done to the stream's owner half-way
    load: float  # the machine's load average (1 minute) at the run's end

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def cpu(roles: list[Role], postmaster: int, broker: int) -> float:
    return (
        sum(process_cpu(role.pid) for role in roles if role.alive)
        + cluster_cpu(postmaster)
        + process_cpu(broker)
    )


def settled(api: Api, campaign_id: str) -> tuple[bool, int]:
    """Whether the campaign is Finished with an outcome in the stats for every message
    sent, and how many have one."""
    stats = api.get(f"/api/campaigns/{campaign_id}/stats")
    outcomes = sum(int(stats.get(outcome) or 0) for outcome in MESSAGE_OUTCOMES)
    return stats["status"] == "Finished" and outcomes >= int(stats["sent"]), outcomes


def strike_owner(api: Api, topology: Topology, fault: str) -> None:
    """The demo stream's owner killed (SIGKILL) and started again, as a supervisor would;
    or frozen (SIGSTOP) and left so, with another dispatcher started beside it; or frozen
    past two leases, then let go on (SIGCONT)."""
    owner = api.owners()["demo"]
    assert owner is not None, "the demo stream has no owner"
    role = next(r for r in topology.roles.values() if r.alive and r.pid == owner[0])
    if fault == "freeze":
        role.signal(signal.SIGSTOP)
        topology.add(f"dispatch-{len(topology.roles)}", "dispatch")
    elif fault == "pause":
        role.signal(signal.SIGSTOP)
        time.sleep(2 * topology.lease_seconds)
        role.signal(signal.SIGCONT)
    else:
        role.signal(signal.SIGKILL)
        role.start()
    print(f"  {fault} {role.name} (pid {owner[0]})", file=sys.stderr, flush=True)


def one_run(
    api: Api,
    topology: Topology,
    people: tuple[str, int],
    number: int,
    fault: str | None,
    services: tuple[int, int],
) -> Run:
    list_id, recipients = people
    body = campaign_body(f"Steady {number}", [list_id], "demo")
    campaign_id = str(api.post("/api/campaigns", json=body)["id"])
    before = cpu(list(topology.roles.values()), *services)
    started = time.monotonic()
    api.post(f"/api/campaigns/{campaign_id}/launch")
    struck = fault is None
    while True:
        finished, done = settled(api, campaign_id)
        if finished:
            break
        if fault is not None and not struck and done >= recipients // 2:
            strike_owner(api, topology, fault)
            struck = True
        time.sleep(0.2)
    seconds = time.monotonic() - started
    recipients = done
    spent = cpu(list(topology.roles.values()), *services) - before
    load = float(Path("/proc/loadavg").read_text().split()[0])
    return Run(number, recipients, seconds, 1000 * spent / (recipients / 1000), fault, load)


def fresh_broker(topology: Topology, kafka_port: int) -> int:
    """Every role stopped, the broker replaced by an empty one, the roles started again on
    the same database; returns the new broker's PID."""
    topology.stop()
    local_kafka.stop(FOLDER / "kafka")
    shutil.rmtree(FOLDER / "kafka" / "data")
    (FOLDER / "kafka" / ".formatted").unlink()
    local_kafka.start(FOLDER / "kafka", kafka_port, kafka_port + 1)
    for role in topology.roles.values():
        if role.process is not None and role.process.poll() is not None:
            role.start()
    topology.wait_ready()
    print("  the broker replaced by an empty one", file=sys.stderr, flush=True)
    return int((FOLDER / "kafka" / "kafka.pid").read_text().split()[0])


def hold_snapshot(topology: Topology) -> psycopg.Connection[Any]:
    """A session in a transaction whose snapshot stays taken: no row version deleted or
    replaced after it can be vacuumed away while it stays open."""
    connection = psycopg.connect(topology.database_url)
    connection.execute("SET idle_in_transaction_session_timeout = 0")
    connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    connection.execute(f'SELECT count(*) FROM "{topology.schema}".messages')
    print("  a session holds a snapshot open from here on", file=sys.stderr, flush=True)
    return connection


def database_report(topology: Topology) -> list[str]:
    with topology.database() as connection:
        tables = connection.execute(
            "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, "
            "pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "WHERE schemaname = %s ORDER BY pg_total_relation_size(relid) DESC LIMIT 8",
            (topology.schema,),
        ).fetchall()
        oldest = connection.execute(
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(xact_start)), 0), "
            "COUNT(*) FILTER (WHERE state LIKE 'idle in transaction%%') "
            "FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
        holders = connection.execute(
            "SELECT pid, state, EXTRACT(EPOCH FROM now() - xact_start), age(backend_xmin), "
            "left(query, 60) FROM pg_stat_activity WHERE xact_start < now() - interval '5 s' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    assert oldest is not None
    lines = [
        f"  {name:<24} live {live:>9,}  dead {dead:>9,}  autovacuums {runs:>3}  "
        f"{size / 2**20:>7.1f} MiB"
        for name, live, dead, runs, size in tables
    ]
    lines.append(
        f"  oldest open transaction {float(oldest[0]):.1f} s; idle in transaction: {oldest[1]}"
    )
    lines += [
        f"  open {age:.0f} s, xmin age {xmin}: pid {pid} {state}: {query}"
        for pid, state, age, xmin, query in holders
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kill-in", type=int, default=2, help="the run whose owner is struck")
    parser.add_argument(
        "--fault",
        choices=("kill", "freeze", "pause"),
        default="kill",
        help="what strikes the owner",
    )
    parser.add_argument(
        "--new-broker-after",
        type=int,
        default=0,
        help="after this run, replace the broker by a fresh one under the same database, as "
        "a stack in a new folder sharing a cluster did",
    )
    parser.add_argument(
        "--hold-snapshot-after",
        type=int,
        default=0,
        help="after this run, a session of the database keeps a transaction open (a snapshot "
        "taken) to the end, as a client stopped in the middle of one would",
    )
    parser.add_argument(
        "--demo-outcomes",
        action="store_true",
        help="the demo stream as it comes (some messages fail, some recipients click, reply "
        "or opt out) rather than every message delivered and nothing else",
    )
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--lease", type=float, default=5.0)
    parser.add_argument("--postgres-port", type=int, default=25612)
    parser.add_argument("--kafka-port", type=int, default=29231)
    args = parser.parse_args(argv)
    url = local_postgres.start(FOLDER / "postgres", args.postgres_port)
    bootstrap = local_kafka.start(FOLDER / "kafka", args.kafka_port, args.kafka_port + 1)
    services = (
        postmaster_of(FOLDER / "postgres" / "cluster" / "data"),
        int((FOLDER / "kafka" / "kafka.pid").read_text().split()[0]),
    )
    schema = f"steady_{uuid.uuid4().hex[:6]}"
    topology = Topology(
        FOLDER / "runs" / schema,
        url,
        schema,
        kafka=bootstrap,
        topic_prefix=schema,
        lease_seconds=args.lease,
    )
    runs: list[Run] = []
    holder: psycopg.Connection[Any] | None = None
    try:
        topology.add("relay", "relay")
        topology.add("project", "project")
        gateway = topology.add("gateway", "serve")
        for number in range(1, args.dispatchers + 1):
            topology.add(f"dispatch-{number}", "dispatch")
        topology.wait_ready()
        api = Api([gateway])
        prepare_domains(api, limit=1_000_000_000)
        quiet: dict[str, Any] = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0}
        if args.demo_outcomes:
            api.patch("/api/streams/demo", json={"rate": 0})
        else:
            api.patch("/api/streams/demo", json={"rate": 0, **quiet, "outcomes": {"delivered": 1}})
        made = api.post(
            "/api/contact-lists?name=steady",
            content=contact_csv(args.recipients),
            headers={"content-type": "text/csv"},
        )
        people = (str(made["id"]), int(made["accepted"]))
        for number in range(1, args.runs + 1):
            run = one_run(
                api,
                topology,
                people,
                number,
                args.fault if number == args.kill_in else None,
                services,
            )
            runs.append(run)
            print(report_line(run), file=sys.stderr, flush=True)
            if number == args.new_broker_after:
                services = (services[0], fresh_broker(topology, args.kafka_port))
            if number == args.hold_snapshot_after:
                holder = hold_snapshot(topology)
        for line in database_report(topology):
            print(line)
    finally:
        if holder is not None:
            holder.close()
        topology.stop()
        with topology.database() as connection:  # 600 MB or so a run: not kept
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        local_kafka.stop(FOLDER / "kafka")
        local_postgres.stop(FOLDER / "postgres")
    print("run  messages  seconds  messages/s  CPU ms per 1,000  load")
    for run in runs:
        print(report_line(run))
    if len(runs) >= 2:
        ratio = runs[-1].rate / runs[0].rate
        verdict = "met" if ratio >= 0.8 else "NOT met"
        print(f"last/first: {ratio:.2f} (target at least 0.8: {verdict})")
        cost = runs[-1].cpu_ms / runs[0].cpu_ms
        print(f"CPU per message, last/first: {cost:.2f} (the rate's drift from other load)")
    return 0


def report_line(run: Run) -> str:
    done = {"kill": "killed", "freeze": "frozen", "pause": "frozen past its lease"}
    kill = f"  (owner {done[run.fault]} half-way)" if run.fault else ""
    return (
        f"{run.number:>3}  {run.messages:>8,}  {run.seconds:>7.1f}  {run.rate:>10,.0f}  "
        f"{run.cpu_ms:>16,.1f}  {run.load:>4.1f}{kill}"
    )


if __name__ == "__main__":
    sys.exit(main())
