"""A throwaway Apache Kafka broker (KRaft), single node or a three-node cluster, for tests,
benchmarks and local runs.

The broker is the real one: its jars come from Maven Central (``infra/kafka/pom.xml``, fetched
with ``mvn``) and run on the machine's Java 17+. Importing this module starts nothing and reads
no environment.

Usage::

    python -m infra.local_kafka start --dir var/test-kafka --port 29092 [--controller-port 29093]
    python -m infra.local_kafka status --dir var/test-kafka
    python -m infra.local_kafka url --dir var/test-kafka
    python -m infra.local_kafka stop --dir var/test-kafka

    python -m infra.local_kafka cluster-start --dir D --ports p1,p2,p3 --controller-ports c1,c2,c3
    python -m infra.local_kafka node-kill --dir D --node 2      # SIGKILL, as a crash would
    python -m infra.local_kafka node-start --dir D --node 2     # back in the cluster
    python -m infra.local_kafka cluster-stop --dir D

``start`` prints progress on stderr and the bootstrap address alone on the last line of stdout::

    127.0.0.1:<port>

Layout
------
Everything lives in ``<dir>``::

    <dir>/.lock                     flock taken by start/stop
    <dir>/lib/                      the broker's jars (fetched once; .fetched marks a full copy)
    <dir>/config/server.properties  rewritten on every start (ports may change)
    <dir>/config/log4j2.properties
    <dir>/data/                     log.dirs: topics and the KRaft metadata log
    <dir>/.formatted                written once the storage was formatted
    <dir>/server.log                the broker's log
    <dir>/console.log               the JVM's stdout and stderr (crashes before logging starts)
    <dir>/kafka.pid                 PID of the running broker

``start`` is idempotent: a broker already running from ``<dir>`` on ``port`` is reused. The
storage is formatted once; later starts (after ``stop``, a crash or a SIGKILL) reuse it with its
topics and offsets. The quorum is static (``controller.quorum.voters``), so the ports may differ
from one start to the next. If a port is held by anything else, ``start`` fails: the caller
chooses the ports. ``stop`` sends SIGTERM to the PID in ``kafka.pid`` (SIGKILL after 30 s); it
never looks for processes by name.

Cluster
-------
``cluster-start`` runs three nodes, each broker and controller, on loopback: node ``i`` lives in
``<dir>/node-<i>/`` with the layout above (its own config, data, logs and PID file), the jars
are shared in ``<dir>/lib``, and ``<dir>/cluster.id`` holds the id formatted into every node's
storage. The settings are a real deployment's (``infra/deploy/compose.yaml``): replication
factor 3, ``min.insync.replicas=2``, no unclean leader election, no topics created on first
use; a node that stops heartbeating is fenced after 3 s and its partitions get new leaders.
``cluster-start`` prints the bootstrap string alone on the last line of stdout::

    127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>

It is idempotent like ``start``, and starts only the nodes that are not running. While any
node runs, the ports are those it was started with (the quorum's voters are in every node's
config). ``node-kill`` signals one node by its PID file and waits for it to exit; ``node-start``
starts it again with the config ``cluster-start`` wrote and waits until the cluster's metadata
lists it again. ``cluster-stop`` sends SIGTERM to every node at once: a broker stops only once
the controllers' quorum granted its controlled shutdown, so stopping the nodes one after the
other would leave the last without a quorum. Even at once, a node whose peers exit before its
grant cannot finish; it gets SIGKILL 10 s after a majority exited (any node: 30 s after SIGTERM).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "SaslListener",
    "bootstrap_address",
    "cluster_bootstrap",
    "ensure_installed",
    "is_running",
    "kill_node",
    "live_brokers",
    "node_pid",
    "partition_leader",
    "start",
    "start_cluster",
    "start_node",
    "stop",
    "stop_cluster",
]

HOST = "127.0.0.1"
NODE_ID = 1
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
KILL_TIMEOUT_S = 10.0
MAVEN_TIMEOUT_S = 900.0
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
APT_PACKAGES = ("openjdk-17-jre-headless", "maven")

# Sized for a 2-core test machine; a benchmark may want more heap and the default G1.
JVM_FLAGS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_SERVER_PROPERTIES = """\
# Written by infra/local_kafka.py on every start; edits are lost.
process.roles=broker,controller
node.id={node_id}
# A static quorum: the voter's address is not stored in the data, so ports may change.
controller.quorum.voters={node_id}@{host}:{controller_port}
listeners={listeners}
advertised.listeners={listeners}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map={protocol_map}
log.dirs={data_dir}
{sasl_settings}
# One node: every internal topic must accept replication factor 1, or consumer groups and
# transactions wait forever for replicas that will never exist.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Fast tests: no wait for more group members, one partition per internal topic.
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
# After a SIGKILL the restarted broker may only register once its old session expired (9 s by
# default); heartbeats stay in-process, so a short session is safe here.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000

# Small machine: few threads; the cleaner's dedupe buffer (128 MiB by default) is on the heap.
num.network.threads=2
num.io.threads=2
background.threads=2
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
"""

# A second client listener that takes SASL/PLAIN logins of its users only.
_SASL_SETTINGS = """\
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=\
org.apache.kafka.common.security.plain.PlainLoginModule required {users};
"""

_LOG4J2_PROPERTIES = """\
# Written by infra/local_kafka.py: the broker logs to one file, nothing to the console.
status = warn
name = local-kafka
# Log4j's own shutdown hook would close the file while the broker's hook is still shutting
# down, losing the last lines; every line is flushed as written, so nothing is lost without it.
shutdownHook = disable
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
# One line per request is far too much for tests.
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


_CLUSTER_SERVER_PROPERTIES = """\
# Written by infra/local_kafka.py on every cluster start; edits are lost.
process.roles=broker,controller
node.id={node_id}
# A static quorum of the three nodes: the voters' addresses are not stored in the data.
controller.quorum.voters={voters}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}

# As a real deployment (infra/deploy/compose.yaml): every record on three nodes, a write with
# acks=all needs two of them in sync, a replica that missed records never becomes leader, and
# topics exist only once created (the platform creates its own).
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false

# Fast tests: no wait for more group members, one partition per internal topic.
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
# Failover: the controller fences a node whose heartbeats stopped 3 s ago (9 s by default) and
# gives its partitions to in-sync replicas; heartbeats stay on loopback, so a short session is
# safe. A restarted node also registers again sooner.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000

# Small machine: few threads; the cleaner's dedupe buffer (128 MiB by default) is on the heap.
num.network.threads=2
num.io.threads=2
background.threads=2
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
"""


@dataclass(frozen=True)
class SaslListener:
    """A SASL_PLAINTEXT client listener on 127.0.0.1:``port`` beside the plain one, which
    takes SASL/PLAIN logins of ``users`` (name to password) and refuses any other client."""

    port: int
    users: dict[str, str] = field(repr=False)

    def check(self) -> None:
        for text in (*self.users, *self.users.values()):
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
                raise RuntimeError(f"SASL users and passwords here are plain words, not {text!r}")


@dataclass(frozen=True)
class _Layout:
    base_dir: Path
    shared_lib: Path | None = None  # a cluster's nodes share one copy of the jars

    @property
    def lib(self) -> Path:
        return self.shared_lib if self.shared_lib is not None else self.base_dir / "lib"

    @property
    def fetched(self) -> Path:
        return self.lib / ".fetched"

    @property
    def config(self) -> Path:
        return self.base_dir / "config"

    @property
    def server_properties(self) -> Path:
        return self.config / "server.properties"

    @property
    def log4j2_properties(self) -> Path:
        return self.config / "log4j2.properties"

    @property
    def data(self) -> Path:
        return self.base_dir / "data"

    @property
    def formatted(self) -> Path:
        return self.base_dir / ".formatted"

    @property
    def log(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def console(self) -> Path:
        return self.base_dir / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "kafka.pid"


def _say(message: str) -> None:
    print(f"local_kafka: {message}", file=sys.stderr, flush=True)


def bootstrap_address(port: int) -> str:
    return f"{HOST}:{port}"


def _layout(base_dir: Path) -> _Layout:
    return _Layout(base_dir=Path(base_dir).absolute())


def _tail_text(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _file_tail(path: Path, since: int = 0, lines: int = 40) -> str:
    """The last ``lines`` lines written to ``path`` after byte offset ``since``."""
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            content = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return f"--- {path}: (missing) ---"
    except OSError as exc:
        return f"--- {path}: (unreadable: {exc}) ---"
    return f"--- last lines of {path} ---\n{_tail_text(content, lines) or '(empty)'}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- installation


def _apt(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )


def _apt_install() -> None:
    """Install Java and Maven from Debian packages (root only), like local_postgres does."""
    apt_get = shutil.which("apt-get")
    packages = " ".join(APT_PACKAGES)
    if os.geteuid() != 0 or apt_get is None:
        raise RuntimeError(
            "java and mvn are needed to run the Kafka broker and cannot be installed "
            "automatically (not root, or no apt-get); install OpenJDK 17+ and Maven, e.g. "
            f"`sudo apt-get install -y {packages}`, and retry"
        )
    install = [apt_get, "install", "-y", "-q", *APT_PACKAGES]
    _say(f"java or mvn not found; installing {packages} with apt-get (one-time)")
    if _apt(install).returncode == 0:
        return
    # Fresh images ship without package lists; refresh them once and retry.
    update = _apt([apt_get, "update", "-q"])
    if update.returncode != 0:
        raise RuntimeError(
            f"`apt-get update` failed (exit {update.returncode}):\n"
            f"{_tail_text(update.stdout + update.stderr)}"
        )
    second = _apt(install)
    if second.returncode != 0:
        raise RuntimeError(
            f"`apt-get install -y {packages}` failed (exit {second.returncode}):\n"
            f"{_tail_text(second.stdout + second.stderr)}"
        )


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME", "")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def ensure_installed() -> tuple[str, str]:
    """Return the paths of ``java`` and ``mvn``, installing them with apt-get if needed."""
    java, mvn = _java(), shutil.which("mvn")
    if java is None or mvn is None:
        _apt_install()
        java, mvn = _java(), shutil.which("mvn")
    if java is None or mvn is None:
        raise RuntimeError(f"installed {' '.join(APT_PACKAGES)} but java or mvn is still missing")
    return java, mvn


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _fetch_jars(mvn: str, layout: _Layout) -> None:
    """Copy the broker's jars into ``<dir>/lib`` unless a complete copy of this POM is there.

    The marker holds the POM's digest, so changing a version in the POM fetches again; the
    folder is emptied first so two versions of a jar never share the classpath.
    """
    digest = _pom_digest()
    with contextlib.suppress(OSError):
        if layout.fetched.read_text().strip() == digest:
            return
    if layout.lib.exists():
        shutil.rmtree(layout.lib)
    _say(f"fetching the Kafka broker jars ({POM}) from Maven Central into {layout.lib}")
    _say("(one-time for this directory, about 45 MB; Maven caches the downloads in ~/.m2)")
    began = time.monotonic()
    argv, result = copy_dependencies(mvn, POM, f"-Dkafka.lib.dir={layout.lib}")
    jars = sorted(layout.lib.glob("*.jar")) if layout.lib.is_dir() else []
    if result.returncode != 0 or not any(j.name.startswith("kafka_") for j in jars):
        raise RuntimeError(
            f"fetching the Kafka jars with mvn failed (exit {result.returncode}):\n"
            f"{_tail_text(result.stdout + result.stderr) or '(no output)'}\n"
            f"command: {' '.join(argv)}"
        )
    layout.fetched.write_text(digest + "\n")
    megabytes = sum(j.stat().st_size for j in jars) / 1e6
    _say(f"fetched {len(jars)} jars ({megabytes:.0f} MB) in {time.monotonic() - began:.1f} s")


def copy_dependencies(
    mvn: str, pom: Path, *options: str
) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Runs Maven's `dependency:copy-dependencies` on a POM, quietly and in batch mode;
    returns the command and what it did. Raises RuntimeError when it takes too long."""
    argv = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom)]
    argv += ["dependency:copy-dependencies", *options]
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MAVEN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"mvn did not finish within {MAVEN_TIMEOUT_S:.0f} s") from exc
    return argv, result


# --------------------------------------------------------------------------- process helpers


@contextlib.contextmanager
def _locked(base_dir: Path) -> Iterator[None]:
    """Serialise start/stop on one directory (e.g. two test runs started at once)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    with (base_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_pid(layout: _Layout) -> int | None:
    try:
        return int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _reap(pid: int) -> None:
    """Collect the exit status if the broker is our child (a restart inside a test)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _is_our_broker(layout: _Layout, pid: int) -> bool:
    """True if ``pid`` is alive (not a zombie) and is the broker started from this directory.

    Checking the command line guards against a PID reused by an unrelated process after the
    broker died without removing its PID file.
    """
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    return MAIN_CLASS.encode() in argv and str(layout.server_properties).encode() in argv


def _still_starting(pid: int, began: float, grace: float = 15.0) -> bool:
    """True while the child spawned moments ago is alive: under load its command line was
    once read as not yet the broker's, and the start was called failed while it came up."""
    if time.monotonic() - began > grace:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _running_pid(layout: _Layout) -> int | None:
    pid = _read_pid(layout)
    return pid if pid is not None and _is_our_broker(layout, pid) else None


def is_running(base_dir: Path) -> bool:
    """True if the broker started from ``base_dir`` is alive."""
    return _running_pid(_layout(base_dir)) is not None


def _configured_port(layout: _Layout, listener: str = "PLAINTEXT") -> int | None:
    """The port of ``listener`` in the current server.properties (that of a running broker)."""
    try:
        lines = layout.server_properties.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() != "listeners":
            continue
        for entry in value.split(","):
            name, _, address = entry.strip().partition("://")
            if name == listener:
                with contextlib.suppress(ValueError):
                    return int(address.rsplit(":", 1)[1])
    return None


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The JVM sets SO_REUSEADDR on its listeners, so TIME_WAIT leftovers must not count as
        # "taken"; an active listener (on 127.0.0.1 or 0.0.0.0) still makes bind() fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- configuration


def _write_config(
    layout: _Layout, port: int, controller_port: int, sasl: SaslListener | None = None
) -> None:
    listeners = [f"PLAINTEXT://{HOST}:{port}", f"CONTROLLER://{HOST}:{controller_port}"]
    protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    sasl_settings = ""
    if sasl is not None:
        listeners.insert(1, f"SASL_PLAINTEXT://{HOST}:{sasl.port}")
        protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
        users = " ".join(f'user_{name}="{password}"' for name, password in sasl.users.items())
        sasl_settings = _SASL_SETTINGS.format(users=users)
    layout.config.mkdir(parents=True, exist_ok=True)
    layout.server_properties.write_text(
        _SERVER_PROPERTIES.format(
            node_id=NODE_ID,
            host=HOST,
            controller_port=controller_port,
            listeners=",".join(listeners),
            protocol_map=",".join(protocols),
            data_dir=layout.data,
            sasl_settings=sasl_settings,
        )
    )
    layout.log4j2_properties.write_text(_LOG4J2_PROPERTIES.format(log_file=layout.log))


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (22 characters).

    Kafka's own Uuid.randomUuid() also avoids ids starting with "-", which read as an option
    on command lines; doing the same here saves a JVM start for StorageTool random-uuid.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _java_argv(java: str, layout: _Layout, main_class: str, *args: str) -> list[str]:
    return [
        java,
        *JVM_FLAGS,
        f"-Dlog4j2.configurationFile={layout.log4j2_properties}",
        "-cp",
        f"{layout.lib}/*",
        main_class,
        *args,
    ]


def _format_storage(java: str, layout: _Layout, cluster_id: str | None = None) -> None:
    """Format ``<dir>/data`` once (with ``cluster_id``, else a new one); a half-formatted
    directory is thrown away and redone."""
    if layout.formatted.exists():
        return
    if layout.data.exists():
        _say(f"discarding incompletely formatted storage in {layout.data}")
        shutil.rmtree(layout.data)
    cluster_id = _cluster_id() if cluster_id is None else cluster_id
    _say(f"formatting {layout.data} (cluster id {cluster_id})")
    argv = _java_argv(
        java,
        layout,
        STORAGE_TOOL,
        "format",
        "-t",
        cluster_id,
        "-c",
        str(layout.server_properties),
    )
    result = subprocess.run(
        argv,
        cwd=layout.base_dir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"formatting the Kafka storage in {layout.data} failed (exit {result.returncode}):\n"
            f"{_tail_text(result.stdout + result.stderr) or '(no output)'}"
        )
    layout.formatted.write_text(f"cluster.id={cluster_id}\n")


# --------------------------------------------------------------------------- broker lifecycle


@dataclass(frozen=True)
class _LogMarks:
    """Sizes of the logs before a start, so errors show only what this start wrote."""

    log: int
    console: int


def _launch(java: str, layout: _Layout) -> tuple[int, _LogMarks]:
    marks = _LogMarks(log=_size(layout.log), console=_size(layout.console))
    argv = _java_argv(java, layout, MAIN_CLASS, str(layout.server_properties))
    with layout.console.open("ab") as console:
        # Its own session: the broker outlives the caller and ignores the terminal's Ctrl-C.
        process = subprocess.Popen(
            argv,
            cwd=layout.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.pid_file.write_text(f"{process.pid}\n")
    return process.pid, marks


def _metadata_ok(address: str) -> str | None:
    """Ask the broker for its topics with the project's client; return the error, if any."""
    from kafka import KafkaAdminClient  # here: stop and status need no client

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=address,
            client_id="local-kafka-probe",
            request_timeout_ms=5000,
        )
    except Exception as exc:  # any client failure just means "not ready yet"
        return f"{type(exc).__name__}: {exc}"
    try:
        admin.list_topics()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        admin.close()
    return None


def _logs(layout: _Layout, marks: _LogMarks) -> str:
    return f"{_file_tail(layout.log, marks.log)}\n{_file_tail(layout.console, marks.console, 20)}"


def _wait_ready(layout: _Layout, pid: int, port: int, marks: _LogMarks) -> None:
    """Wait until the client port accepts connections and answers a metadata request."""
    address = bootstrap_address(port)
    began = time.monotonic()
    deadline = began + START_TIMEOUT_S
    next_note = began + 10
    last = "the port does not accept connections yet"
    while True:
        # Only a process that is gone (or, after a grace period, not ours) has exited.
        if not _is_our_broker(layout, pid) and not _still_starting(pid, began):
            layout.pid_file.unlink(missing_ok=True)
            raise RuntimeError(
                f"the Kafka broker (pid {pid}) exited during startup:\n{_logs(layout, marks)}"
            )
        if _port_answers(port):
            error = _metadata_ok(address)
            if error is None:
                _say(f"broker ready on {address} after {time.monotonic() - began:.1f} s")
                return
            last = f"metadata request failed: {error}"
        now = time.monotonic()
        if now >= deadline:
            raise RuntimeError(
                f"the Kafka broker (pid {pid}) was not ready on {address} within "
                f"{START_TIMEOUT_S:.0f} s ({last}); it is left running, stop it with "
                f"`python -m infra.local_kafka stop --dir {layout.base_dir}`:\n"
                f"{_logs(layout, marks)}"
            )
        if now >= next_note:
            _say(f"still waiting for the broker on {address} ({last})")
            next_note = now + 10
        time.sleep(0.2)


def _wait_exit(layout: _Layout, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_our_broker(layout, pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


# --------------------------------------------------------------------------- public API


def start(
    base_dir: Path, port: int, controller_port: int | None = None, sasl: SaslListener | None = None
) -> str:
    """Start (or reuse) the broker in ``base_dir``; return its bootstrap address.

    The client listener is 127.0.0.1:``port``, the controller's 127.0.0.1:``controller_port``
    (``port + 1`` when not given), and with ``sasl`` a SASL_PLAINTEXT listener too. Raises
    RuntimeError with the reason (and the log tail).
    """
    controller_port = port + 1 if controller_port is None else controller_port
    ports = (port, controller_port, *((sasl.port,) if sasl else ()))
    if sasl is not None:
        sasl.check()
    for value in ports:
        if not 1 <= value <= 65535:
            raise RuntimeError(f"invalid port {value}")
    if len(set(ports)) < len(ports):
        raise RuntimeError(f"the listeners' ports must differ ({ports})")
    layout = _layout(base_dir)
    java, mvn = ensure_installed()
    with _locked(layout.base_dir):
        pid = _running_pid(layout)
        if pid is not None:
            running_port = _configured_port(layout)
            if running_port != port:
                raise RuntimeError(
                    f"the broker in {layout.base_dir} is already running on port "
                    f"{running_port}, not {port}; stop it first (python -m infra.local_kafka "
                    f"stop --dir {layout.base_dir})"
                )
            _say(f"reusing the broker already running from {layout.base_dir} (pid {pid})")
            marks = _LogMarks(
                log=max(0, _size(layout.log) - 4096), console=max(0, _size(layout.console) - 4096)
            )
        else:
            layout.pid_file.unlink(missing_ok=True)  # stale: that process is gone
            for value in ports:
                if not _port_is_free(value):
                    raise RuntimeError(
                        f"port {value} on {HOST} is already in use by something other than "
                        f"the broker in {layout.base_dir}; stop that process or choose "
                        "other ports"
                    )
            _fetch_jars(mvn, layout)
            _write_config(layout, port, controller_port, sasl)
            _format_storage(java, layout)
            _say(f"starting Kafka on {bootstrap_address(port)} (log: {layout.log})")
            pid, marks = _launch(java, layout)
        _wait_ready(layout, pid, port, marks)
    return bootstrap_address(port)


def stop(base_dir: Path) -> None:
    """Stop the broker started from ``base_dir``: SIGTERM, SIGKILL after 30 s. Idempotent."""
    layout = _layout(base_dir)
    if not layout.base_dir.is_dir():
        return
    with _locked(layout.base_dir):
        pid = _running_pid(layout)
        if pid is None:
            layout.pid_file.unlink(missing_ok=True)
            return
        _say(f"stopping the Kafka broker (pid {pid}) in {layout.base_dir}")
        # The broker's shutdown hook closes the logs cleanly, so a restart needs no recovery.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_exit(layout, pid, STOP_TIMEOUT_S):
            _say(f"no exit within {STOP_TIMEOUT_S:.0f} s of SIGTERM; sending SIGKILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not _wait_exit(layout, pid, KILL_TIMEOUT_S):
                raise RuntimeError(f"the Kafka broker (pid {pid}) survived SIGKILL")
        layout.pid_file.unlink(missing_ok=True)


def _status(base_dir: Path) -> str | None:
    """``<address> (pid N)`` for a running broker in ``base_dir``, else None."""
    layout = _layout(base_dir)
    pid = _running_pid(layout)
    port = _configured_port(layout)
    if pid is None or port is None:
        return None
    return f"{bootstrap_address(port)} (pid {pid})"


# --------------------------------------------------------------------------- three-node cluster

NODE_IDS = (1, 2, 3)
ASK_ATTEMPTS = 5
QUORUM_LOST_GRACE_S = 10.0
_Answer = TypeVar("_Answer")


@dataclass(frozen=True)
class _Launch:
    """A node this call started: what to watch while waiting for it to serve."""

    node_id: int
    layout: _Layout
    pid: int
    port: int
    marks: _LogMarks


def _node_layout(base_dir: Path, node_id: int) -> _Layout:
    if node_id not in NODE_IDS:
        raise RuntimeError(f"no node {node_id}: the cluster's nodes are {NODE_IDS}")
    root = Path(base_dir).absolute()
    return _Layout(base_dir=root / f"node-{node_id}", shared_lib=root / "lib")


def cluster_bootstrap(ports: Sequence[int]) -> str:
    """The bootstrap string of nodes listening on ``ports``: ``127.0.0.1:p1,127.0.0.1:p2,...``."""
    return ",".join(bootstrap_address(port) for port in ports)


def _check_cluster_ports(ports: Sequence[int], controller_ports: Sequence[int]) -> None:
    for name, values in (("ports", ports), ("controller ports", controller_ports)):
        if len(values) != len(NODE_IDS):
            raise RuntimeError(f"the cluster needs {len(NODE_IDS)} {name}, got {list(values)}")
    every = [*ports, *controller_ports]
    for value in every:
        if not 1 <= value <= 65535:
            raise RuntimeError(f"invalid port {value}")
    if len(set(every)) != len(every):
        raise RuntimeError(f"the cluster's ports must all differ: {every}")


def _node_ports(layout: _Layout) -> tuple[int, int] | None:
    """The client and controller ports in a node's config, if it has one."""
    port, controller_port = _configured_port(layout), _configured_port(layout, "CONTROLLER")
    return None if port is None or controller_port is None else (port, controller_port)


def _configured_bootstrap(base_dir: Path) -> str:
    """The bootstrap string of the cluster as ``start_cluster`` last configured it."""
    ports = []
    for node_id in NODE_IDS:
        configured = _node_ports(_node_layout(base_dir, node_id))
        if configured is None:
            raise RuntimeError(
                f"node {node_id} in {base_dir} has no config: start the cluster first "
                f"(python -m infra.local_kafka cluster-start --dir {base_dir} ...)"
            )
        ports.append(configured[0])
    return cluster_bootstrap(ports)


def _stored_cluster_id(base_dir: Path) -> str:
    """The id every node's storage is formatted with, made once per cluster directory."""
    path = base_dir / "cluster.id"
    with contextlib.suppress(OSError):
        stored = path.read_text().strip()
        if stored:
            return stored
    cluster_id = _cluster_id()
    path.write_text(f"{cluster_id}\n")
    return cluster_id


def _write_cluster_config(
    layout: _Layout, node_id: int, ports: Sequence[int], controller_ports: Sequence[int]
) -> None:
    voters = ",".join(
        f"{voter}@{HOST}:{controller_port}"
        for voter, controller_port in zip(NODE_IDS, controller_ports, strict=True)
    )
    layout.config.mkdir(parents=True, exist_ok=True)
    layout.server_properties.write_text(
        _CLUSTER_SERVER_PROPERTIES.format(
            node_id=node_id,
            voters=voters,
            host=HOST,
            port=ports[node_id - 1],
            controller_port=controller_ports[node_id - 1],
            data_dir=layout.data,
        )
    )
    layout.log4j2_properties.write_text(_LOG4J2_PROPERTIES.format(log_file=layout.log))


def _admin(bootstrap: str, client_id: str) -> Any:
    from kafka import KafkaAdminClient  # here: stop and status need no client

    return KafkaAdminClient(
        bootstrap_servers=bootstrap.split(","),
        client_id=client_id,
        request_timeout_ms=5000,
        reconnect_backoff_ms=50,
        reconnect_backoff_max_ms=1000,
    )


def _ask(bootstrap: str, client_id: str, question: Callable[[Any], _Answer]) -> _Answer:
    """Put ``question`` to the cluster through an admin client.

    The client sends each request to one node of the metadata, which lists a node killed
    moments ago until the controller fences it: a node that cannot be reached is retried on
    another (the client holds the unreachable one back for a while).
    """
    from kafka.errors import KafkaError

    admin = _admin(bootstrap, client_id)
    try:
        for _ in range(ASK_ATTEMPTS - 1):
            try:
                return question(admin)
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                time.sleep(0.1)
        return question(admin)
    finally:
        admin.close()


def live_brokers(bootstrap: str) -> set[int]:
    """The ids of the brokers the cluster's metadata lists: registered and not fenced.

    A node killed moments ago stays listed until the controller fences it (3 s without
    heartbeats). Raises the client's error if no node answers.
    """
    brokers = _ask(bootstrap, "local-kafka-brokers", lambda admin: admin.describe_cluster())
    return {
        int(broker["broker_id"]) for broker in brokers["brokers"] if not broker.get("is_fenced")
    }


def partition_leader(bootstrap: str, topic: str, partition: int = 0) -> int | None:
    """The id of the node leading ``topic``'s ``partition``, from a metadata request.

    None while the partition has no leader, or while the answering node does not know the
    topic yet. Raises the client's error if no node answers.
    """
    topics = _ask(bootstrap, "local-kafka-leader", lambda admin: admin.describe_topics([topic]))
    for described in topics:
        if described["name"] != topic or described["error_code"] != 0:
            continue
        for state in described["partitions"]:
            if state["partition_index"] == partition and state["leader_id"] >= 0:
                return int(state["leader_id"])
    return None


def _brokers_or_error(bootstrap: str) -> set[int] | str:
    try:
        return live_brokers(bootstrap)
    except Exception as exc:  # any client failure just means "not ready yet"
        return f"{type(exc).__name__}: {exc}"


def _wait_serving(
    base_dir: Path, bootstrap: str, launches: Sequence[_Launch], wanted: Sequence[int]
) -> None:
    """Wait until every node started here serves its clients and the metadata lists every
    node in ``wanted``.

    A node opens its client port only once the controller has unfenced it, so the port of
    the node itself, not a peer's possibly older metadata, shows that it is back.
    """
    began = time.monotonic()
    deadline = began + START_TIMEOUT_S
    next_note = began + 10
    last = "no node accepts connections yet"
    while True:
        for launch in launches:
            if not _is_our_broker(launch.layout, launch.pid) and not _still_starting(
                launch.pid, began
            ):
                launch.layout.pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"Kafka node {launch.node_id} (pid {launch.pid}) exited during startup:\n"
                    f"{_logs(launch.layout, launch.marks)}"
                )
        closed = [launch.node_id for launch in launches if not _port_answers(launch.port)]
        if closed:
            last = f"the client port of node(s) {closed} does not accept connections yet"
        else:
            brokers = _brokers_or_error(bootstrap)
            if isinstance(brokers, set) and set(wanted) <= brokers:
                _say(f"cluster ready on {bootstrap} after {time.monotonic() - began:.1f} s")
                return
            last = (
                f"metadata request failed: {brokers}"
                if isinstance(brokers, str)
                else f"the metadata lists brokers {sorted(brokers)}, not yet {sorted(wanted)}"
            )
        now = time.monotonic()
        if now >= deadline:
            logs = "\n".join(
                f"=== node {launch.node_id} ===\n{_logs(launch.layout, launch.marks)}"
                for launch in launches
            )
            raise RuntimeError(
                f"the Kafka cluster on {bootstrap} was not ready within {START_TIMEOUT_S:.0f} s "
                f"({last}); its nodes are left running, stop them with "
                f"`python -m infra.local_kafka cluster-stop --dir {base_dir}`:\n{logs}"
            )
        if now >= next_note:
            _say(f"still waiting for the cluster on {bootstrap} ({last})")
            next_note = now + 10
        time.sleep(0.2)


def _port_released(port: int, timeout: float) -> bool:
    """Wait until nothing listens on ``port``: a killed JVM's main thread is reaped before
    its other threads have closed the listeners."""
    deadline = time.monotonic() + timeout
    while not _port_is_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _check_ports_free(node_id: int, layout: _Layout, ports: Sequence[int]) -> None:
    for port in ports:
        if not _port_released(port, KILL_TIMEOUT_S):
            raise RuntimeError(
                f"port {port} on {HOST} is already in use by something other than Kafka "
                f"node {node_id} in {layout.base_dir}; stop that process or choose other ports"
            )


def _launch_node(java: str, node_id: int, layout: _Layout) -> _Launch:
    configured = _node_ports(layout)
    assert configured is not None, "the node's config is written before it is launched"
    _say(f"starting Kafka node {node_id} on {bootstrap_address(configured[0])} (log: {layout.log})")
    pid, marks = _launch(java, layout)
    return _Launch(node_id=node_id, layout=layout, pid=pid, port=configured[0], marks=marks)


def _check_running_ports(
    base_dir: Path, ports: Sequence[int], controller_ports: Sequence[int]
) -> None:
    """Refuse other ports while any node runs: its quorum knows the configured ones."""
    for node_id in NODE_IDS:
        configured = _node_ports(_node_layout(base_dir, node_id))
        wanted = (ports[node_id - 1], controller_ports[node_id - 1])
        if configured is not None and configured != wanted:
            raise RuntimeError(
                f"the cluster in {base_dir} is running with node {node_id} on ports "
                f"{configured}, not {wanted}; stop it first (python -m infra.local_kafka "
                f"cluster-stop --dir {base_dir})"
            )


def start_cluster(base_dir: Path, ports: Sequence[int], controller_ports: Sequence[int]) -> str:
    """Start (or reuse) the three-node cluster in ``base_dir``; return its bootstrap string.

    Node ``i`` listens on 127.0.0.1:``ports[i-1]`` for clients and on
    ``controller_ports[i-1]`` for the quorum. Only the nodes not running are started, all of
    them before any is waited on (they elect a controller together); returns once each serves
    and the metadata lists all three. Raises RuntimeError with the reason (and the logs).
    """
    ports, controller_ports = tuple(ports), tuple(controller_ports)
    _check_cluster_ports(ports, controller_ports)
    root = _layout(base_dir)
    java, mvn = ensure_installed()
    with _locked(root.base_dir):
        nodes = {node_id: _node_layout(root.base_dir, node_id) for node_id in NODE_IDS}
        stopped = [node_id for node_id, node in nodes.items() if _running_pid(node) is None]
        if len(stopped) < len(NODE_IDS):
            _check_running_ports(root.base_dir, ports, controller_ports)
            running = sorted(set(NODE_IDS) - set(stopped))
            _say(f"reusing the running Kafka node(s) {running} in {root.base_dir}")
        for node_id in stopped:
            wanted = (ports[node_id - 1], controller_ports[node_id - 1])
            _check_ports_free(node_id, nodes[node_id], wanted)
        if stopped:
            _fetch_jars(mvn, root)
            cluster_id = _stored_cluster_id(root.base_dir)
            for node_id in stopped:
                nodes[node_id].pid_file.unlink(missing_ok=True)  # stale: that process is gone
                _write_cluster_config(nodes[node_id], node_id, ports, controller_ports)
                _format_storage(java, nodes[node_id], cluster_id)
        launches = [_launch_node(java, node_id, nodes[node_id]) for node_id in stopped]
        bootstrap = cluster_bootstrap(ports)
        _wait_serving(root.base_dir, bootstrap, launches, NODE_IDS)
    return bootstrap


def _signal_and_wait(layout: _Layout, pid: int, sig: signal.Signals, timeout: float) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    return _wait_exit(layout, pid, timeout)


def _stop_nodes(running: Sequence[tuple[_Layout, int]]) -> None:
    """SIGTERM every node at once; SIGKILL those still alive after 30 s, or 10 s after a
    majority of the nodes exited.

    A broker stops only once the active controller granted its controlled shutdown, which
    needs a quorum: a node whose peers exited before its grant waits for it (five minutes)
    and is killed instead. Once granted, a node exits within about 6 s (its controller
    waits up to 5 s to hand over leadership).
    """
    for _, pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    alive = list(running)
    while alive:
        alive = [(node, pid) for node, pid in alive if _is_our_broker(node, pid)]
        if len(NODE_IDS) - len(alive) > len(NODE_IDS) // 2:
            deadline = min(deadline, time.monotonic() + QUORUM_LOST_GRACE_S)
        if alive and time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for node, pid in alive:
        _say(f"the node in {node.base_dir} (pid {pid}) did not exit on SIGTERM; sending SIGKILL")
        if not _signal_and_wait(node, pid, signal.SIGKILL, KILL_TIMEOUT_S):
            raise RuntimeError(f"the Kafka node in {node.base_dir} (pid {pid}) survived SIGKILL")


def stop_cluster(base_dir: Path) -> None:
    """Stop every node of the cluster in ``base_dir``: SIGTERM to all at once, SIGKILL to any
    that cannot finish (see ``_stop_nodes``). Idempotent."""
    root = _layout(base_dir)
    if not root.base_dir.is_dir():
        return
    with _locked(root.base_dir):
        nodes = [_node_layout(root.base_dir, node_id) for node_id in NODE_IDS]
        running = [(node, pid) for node in nodes if (pid := _running_pid(node)) is not None]
        if running:
            _say(f"stopping the Kafka cluster in {root.base_dir} (pids {[p for _, p in running]})")
            _stop_nodes(running)
        for node in nodes:
            node.pid_file.unlink(missing_ok=True)


def node_pid(base_dir: Path, node_id: int) -> int | None:
    """The PID of node ``node_id`` of the cluster in ``base_dir`` if it is alive, else None."""
    return _running_pid(_node_layout(base_dir, node_id))


def kill_node(base_dir: Path, node_id: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Send ``sig`` (one that ends the process) to node ``node_id`` and wait until it exited.

    SIGKILL is a crash: no controlled shutdown, the controller fences the node 3 s later.
    SIGTERM is a clean stop. Raises RuntimeError if the node is not running or outlives the
    signal (30 s for SIGTERM, 10 s for others).
    """
    layout = _node_layout(base_dir, node_id)
    with _locked(layout.base_dir.parent):
        pid = _running_pid(layout)
        if pid is None:
            raise RuntimeError(f"Kafka node {node_id} in {layout.base_dir.parent} is not running")
        _say(f"sending {sig.name} to Kafka node {node_id} (pid {pid})")
        timeout = STOP_TIMEOUT_S if sig == signal.SIGTERM else KILL_TIMEOUT_S
        if not _signal_and_wait(layout, pid, sig, timeout):
            raise RuntimeError(
                f"Kafka node {node_id} (pid {pid}) did not exit within {timeout:.0f} s of "
                f"{sig.name}"
            )
        layout.pid_file.unlink(missing_ok=True)
        for port in _node_ports(layout) or ():
            if not _port_released(port, KILL_TIMEOUT_S):
                raise RuntimeError(
                    f"port {port} was still taken {KILL_TIMEOUT_S:.0f} s after "
                    f"Kafka node {node_id} (pid {pid}) exited"
                )


def start_node(base_dir: Path, node_id: int) -> None:
    """Start node ``node_id`` again with the config ``start_cluster`` wrote; return once it
    serves and the cluster's metadata lists it. A running node is left as it is.

    The node needs a quorum to come back: at least one other node must be running.
    """
    root = _layout(base_dir)
    layout = _node_layout(root.base_dir, node_id)
    java, mvn = ensure_installed()
    with _locked(root.base_dir):
        bootstrap = _configured_bootstrap(root.base_dir)
        if not layout.formatted.exists():
            raise RuntimeError(
                f"node {node_id} in {root.base_dir} was never started by start_cluster"
            )
        launches = []
        if _running_pid(layout) is None:
            layout.pid_file.unlink(missing_ok=True)
            _check_ports_free(node_id, layout, _node_ports(layout) or ())
            _fetch_jars(mvn, root)
            launches.append(_launch_node(java, node_id, layout))
        else:
            _say(f"Kafka node {node_id} in {root.base_dir} is already running")
        _wait_serving(root.base_dir, bootstrap, launches, [node_id])


# --------------------------------------------------------------------------- CLI


def _port_list(text: str) -> list[int]:
    """``p1,p2,p3`` as three ports (argparse's type for the cluster's options)."""
    try:
        ports = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of ports: {text!r}") from None
    if len(ports) != len(NODE_IDS):
        raise argparse.ArgumentTypeError(f"{len(NODE_IDS)} ports expected, got {text!r}")
    return ports


def _add_cluster_commands(commands: Any) -> None:
    start_cmd = commands.add_parser(
        "cluster-start", help="start (or reuse) the three-node cluster; print its bootstrap"
    )
    start_cmd.add_argument("--dir", required=True, type=Path, help="cluster base directory")
    start_cmd.add_argument(
        "--ports", required=True, type=_port_list, help="client ports of nodes 1,2,3"
    )
    start_cmd.add_argument(
        "--controller-ports", required=True, type=_port_list, help="controller ports of 1,2,3"
    )
    stop_cmd = commands.add_parser("cluster-stop", help="stop every node of the cluster")
    stop_cmd.add_argument("--dir", required=True, type=Path, help="cluster base directory")
    for name, text in (
        ("node-kill", "SIGKILL one node (as a crash would) and wait until it exited"),
        ("node-start", "start one stopped node again and wait until the cluster lists it"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--dir", required=True, type=Path, help="cluster base directory")
        command.add_argument("--node", required=True, type=int, choices=NODE_IDS, help="node id")


def _run_cluster_command(args: argparse.Namespace) -> None:
    if args.command == "cluster-start":
        print(start_cluster(args.dir, args.ports, args.controller_ports), flush=True)
    elif args.command == "cluster-stop":
        stop_cluster(args.dir)
    elif args.command == "node-kill":
        kill_node(args.dir, args.node)
    else:
        start_node(args.dir, args.node)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_kafka",
        description="Run a throwaway Kafka broker or three-node cluster (tests, benchmarks, "
        "local runs).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start (or reuse) the broker; print its address")
    start_cmd.add_argument("--dir", required=True, type=Path, help="broker base directory")
    start_cmd.add_argument("--port", required=True, type=int, help="client port on 127.0.0.1")
    start_cmd.add_argument(
        "--controller-port", type=int, default=None, help="controller port (default: port + 1)"
    )
    for name, text in (
        ("stop", "stop the broker if it is running"),
        ("status", "say whether the broker is running (exit 1 if not)"),
        ("url", "print the bootstrap address of the running broker (exit 1 if not running)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--dir", required=True, type=Path, help="broker base directory")
    _add_cluster_commands(commands)
    args = parser.parse_args(argv)
    try:
        if args.command.startswith(("cluster-", "node-")):
            _run_cluster_command(args)
        elif args.command == "start":
            print(start(args.dir, args.port, args.controller_port), flush=True)
        elif args.command == "stop":
            stop(args.dir)
        else:
            status = _status(args.dir)
            if args.command == "status":
                print(f"running: {status}" if status else "not running", flush=True)
            elif status:
                print(status.split()[0], flush=True)
            else:
                print(f"local_kafka: no broker running in {args.dir}", file=sys.stderr)
            return 0 if status else 1
    except RuntimeError as exc:
        print(f"local_kafka: error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
