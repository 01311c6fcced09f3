"""The platform's roles as real processes on one machine, for the fault suite, the scale-out
benchmark and the tests that kill and freeze sending processes.

Each role is a `campaigns` command (`serve`, `dispatch`, `relay`, `project`) started with the
environment a deployment gives it, its output in a log file of its own; it is signalled by
its PID (SIGKILL, SIGSTOP, SIGCONT, SIGTERM), never by name, and can be started again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks._auth import HEADERS, TOKEN

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Role:
    """One process of the platform."""

    name: str
    command: str
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        argv = [sys.executable, "-m", "gateway.cli", self.command]
        if self.port is not None:
            argv += ["--port", str(self.port)]
        with open(self.log, "ab") as log:
            log.write(f"--- start {self.starts + 1} of {self.name}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, number: signal.Signals) -> None:
        if self.alive:
            os.kill(self.pid, number)
            if number == signal.SIGKILL:
                assert self.process is not None
                self.process.wait(timeout=30)

    def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        os.kill(self.pid, signal.SIGCONT)  # a frozen process could not stop
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Topology:
    """Roles on one PostgreSQL schema (and Kafka, when given), sharing the admin token."""

    folder: Path
    database_url: str
    schema: str
    kafka: str | None = None
    topic_prefix: str = "campaigns"
    lease_seconds: float = 10.0
    extra_env: dict[str, str] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)

    def environment(self, role: str, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNS_")}
        env.update(
            {
                "CAMPAIGNS_DATABASE_URL": self.database_url,
                "CAMPAIGNS_DATABASE_SCHEMA": self.schema,
                "CAMPAIGNS_DATA_DIR": str(self.folder / role),
                "CAMPAIGNS_BOOTSTRAP_TOKEN": TOKEN,
                "CAMPAIGNS_LEASE_SECONDS": f"{self.lease_seconds:g}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.kafka:
            env["CAMPAIGNS_KAFKA"] = self.kafka
            env["CAMPAIGNS_KAFKA_TOPIC_PREFIX"] = self.topic_prefix
            env["CAMPAIGNS_KAFKA_REPLICATION"] = str(min(3, self.kafka.count(",") + 1))
        env.update(self.extra_env)
        env.update(more)
        return env

    def add(self, name: str, command: str, **env: str) -> Role:
        port = free_port() if command == "serve" else None
        sending = "on" if command in ("dispatch",) else env.pop("SENDING", "off")
        role = Role(
            name,
            command,
            self.environment(name, CAMPAIGNS_SENDING=sending, **env),
            self.folder / f"{name}.log",
            port,
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.roles[name] = role
        role.start()
        return role

    def gateways(self) -> list[Role]:
        return [role for role in self.roles.values() if role.command == "serve"]

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        """Until every gateway answers /readyz with ready and every role runs."""
        deadline = time.monotonic() + timeout
        for gateway in self.gateways():
            while True:
                for role in self.roles.values():
                    if not role.alive:
                        raise RuntimeError(f"{role.name} exited:\n{role.tail()}")
                try:
                    answer = httpx.get(f"{gateway.url}/readyz", timeout=2)
                    if answer.status_code == 200 and answer.json().get("status") == "ready":
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{gateway.name} was not ready:\n{gateway.tail()}")
                time.sleep(0.2)

    def stop(self) -> None:
        for role in reversed(list(self.roles.values())):
            role.stop()

    @contextmanager
    def database(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection to the store's schema, in autocommit."""
        with psycopg.connect(
            self.database_url, autocommit=True, options=f"-csearch_path={self.schema}"
        ) as connection:
            yield connection


class Api:
    """The JSON API of a gateway, as the admin; retries while the gateway is away."""

    def __init__(self, gateways: list[Role]) -> None:
        self.gateways = gateways
        self.turn = 0

    def call(self, method: str, path: str, *, retry_for: float = 60.0, **kwargs: Any) -> Any:
        deadline = time.monotonic() + retry_for
        headers = {**HEADERS, **kwargs.pop("headers", {})}
        while True:
            gateway = self.gateways[self.turn % len(self.gateways)]
            self.turn += 1
            try:
                response = httpx.request(
                    method, gateway.url + path, headers=headers, timeout=30, **kwargs
                )
                if response.status_code < 500:
                    assert response.status_code < 300, f"{method} {path}: {response.text}"
                    return response.json()
                problem = response.text
            except httpx.HTTPError as error:
                problem = str(error)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} kept failing: {problem}")
            time.sleep(0.2)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)

    def events(self, kind: str, after: int = 0) -> list[dict[str, Any]]:
        """Stored events of one type (`GET /api/events`), in order."""
        gateway = self.gateways[0]
        response = httpx.get(
            f"{gateway.url}/api/events",
            params={"type": kind, "after": after, "limit": 100_000},
            headers=HEADERS,
            timeout=60,
        )
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line]

    def owners(self) -> dict[str, tuple[int, int] | None]:
        """Each stream's owner now: (its PID, its epoch), or None."""
        found: dict[str, tuple[int, int] | None] = {}
        for stream in self.get("/api/streams")["items"]:
            owner = stream["owner"]
            found[stream["name"]] = (
                None if owner is None else (int(owner["process"].split(":")[1]), owner["epoch"])
            )
        return found


def contact_csv(count: int, start: int = 0) -> bytes:
    """A contact list of `count` distinct UK numbers."""
    rows = "".join(f"+44770{n:07d},P{n}\n" for n in range(start, start + count))
    return ("phone,first_name\n" + rows).encode()


def campaign_body(name: str, lists: list[str], stream: str) -> dict[str, Any]:
    return {
        "name": name,
        "sender": "Shop",
        "stream": stream,
        "contact_lists": lists,
        "variants": [{"text": "Hi {first_name} {short_url} stop {optout_url}"}],
        "links": {
            "short": {"target": "https://shop.example.com", "domains": ["go.example.com"]},
            "optout": {"domains": ["out.example.com"]},
        },
    }


def campaign_per_stream(
    api: Api, recipients: int, streams: tuple[str, ...], name: str
) -> list[str]:
    """A campaign on each stream, the recipients shared out between them (distinct numbers),
    each made but not launched; returns their ids in the streams' order."""
    share = recipients // len(streams)
    campaigns = []
    for index, stream in enumerate(streams):
        count = share if index < len(streams) - 1 else recipients - share * index
        people = api.post(
            f"/api/contact-lists?name={stream}-people",
            content=contact_csv(count, start=index * share),
            headers={"content-type": "text/csv"},
        )
        body = campaign_body(f"{name} on {stream}", [people["id"]], stream)
        campaigns.append(str(api.post("/api/campaigns", json=body)["id"]))
    return campaigns


def prepare_domains(api: Api, limit: int) -> None:
    api.post("/api/domains", json={"names": ["go.example.com", "out.example.com"]})
    for name in ("go.example.com", "out.example.com"):
        api.post(f"/api/domains/{name}/configure")
    api.call("PUT", "/api/settings/domain-limit", json={"limit": limit})


@dataclass(frozen=True)
class Books:
    """What the demo carriers' books hold for some campaigns' recipients."""

    recipients: int  # distinct recipients taken
    messages: int  # messages taken
    twice: list[str]  # recipients taken more than once

    def exactly_once(self, expected: int) -> bool:
        return self.messages == self.recipients == expected and not self.twice


def books_of(topology: Topology, campaign_ids: list[str]) -> Books:
    """The carriers' books, for the campaigns' messages (joined by message id)."""
    with topology.database() as connection:
        rows = connection.execute(
            "SELECT a.recipient, COUNT(*) FROM demo_carrier_accepted a "
            "JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = ANY(%s) "
            "GROUP BY m.campaign_id, a.recipient",
            (campaign_ids,),
        ).fetchall()
    return Books(
        recipients=len(rows),
        messages=sum(int(count) for _recipient, count in rows),
        twice=sorted(str(recipient) for recipient, count in rows if count > 1),
    )
