"""The whole scale-out topology on one machine: `campaigns stack up | down | status`.

PostgreSQL and a Kafka broker (both the project's own local copies), then one process per
role: the relay, the projector, the dispatchers (one by default; more share the streams out
and take over each other's) and a gateway, each started detached with its log and PID file
under the stack's folder, and stopped by those PIDs, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infra import local_kafka, local_postgres

ROLES = ("relay", "project", "dispatch", "serve")  # started in this order, stopped in reverse
READY_SECONDS = 90.0
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class Stack:
    folder: Path
    port: int = 8000  # the gateway's; 0: a free one, kept while the stack runs
    postgres_port: int = 25442
    kafka_port: int = 29102
    dispatchers: int = 1  # for `up`; `down` and `status` find every one started
    # The command line that runs a role, before the role's name (`python -m <the CLI>`): the
    # caller's, since the program with the gateway's commands is not this floor's to name.
    program: tuple[str, ...] = ()

    def roles(self) -> list[str]:
        """Every role's name (`dispatch`, `dispatch-2`, ...), in the order they start."""
        started = {path.stem for path in self.pids.glob("dispatch*.pid")}
        wanted = {"dispatch", *(f"dispatch-{n}" for n in range(2, self.dispatchers + 1))}
        dispatchers = sorted(started | wanted, key=lambda name: (len(name), name))
        return ["relay", "project", *dispatchers, "serve"]

    @property
    def pids(self) -> Path:
        return self.folder / "pids"

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def folders(self) -> dict[str, Path]:
        """Where the stack keeps its data: the database's, the broker's, the roles' own."""
        cluster = self.folder / "postgres" / "cluster"
        return {
            "database": (cluster.resolve() if cluster.exists() else cluster) / "data",
            "broker": self.folder / "kafka" / "data",
            "roles": self.folder / "data",
            "logs": self.logs,
        }

    def gateway_port(self) -> int:
        """The gateway's port: the one asked for, or with 0 the one the running stack
        took, else a free one now (kept in the stack's folder for later commands)."""
        if self.port:
            return self.port
        kept = self.folder / "port"
        if kept.exists() and running_pid(self, "serve") is not None:
            return int(kept.read_text())
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.folder.mkdir(parents=True, exist_ok=True)
        kept.write_text(str(port))
        return port

    def environment(self, database_url: str, bootstrap: str, port: int) -> dict[str, str]:
        """The roles' settings: this stack's PostgreSQL and broker, which takes plain,
        unauthenticated connections whatever Kafka security the calling shell sets."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CAMPAIGNS_KAFKA_SSL_", "CAMPAIGNS_KAFKA_SASL_"))
        }
        return {
            **inherited,
            "CAMPAIGNS_DATABASE_URL": database_url,
            "CAMPAIGNS_KAFKA": bootstrap,
            "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
            "CAMPAIGNS_DATA_DIR": str(self.folder / "data"),
            "CAMPAIGNS_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }


def say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def up(stack: Stack) -> str:
    """Starts whatever is not running yet; returns the gateway's address."""
    stack.pids.mkdir(parents=True, exist_ok=True)
    stack.logs.mkdir(parents=True, exist_ok=True)
    database_url = local_postgres.start(
        stack.folder / "postgres", stack.postgres_port, open_from=stack.folder
    )
    bootstrap = local_kafka.start(stack.folder / "kafka", stack.kafka_port)
    port = stack.gateway_port()
    env = stack.environment(database_url, bootstrap, port)
    for role in stack.roles():
        if running_pid(stack, role) is None:
            start_role(stack, role, env)
    address = f"http://127.0.0.1:{port}/"
    wait_ready(stack, address)
    return address


def start_role(stack: Stack, role: str, env: dict[str, str]) -> None:
    if not stack.program:
        raise ValueError("the stack needs the program that runs its roles")
    role_env = dict(env)
    command = command_of(role)
    role_env["CAMPAIGNS_SENDING"] = "on" if command == "dispatch" else "off"
    log = (stack.logs / f"{role}.log").open("ab")
    process = subprocess.Popen(
        [*stack.program, command],
        env=role_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # the stack outlives the command that started it
    )
    (stack.pids / f"{role}.pid").write_text(str(process.pid))
    say(f"started {role} (pid {process.pid}, log {stack.logs / f'{role}.log'})")


def wait_ready(stack: Stack, address: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        for role in stack.roles():
            if not alive(int((stack.pids / f"{role}.pid").read_text())):
                raise RuntimeError(f"the {role} process exited; see {stack.logs / role}.log")
        try:
            with urllib.request.urlopen(address + "readyz", timeout=2) as response:
                body = json.loads(response.read())
                if body.get("status") == "ready":
                    return
                last = json.dumps(body)
        except OSError as error:
            last = str(error)
        time.sleep(0.25)
    raise RuntimeError(f"the gateway was not ready after {READY_SECONDS:.0f} s: {last}")


def running_pid(stack: Stack, role: str) -> int | None:
    """The PID of the role's process when it is alive and is ours."""
    path = stack.pids / f"{role}.pid"
    try:
        pid = int(path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = [*stack.program[1:], command_of(role)]
    if not all(part.encode() in command for part in ours):
        return None  # the PID was reused by something else
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def down(stack: Stack) -> list[str]:
    """Stops everything; returns what stays behind, a line per folder with its size."""
    for role in reversed(stack.roles()):
        stop_role(stack, role)
    local_kafka.stop(stack.folder / "kafka")
    local_postgres.stop(stack.folder / "postgres")
    return [
        f"{kind:<9} {folder} ({size_of(folder) / 2**20:,.1f} MiB)"
        for kind, folder in stack.folders().items()
        if folder.exists()
    ]


def size_of(folder: Path) -> int:
    """Bytes of the files under a folder (those that vanish meanwhile count as none)."""
    total = 0
    for parent, _folders, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue
    return total


def stop_role(stack: Stack, role: str) -> None:
    pid = running_pid(stack, role)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while running_pid(stack, role) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(stack, role) is not None:
            os.kill(pid, signal.SIGKILL)
        say(f"stopped {role} (pid {pid})")
    (stack.pids / f"{role}.pid").unlink(missing_ok=True)


def status(stack: Stack) -> dict[str, int | None]:
    return {role: running_pid(stack, role) for role in stack.roles()}


def command_of(role: str) -> str:
    """The `campaigns` command a role runs (`dispatch-2` runs `dispatch`)."""
    return role.split("-", 1)[0]
