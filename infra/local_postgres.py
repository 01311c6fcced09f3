"""A throwaway local PostgreSQL cluster for tests, benchmarks and ``stack up``.

Standard library only. Importing this module starts nothing and reads no environment.

Usage::

    python -m infra.local_postgres start --dir var/test-postgres --port 25432
    python -m infra.local_postgres restart --dir var/test-postgres [--mode fast]
    python -m infra.local_postgres stop --dir var/test-postgres

``start`` prints progress on stderr and the database URL alone on the last line of stdout::

    postgresql://campaigns:campaigns@127.0.0.1:<port>/campaigns

Layout
------
Everything lives in ``<base_dir>/cluster``::

    <base_dir>/.lock                  flock taken by start/stop (owned by the caller)
    <base_dir>/cluster/               owned by the server user
    <base_dir>/cluster/data/          PGDATA
    <base_dir>/cluster/socket/        unix socket directory
    <base_dir>/cluster/server.log     server log
    <base_dir>/cluster/.initialized   written once initdb and configuration succeeded

PostgreSQL refuses to run as root. When the caller is root, every server tool (initdb, pg_ctl,
pg_isready, psql) runs as the ``postgres`` OS user and ``<base_dir>/cluster`` is chowned to it;
otherwise they run as the calling user. The cluster always lives inside ``base_dir``, never in
a folder another cluster could share. The server user must be able to enter every folder on
the way: folders from ``open_from`` (default ``base_dir``) down that it cannot enter (a
``mktemp -d`` folder is 0700) are given traverse permission for others (``o+x``: enter, not
list); a parent above them that it cannot enter makes ``start`` refuse, naming the folder,
unless asked to keep the cluster elsewhere (``elsewhere_ok``, as the command line does): then
it lives in ``<tmp>/campaigns-postgres-<digest of base_dir>``, of that folder alone, and
``<base_dir>/cluster`` is a symlink to it. Where the unix socket's path would exceed the
kernel's limit, the server listens on TCP only.

``start`` is idempotent: if the cluster in ``base_dir`` is already running on ``port`` it is
reused; the role and database are created only when absent. A cluster directory left behind by
an interrupted ``initdb`` or by another PostgreSQL major version is thrown away and recreated
(the cluster is disposable by design). If ``port`` is held by anything other than this cluster,
``start`` fails with a clear message. ``restart`` stops the running server (``-m fast`` by
default: open connections are cut, the data is checkpointed) and starts it again on its port.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["database_url", "ensure_installed", "find_bin_dir", "restart", "start", "stop"]

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
DB_NAME = "campaigns"
DB_USER = "campaigns"
DB_PASSWORD = "campaigns"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60
# sun_path is 108 bytes on Linux including the terminating NUL.
MAX_SOCKET_PATH = 107
MARKER = ".initialized"
SHUTDOWN_MODES = ("smart", "fast", "immediate")

# Appended to postgresql.conf after initdb. The durability settings below make the server
# faster and are only acceptable because this cluster is throwaway test/benchmark data: a crash
# can corrupt it. Never copy them to a real deployment.
_CONF_TEMPLATE = """
# --- campaigns throwaway cluster (written by infra/local_postgres.py) ---
listen_addresses = '{host}'
unix_socket_directories = '{socket_dirs}'
max_connections = 200
# Test-only speed settings: UNSAFE for data anyone cares about.
fsync = off
synchronous_commit = off
full_page_writes = off
"""


@dataclass(frozen=True)
class _Layout:
    base_dir: Path
    home: Path  # resolved <base_dir>/cluster

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "socket"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def marker(self) -> Path:
        return self.home / MARKER


@dataclass(frozen=True)
class _Identity:
    """Who the server tools run as: None fields mean "the calling user"."""

    uid: int | None
    gid: int | None
    name: str


def _say(message: str) -> None:
    print(f"local_postgres: {message}", file=sys.stderr, flush=True)


def database_url(port: int) -> str:
    return f"postgresql://{DB_USER}:{DB_PASSWORD}@{HOST}:{port}/{DB_NAME}"


# --------------------------------------------------------------------------- installation


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (-1,)


def find_bin_dir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<ver>/bin`` that contains ``pg_ctl`` and ``initdb``."""
    if not PG_ROOT.is_dir():
        return None
    candidates = [
        version_dir / "bin"
        for version_dir in PG_ROOT.iterdir()
        if (version_dir / "bin" / "pg_ctl").is_file() and (version_dir / "bin" / "initdb").is_file()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda b: _version_key(b.parent))


def ensure_installed() -> Path:
    """Return the server bin dir, installing the Debian ``postgresql`` package if needed."""
    found = find_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            f"PostgreSQL server binaries not found under {PG_ROOT}/*/bin and not running as "
            "root, so they cannot be installed automatically; run "
            "`sudo apt-get install -y postgresql` and retry"
        )
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise RuntimeError(
            f"PostgreSQL server binaries not found under {PG_ROOT}/*/bin and apt-get is not "
            "available to install them; install PostgreSQL server (pg_ctl, initdb) manually"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = [apt_get, "install", "-y", "-q", "postgresql"]
    _say("PostgreSQL server not found; installing it with apt-get (one-time)")
    first = subprocess.run(
        install, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if first.returncode != 0:
        # Fresh images ship without package lists; refresh them once and retry.
        update = subprocess.run(
            [apt_get, "update", "-q"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if update.returncode != 0:
            raise RuntimeError(
                "`apt-get update` failed while installing PostgreSQL "
                f"(exit {update.returncode}):\n{_tail_text(update.stdout + update.stderr)}"
            )
        second = subprocess.run(
            install,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if second.returncode != 0:
            raise RuntimeError(
                "`apt-get install -y postgresql` failed "
                f"(exit {second.returncode}):\n{_tail_text(second.stdout + second.stderr)}"
            )
    found = find_bin_dir()
    if found is None:
        raise RuntimeError(
            "`apt-get install -y postgresql` succeeded but no directory "
            f"{PG_ROOT}/<version>/bin with pg_ctl and initdb appeared"
        )
    _say(f"installed PostgreSQL server in {found}")
    return found


# --------------------------------------------------------------------------- process helpers


def _identity() -> _Identity:
    if os.geteuid() != 0:
        return _Identity(uid=None, gid=None, name=pwd.getpwuid(os.geteuid()).pw_name)
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root but the OS user {SERVER_USER!r} does not exist; PostgreSQL "
            "refuses to run as root (installing the Debian postgresql package creates it)"
        ) from None
    return _Identity(uid=entry.pw_uid, gid=entry.pw_gid, name=SERVER_USER)


def _tool_env(home: Path) -> dict[str, str]:
    # A clean environment: PG* variables of the caller (PGHOST, PGPORT, PGDATA, ...) must not
    # redirect the tools, and $HOME may not be readable by the server user.
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
    }


def _run(
    who: _Identity,
    argv: Sequence[str | Path],
    home: Path,
    *,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a server tool as the server user; output is captured (never inherited)."""
    cwd = home if home.is_dir() else Path("/")
    try:
        return subprocess.run(
            [str(a) for a in argv],
            user=who.uid,
            group=who.gid,
            extra_groups=[] if who.uid is not None else None,
            cwd=cwd,
            env=_tool_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{Path(str(argv[0])).name} timed out after {timeout} s") from exc


def _tail_text(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _log_size(layout: _Layout) -> int:
    try:
        return layout.log.stat().st_size
    except OSError:
        return 0


def _log_tail(layout: _Layout, since: int = 0, lines: int = 40) -> str:
    """The last ``lines`` lines written to the server log after byte offset ``since``."""
    try:
        with layout.log.open("rb") as handle:
            handle.seek(since)
            content = handle.read().decode(errors="replace")
    except OSError as exc:
        return f"(server log {layout.log} unreadable: {exc})"
    tail = _tail_text(content, lines)
    return f"--- last lines of {layout.log} ---\n{tail or '(empty)'}"


def _fail(message: str, result: subprocess.CompletedProcess[str] | None = None) -> RuntimeError:
    if result is not None:
        output = _tail_text(result.stdout + result.stderr)
        message = f"{message} (exit {result.returncode})" + (f":\n{output}" if output else "")
    return RuntimeError(message)


# --------------------------------------------------------------------------- layout


@contextlib.contextmanager
def _locked(base_dir: Path) -> Iterator[None]:
    """Serialise start/stop on one base_dir (e.g. two test runs started at once)."""
    base_dir.mkdir(parents=True, exist_ok=True)
    with (base_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _existing_layout(base_dir: Path) -> _Layout | None:
    link = base_dir / "cluster"
    if not link.is_dir():  # follows symlinks; a dangling symlink counts as absent
        return None
    return _Layout(base_dir=base_dir, home=link.resolve())


def _can_use(who: _Identity, home: Path) -> bool:
    probe = _run(
        who,
        ["sh", "-c", 'test -d "$1" && test -w "$1" && test -x "$1"', "sh", home],
        Path("/"),
        timeout=30,
    )
    return probe.returncode == 0


def _socket_fits(home: Path, port: int) -> bool:
    return len(str(home / "socket" / f".s.PGSQL.{port}").encode()) <= MAX_SOCKET_PATH


def _make_owned_dir(who: _Identity, path: Path) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    if path.is_symlink():  # never chown through a symlink
        raise RuntimeError(f"{path} is a symlink; remove it and retry")
    if who.uid is not None and who.gid is not None:
        os.chown(path, who.uid, who.gid, follow_symlinks=False)
    info = path.stat()
    expected = who.uid if who.uid is not None else os.geteuid()
    if info.st_uid != expected:
        raise RuntimeError(f"{path} exists but is not owned by {who.name!r}; remove it and retry")


def _can_enter(who: _Identity, folder: Path) -> bool:
    return _run(who, ["test", "-x", folder], Path("/"), timeout=30).returncode == 0


def _open_the_way(who: _Identity, base_dir: Path, open_from: Path) -> None:
    """Lets the server user enter every folder down to ``base_dir``: those from ``open_from``
    down are given ``o+x``; any other it cannot enter is refused, by name."""
    for folder in [*reversed(base_dir.parents), base_dir]:
        if _can_enter(who, folder):
            continue
        info = folder.stat()
        mine = info.st_uid == os.geteuid()
        if not (mine and (folder == open_from or open_from in folder.parents)):
            raise RuntimeError(
                f"PostgreSQL's user {who.name!r} cannot enter {folder} (mode "
                f"{info.st_mode & 0o777:04o}, owner uid {info.st_uid}) on the way to "
                f"{base_dir}; choose a folder it can reach, or run `chmod o+x {folder}`"
            )
        _say(f"letting {who.name!r} enter {folder} (o+x: enter, not list)")
        folder.chmod(info.st_mode & 0o7777 | 0o001)


def _prepare_layout(
    who: _Identity, base_dir: Path, port: int, open_from: Path, elsewhere_ok: bool
) -> _Layout:
    link = base_dir / "cluster"
    existing = _existing_layout(base_dir)
    if existing is not None and link.is_symlink():
        _say(f"the cluster of {base_dir} lives in {existing.home}; remove {link} to start afresh")
    if existing is not None:
        if existing.home == link.absolute():
            _open_the_way(who, base_dir, open_from)
            if who.uid is not None and who.gid is not None:
                os.chown(existing.home, who.uid, who.gid)
        if _can_use(who, existing.home):
            return existing
        raise RuntimeError(
            f"{existing.home} exists but {who.name!r} cannot write it; remove {link} and retry"
        )
    if link.is_symlink():  # dangling: its /tmp target was cleaned up; recreate it below
        link.unlink()
    home = link.absolute()
    try:
        _open_the_way(who, base_dir, open_from)
    except RuntimeError as refused:
        if not elsewhere_ok:
            raise
        home = _elsewhere(base_dir)
        _say(f"{refused}; the cluster of {base_dir} lives in {home} instead ({link} points there)")
        _make_owned_dir(who, home)
        link.symlink_to(home)
    else:
        _make_owned_dir(who, home)
    if not _can_use(who, home):
        raise RuntimeError(f"{who.name!r} cannot write {home}")
    return _Layout(base_dir=base_dir, home=home)


def _elsewhere(base_dir: Path) -> Path:
    """A folder of the temporary directory for the cluster of ``base_dir`` alone (named by
    a digest of its path), for a ``base_dir`` the server user cannot reach."""
    digest = hashlib.sha256(str(base_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"campaigns-postgres-{digest}"


# --------------------------------------------------------------------------- server state


def _bin_major(bin_dir: Path) -> str:
    return bin_dir.parent.name


def _data_major(layout: _Layout) -> str | None:
    try:
        return (layout.data / "PG_VERSION").read_text().strip()
    except OSError:
        return None


def _bin_for(layout: _Layout) -> Path | None:
    """The bin dir matching the data directory's major version, else the newest one."""
    major = _data_major(layout)
    if major is not None:
        matching = PG_ROOT / major / "bin"
        if (matching / "pg_ctl").is_file():
            return matching
    return find_bin_dir()


def _postmaster_pid(layout: _Layout) -> int | None:
    try:
        return int((layout.data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _is_running(layout: _Layout) -> bool:
    """True if postmaster.pid names a live (non-zombie) postgres process.

    pg_ctl status only does kill(pid, 0), which also succeeds for a zombie (a killed postmaster
    whose parent has not reaped it yet) and for an unrelated process that reused the pid.
    """
    pid = _postmaster_pid(layout)
    if pid is None:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and comm.startswith("postgres")


def _remove_stale_lock_files(layout: _Layout) -> None:
    """Remove lock files left by a postmaster that died (e.g. killed) while not running.

    The server refuses to start while the pid in them is still a zombie. The socket directory
    belongs to this cluster alone, so when it is not running everything in it is stale.
    """
    if _is_running(layout):
        return
    stale = [layout.data / "postmaster.pid"]
    if layout.socket_dir.is_dir():
        stale.extend(layout.socket_dir.glob(".s.PGSQL.*"))
    for path in stale:
        if path.exists() or path.is_symlink():
            _say(f"removing stale {path}")
            path.unlink(missing_ok=True)


def _running_port(layout: _Layout) -> int | None:
    try:
        lines = (layout.data / "postmaster.pid").read_text().splitlines()
        return int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # PostgreSQL itself sets SO_REUSEADDR, so TIME_WAIT leftovers must not count as "taken";
        # an active listener on the port (on 127.0.0.1 or 0.0.0.0) still makes bind() fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _initdb(who: _Identity, bin_dir: Path, layout: _Layout, port: int) -> None:
    if layout.data.exists():
        _say(f"discarding incomplete or incompatible cluster in {layout.data}")
        shutil.rmtree(layout.data)
    layout.marker.unlink(missing_ok=True)
    _say(f"initdb {layout.data} (PostgreSQL {_bin_major(bin_dir)})")
    result = _run(
        who,
        [
            bin_dir / "initdb",
            "-D",
            layout.data,
            "-U",
            "postgres",
            "--auth=trust",  # local socket, 127.0.0.1/32 and ::1/128: trust
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",  # throwaway cluster: skip the final fsync
        ],
        layout.home,
    )
    if result.returncode != 0:
        raise _fail(f"initdb failed for {layout.data}", result)
    _make_owned_dir(who, layout.socket_dir)
    # A socket path over the kernel's limit: TCP only (every tool here connects by TCP).
    fits = _socket_fits(layout.home, port)
    conf = _CONF_TEMPLATE.format(host=HOST, socket_dirs=layout.socket_dir if fits else "")
    with (layout.data / "postgresql.conf").open("a") as handle:
        handle.write(conf)
    layout.marker.write_text("initdb completed\n")


def _start_server(who: _Identity, bin_dir: Path, layout: _Layout, port: int) -> int:
    """Start the server; return the server log size before the start (for error reports)."""
    _remove_stale_lock_files(layout)
    log_offset = _log_size(layout)
    _say(f"starting PostgreSQL on {HOST}:{port} (log: {layout.log})")
    result = _run(
        who,
        [
            bin_dir / "pg_ctl",
            "start",
            "-D",
            layout.data,
            "-l",
            layout.log,
            "-o",
            f"-p {port}",
            "-w",
            "-t",
            str(int(START_TIMEOUT_S)),
        ],
        layout.home,
        timeout=START_TIMEOUT_S + 15,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"pg_ctl start failed (exit {result.returncode}) for {layout.data} on port {port}:\n"
            f"{_tail_text(result.stdout + result.stderr)}\n{_log_tail(layout, log_offset)}"
        )
    return log_offset


def _wait_ready(who: _Identity, bin_dir: Path, layout: _Layout, port: int, log_offset: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while True:
        probe = _run(
            who,
            [
                bin_dir / "pg_isready",
                "-h",
                HOST,
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-t",
                "2",
            ],
            layout.home,
            timeout=10,
        )
        if probe.returncode == 0:
            return
        last = (probe.stdout + probe.stderr).strip()
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"PostgreSQL did not accept connections on {HOST}:{port} within "
                f"{START_TIMEOUT_S:.0f} s (pg_isready: {last or probe.returncode}):\n"
                f"{_log_tail(layout, log_offset)}"
            )
        time.sleep(0.2)


def _psql(
    who: _Identity, bin_dir: Path, layout: _Layout, port: int, sql: str
) -> subprocess.CompletedProcess[str]:
    return _run(
        who,
        [
            bin_dir / "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ],
        layout.home,
    )


def _ensure_database(who: _Identity, bin_dir: Path, layout: _Layout, port: int) -> None:
    role = _psql(
        who,
        bin_dir,
        layout,
        port,
        f"DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DB_USER}') THEN "
        f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'; "
        f"END IF; END $$;",
    )
    if role.returncode != 0:
        raise _fail(f"creating role {DB_USER!r} failed", role)
    exists_sql = f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"
    check = _psql(who, bin_dir, layout, port, exists_sql)
    if check.returncode != 0:
        raise _fail("querying pg_database failed", check)
    if check.stdout.strip() == "1":
        return
    _say(f"creating database {DB_NAME!r} owned by {DB_USER!r}")
    create = _psql(
        who, bin_dir, layout, port, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER} ENCODING 'UTF8'"
    )
    if create.returncode != 0:
        raise _fail(f"creating database {DB_NAME!r} failed", create)


# --------------------------------------------------------------------------- public API


def start(
    base_dir: Path, port: int, open_from: Path | None = None, *, elsewhere_ok: bool = False
) -> str:
    """Start (or reuse) the throwaway cluster in ``base_dir`` on 127.0.0.1:``port``;
    ``open_from``: the outermost folder the server user may be let into (see the module);
    ``elsewhere_ok``: where it cannot reach ``base_dir``, keep the cluster in a folder of the
    temporary directory of this ``base_dir`` alone instead of refusing.

    Returns ``postgresql://campaigns:campaigns@127.0.0.1:<port>/campaigns``.
    Raises RuntimeError with the reason (and server log tail) on any failure.
    """
    if not 1 <= port <= 65535:
        raise RuntimeError(f"invalid port {port}")
    base_dir = Path(base_dir).absolute()
    open_from = base_dir if open_from is None else Path(open_from).absolute()
    newest = ensure_installed()
    who = _identity()
    with _locked(base_dir):
        layout = _prepare_layout(who, base_dir, port, open_from, elsewhere_ok)
        bin_dir = _bin_for(layout) or newest
        if _is_running(layout):
            running_port = _running_port(layout)
            if running_port != port:
                raise RuntimeError(
                    f"the cluster in {base_dir} is already running on port {running_port}, "
                    f"not {port}; stop it first (python -m infra.local_postgres stop "
                    f"--dir {base_dir})"
                )
            _say(f"reusing the cluster already running in {layout.data} on port {port}")
            log_offset = max(0, _log_size(layout) - 4096)
        else:
            if not _port_is_free(port):
                raise RuntimeError(
                    f"port {port} on {HOST} is already in use by something other than the "
                    f"cluster in {base_dir}; stop that process or choose another port"
                )
            if not layout.marker.exists() or _data_major(layout) != _bin_major(newest):
                bin_dir = newest
                _initdb(who, bin_dir, layout, port)
            log_offset = _start_server(who, bin_dir, layout, port)
        _wait_ready(who, bin_dir, layout, port, log_offset)
        _ensure_database(who, bin_dir, layout, port)
    return database_url(port)


def stop(base_dir: Path) -> None:
    """Stop the cluster in ``base_dir`` (fast shutdown); do nothing if it is not running."""
    base_dir = Path(base_dir).absolute()
    layout = _existing_layout(base_dir)
    if layout is None or not layout.data.is_dir():
        return
    bin_dir = _bin_for(layout)
    if bin_dir is None:
        return  # no server binaries at all, so nothing of ours can be running
    who = _identity()
    with _locked(base_dir):
        if not _is_running(layout):
            return
        _say(f"stopping PostgreSQL in {layout.data}")
        result = _run(
            who,
            [
                bin_dir / "pg_ctl",
                "stop",
                "-D",
                layout.data,
                "-m",
                "fast",
                "-w",
                "-t",
                str(STOP_TIMEOUT_S),
            ],
            layout.home,
            timeout=STOP_TIMEOUT_S + 15,
        )
        if result.returncode != 0 and _is_running(layout):
            raise _fail(f"pg_ctl stop failed for {layout.data}", result)


def restart(base_dir: Path, mode: str = "fast") -> None:
    """Restart the cluster running in ``base_dir`` on its port (``pg_ctl restart -m mode``);
    return once it accepts connections again. Raises RuntimeError if it is not running."""
    if mode not in SHUTDOWN_MODES:
        raise RuntimeError(f"unknown shutdown mode {mode!r}; one of {', '.join(SHUTDOWN_MODES)}")
    base_dir = Path(base_dir).absolute()
    layout = _existing_layout(base_dir)
    bin_dir = None if layout is None else _bin_for(layout)
    if layout is None or bin_dir is None or not _is_running(layout):
        raise RuntimeError(f"no PostgreSQL is running in {base_dir}; start it first")
    who = _identity()
    with _locked(base_dir):
        port = _running_port(layout)
        if not _is_running(layout) or port is None:
            raise RuntimeError(f"no PostgreSQL is running in {base_dir}; start it first")
        log_offset = _log_size(layout)
        _say(f"restarting PostgreSQL in {layout.data} on port {port} (shutdown mode {mode})")
        result = _run(
            who,
            [
                bin_dir / "pg_ctl",
                "restart",
                "-D",
                layout.data,
                "-m",
                mode,
                # The server's output must go to the log: on pg_ctl's captured stdout it would
                # hold the pipe open for as long as the server runs.
                "-l",
                layout.log,
                "-o",
                f"-p {port}",
                "-w",
                "-t",
                str(STOP_TIMEOUT_S),
            ],
            layout.home,
            timeout=2 * STOP_TIMEOUT_S + 15,  # -t bounds the shutdown and the start each
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl restart failed (exit {result.returncode}) for {layout.data}:\n"
                f"{_tail_text(result.stdout + result.stderr)}\n{_log_tail(layout, log_offset)}"
            )
        _wait_ready(who, bin_dir, layout, port, log_offset)


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_postgres",
        description="Run a throwaway local PostgreSQL cluster (tests, benchmarks, stack up).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start (or reuse) the cluster; print its URL")
    start_cmd.add_argument("--dir", required=True, type=Path, help="cluster base directory")
    start_cmd.add_argument("--port", required=True, type=int, help="TCP port on 127.0.0.1")
    restart_cmd = commands.add_parser(
        "restart", help="restart the running cluster on its port; wait until it accepts connections"
    )
    restart_cmd.add_argument("--dir", required=True, type=Path, help="cluster base directory")
    restart_cmd.add_argument(
        "--mode", choices=SHUTDOWN_MODES, default="fast", help="pg_ctl shutdown mode (fast)"
    )
    stop_cmd = commands.add_parser("stop", help="stop the cluster if it is running")
    stop_cmd.add_argument("--dir", required=True, type=Path, help="cluster base directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            # By hand and for the tests: a folder the server cannot reach is worked around.
            print(start(args.dir, args.port, elsewhere_ok=True), flush=True)
        elif args.command == "restart":
            restart(args.dir, args.mode)
        else:
            stop(args.dir)
    except RuntimeError as exc:
        print(f"local_postgres: error: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
