"""A throwaway SMSC for the integration tests: jsmpp's SMPP server simulator
(``org.jsmpp:jsmpp-examples:3.0.1``) run on the machine's Java 17+.

Importing this module starts nothing and reads no environment.

Usage::

    python -m infra.local_smsc fetch --dir var/test-smsc
    python -m infra.local_smsc start --dir var/test-smsc --port 28056
    python -m infra.local_smsc stop --dir var/test-smsc

``start`` prints the address alone on stdout (``127.0.0.1:<port>``). Everything lives in
``<dir>``: ``lib/`` (the jars, fetched once with a generated ``pom.xml``), ``smsc.log`` (the
simulator's stdout and stderr, appended to by every start) and ``smsc.pid``.

What the simulator does:

- It accepts only transceiver binds with the configured system id and password.
- It answers every ``submit_sm`` with a random hexadecimal ``message_id``; when
  ``registered_delivery & 3`` is 1 or 2 it sends, one second later and on that same session
  only, a receipt ``deliver_sm`` (``esm_class`` 0x04, no TLVs) whose ``id:`` is that number in
  decimal. A receipt due on a closed session is dropped; none is ever sent twice.
- It serves one connection at a time until bound: a connection that does not bind holds the
  others back for 30 s. Right after each bind it sends a ``deliver_sm`` "Hello World" and
  accepts no other connection until that is answered; a session that closes before it is sent
  closes the listener for good (the process lives on: ``start`` replaces it).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.local_kafka import HOST, copy_dependencies, ensure_installed

__all__ = ["Smsc", "fetch", "kill", "receipts_sent", "start", "stop"]

COORDINATES = ("org.jsmpp", "jsmpp-examples", "3.0.1")
MAIN_CLASS = "org.jsmpp.examples.SMPPServerSimulator"
# Marks the process as this directory's simulator, so a reused PID is never signalled.
DIR_PROPERTY = "campaigns.smsc.dir"
JVM_FLAGS = ("-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError")
RECEIPT_LINE = b"Sending delivery receipt for message id "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

_POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- Written by infra/local_smsc.py to fetch the simulator's jars; edits are lost. -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>campaigns.infra</groupId>
  <artifactId>local-smsc</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{0}</groupId>
      <artifactId>{1}</artifactId>
      <version>{2}</version>
    </dependency>
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class Smsc:
    """A running simulator: where to bind a transceiver, and with which credentials."""

    host: str
    port: int
    system_id: str
    password: str
    pid: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _say(message: str) -> None:
    print(f"local_smsc: {message}", file=sys.stderr, flush=True)


def _log(base_dir: Path) -> Path:
    return base_dir / "smsc.log"


def _pid_file(base_dir: Path) -> Path:
    return base_dir / "smsc.pid"


def _tail(path: Path, since: int = 0, lines: int = 30) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
    except OSError:
        return f"({path} is missing)"
    return "\n".join(text.strip().splitlines()[-lines:]) or f"({path} is empty)"


@contextlib.contextmanager
def _locked(base_dir: Path) -> Iterator[None]:
    """Serialise start, stop and fetch on one directory."""
    base_dir.mkdir(parents=True, exist_ok=True)
    with (base_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- jars


def _fetch_jars(mvn: str, base_dir: Path) -> Path:
    """Copy the simulator's jars into ``<dir>/lib`` unless a complete copy is there."""
    lib, marker = base_dir / "lib", base_dir / "lib" / ".fetched"
    wanted = ":".join(COORDINATES)
    with contextlib.suppress(OSError):
        if marker.read_text().strip() == wanted:
            return lib
    if lib.exists():
        shutil.rmtree(lib)  # two versions of a jar must never share the classpath
    pom = base_dir / "pom.xml"
    pom.write_text(_POM.format(*COORDINATES))
    _say(f"fetching {wanted} into {lib} (Maven caches it in ~/.m2)")
    argv, result = copy_dependencies(mvn, pom, f"-DoutputDirectory={lib}")
    if result.returncode != 0 or not (lib / f"{COORDINATES[1]}-{COORDINATES[2]}.jar").is_file():
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise RuntimeError(
            f"fetching {wanted} with mvn failed (exit {result.returncode}):\n{output}\n"
            f"command: {' '.join(argv)}"
        )
    marker.write_text(wanted + "\n")
    return lib


def fetch(base_dir: Path) -> None:
    """Make sure Java and Maven are there and the jars are in ``<dir>/lib``; raise
    RuntimeError otherwise."""
    base_dir = base_dir.absolute()
    _, mvn = ensure_installed()
    with _locked(base_dir):
        _fetch_jars(mvn, base_dir)


# --------------------------------------------------------------------------- process


def _cmdline(pid: int) -> list[str] | None:
    """The argv of ``pid`` if it is alive (not a zombie), else None."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return None if state in ("Z", "X") else raw.decode(errors="replace").split("\0")[:-1]


def _running(base_dir: Path) -> tuple[int, list[str]] | None:
    """The PID and argv of the simulator started from ``base_dir``, if it is alive."""
    try:
        pid = int(_pid_file(base_dir).read_text())
    except (OSError, ValueError):
        return None
    argv = _cmdline(pid)
    if argv is None or MAIN_CLASS not in argv or f"-D{DIR_PROPERTY}={base_dir}" not in argv:
        return None
    return pid, argv


def _listening(port: int) -> bool:
    """True if a socket listens on ``port`` (read from /proc: connecting would hold the
    simulator's accept loop for 30 s)."""
    suffix = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in rows:
                fields = row.split()
                if fields[1].endswith(suffix) and fields[3] == "0A":
                    return True
    return False


def _argv(java: str, base_dir: Path, port: int, system_id: str, password: str) -> list[str]:
    return [
        java,
        *JVM_FLAGS,
        f"-D{DIR_PROPERTY}={base_dir}",
        f"-Djsmpp.simulator.port={port}",
        f"-Djsmpp.client.systemId={system_id}",
        f"-Djsmpp.client.password={password}",
        "-cp",
        f"{base_dir / 'lib'}/*",
        MAIN_CLASS,
    ]


def _port_of(argv: Sequence[str]) -> int | None:
    for arg in argv:
        if arg.startswith("-Djsmpp.simulator.port="):
            return int(arg.partition("=")[2])
    return None


def _end(base_dir: Path, pid: int, argv: Sequence[str], sig: signal.Signals) -> None:
    """Send ``sig`` (SIGKILL after 10 s) and wait until the process and its listener are gone."""
    for current in (sig, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, current)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _cmdline(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if _cmdline(pid) is None:
            break
    else:
        raise RuntimeError(f"the simulator in {base_dir} (pid {pid}) survived SIGKILL")
    _pid_file(base_dir).unlink(missing_ok=True)
    port = _port_of(argv)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while port is not None and _listening(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_listening(base_dir: Path, pid: int, port: int, log_mark: int) -> None:
    ready = f"Listening on port {port}".encode()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with _log(base_dir).open("rb") as log:
            log.seek(log_mark)
            if ready in log.read() and _listening(port):
                return
        if _cmdline(pid) is None:
            problem = "exited during startup"
            break
        if time.monotonic() >= deadline:
            problem = f"was not listening within {START_TIMEOUT_S:.0f} s"
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _pid_file(base_dir).unlink(missing_ok=True)
    raise RuntimeError(
        f"the SMSC simulator (pid {pid}) on port {port} {problem}:\n"
        f"{_tail(_log(base_dir), log_mark)}"
    )


# --------------------------------------------------------------------------- public API


def start(base_dir: Path, port: int, system_id: str = "j", password: str = "jpwd") -> Smsc:
    """Run the simulator from ``base_dir`` on 127.0.0.1:``port``; return once it listens.

    A simulator already running from ``base_dir`` with these settings and a live listener is
    reused; any other is replaced. Raises RuntimeError (with the log's tail) if it cannot start.
    """
    base_dir = base_dir.absolute()
    java, mvn = ensure_installed()
    with _locked(base_dir):
        _fetch_jars(mvn, base_dir)
        argv = _argv(java, base_dir, port, system_id, password)
        running = _running(base_dir)
        if running is not None and running[1] == argv and _listening(port):
            return Smsc(HOST, port, system_id, password, running[0])
        if running is not None:
            _end(base_dir, *running, signal.SIGTERM)
        if _listening(port):
            raise RuntimeError(f"port {port} is taken by another process; choose another one")
        log = _log(base_dir)
        log_mark = log.stat().st_size if log.exists() else 0
        with log.open("ab") as output:
            # Its own session: the simulator outlives the caller and ignores Ctrl-C.
            process = subprocess.Popen(
                argv,
                cwd=base_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _pid_file(base_dir).write_text(f"{process.pid}\n")
        _wait_listening(base_dir, process.pid, port, log_mark)
    return Smsc(HOST, port, system_id, password, process.pid)


def stop(base_dir: Path) -> None:
    """Stop the simulator started from ``base_dir``: SIGTERM, SIGKILL after 10 s. Idempotent."""
    base_dir = base_dir.absolute()
    if not base_dir.is_dir():
        return
    with _locked(base_dir):
        running = _running(base_dir)
        if running is not None:
            _end(base_dir, *running, signal.SIGTERM)
        _pid_file(base_dir).unlink(missing_ok=True)


def kill(base_dir: Path) -> None:
    """SIGKILL the simulator started from ``base_dir``, as a crash would; return once it is
    gone. Raises RuntimeError if it is not running."""
    base_dir = base_dir.absolute()
    with _locked(base_dir):
        running = _running(base_dir)
        if running is None:
            raise RuntimeError(f"no SMSC simulator is running from {base_dir}")
        _end(base_dir, *running, signal.SIGKILL)


def freeze(base_dir: Path) -> None:
    """SIGSTOP the simulator started from ``base_dir``: it reads and answers nothing, as a
    hung SMSC, while its connections stay open. Raises RuntimeError if it is not running."""
    base_dir = base_dir.absolute()
    with _locked(base_dir):
        running = _running(base_dir)
        if running is None:
            raise RuntimeError(f"no SMSC simulator is running from {base_dir}")
        os.kill(running[0], signal.SIGSTOP)


def receipts_sent(base_dir: Path) -> int:
    """How many delivery receipts the simulators run from ``base_dir`` have sent and had
    acknowledged (with status 0), counted from ``smsc.log`` over every start."""
    try:
        return _log(base_dir.absolute()).read_bytes().count(RECEIPT_LINE)
    except FileNotFoundError:
        return 0


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_smsc",
        description="Run jsmpp's SMPP server simulator as a throwaway SMSC.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("fetch", "fetch the simulator's jars (fails if Java or Maven is missing)"),
        ("start", "start (or reuse) the simulator; print its address"),
        ("stop", "stop the simulator if it is running"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--dir", required=True, type=Path, help="simulator directory")
        if name == "start":
            command.add_argument("--port", required=True, type=int, help="port on 127.0.0.1")
            command.add_argument("--system-id", default="j", help="accepted system_id")
            command.add_argument("--password", default="jpwd", help="accepted password")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch(args.dir)
        elif args.command == "start":
            print(start(args.dir, args.port, args.system_id, args.password).address, flush=True)
        else:
            stop(args.dir)
    except RuntimeError as exc:
        print(f"local_smsc: error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
