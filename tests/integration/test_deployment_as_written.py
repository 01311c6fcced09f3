"""The deployment as written in infra/deploy, run without containers: the project installed
the way the image installs it (read-only, owned by root), every platform role the compose file
starts run as the image's unprivileged user, from the image's working directory, with exactly
the environment the compose file gives it, against the real PostgreSQL and Kafka. Each role
comes up healthy, a campaign goes from Draft to Finished through the gateways, and nothing is
written outside what the compose file mounts into the role.

The roles, their commands, replicas, environment, secrets, mounts, health checks and limits
are read from compose.yaml, and the install, user, working directory and environment from the
Dockerfile, so that the files and this test cannot drift apart. The only changes are where the
compose network's hosts are (this machine's PostgreSQL and Kafka, in a fresh schema and topic
prefix, one broker), each gateway's address and port (they share one host here), and each
mount, a folder of this test owned by the role's user (a mount over /tmp is TMPDIR here). The
dependencies are this test environment's; the project itself is built and installed afresh.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from benchmarks._auth import TOKEN
from benchmarks._topology import Api, Role, campaign_body, contact_csv, prepare_domains

from .conftest import drop_schema, postgres_url
from .test_kafka_pipeline import kafka_bootstrap

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "infra" / "deploy" / "compose.yaml"
# The variables that hold secrets: never written into the image or the compose file.
SECRETS = ("CAMPAIGNS_DATABASE_URL", "CAMPAIGNS_BOOTSTRAP_TOKEN", "CAMPAIGNS_KAFKA_SASL_PASSWORD")
# What each command prints once it runs: how the roles without HTTP show they are up.
RUNNING = {
    "serve": "dashboard: ",
    "relay": "relay: ",
    "project": "projector: ",
    "dispatch": "dispatcher: sending as",
}
# Where an unprivileged user may write on any host, mounted or not.
WORLD_WRITABLE = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
PIP_INSTALL = ("-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps")
PIP_INSTALL += ("--no-index", "--no-build-isolation")  # offline: the test's own setuptools
STOP_GRACE = 10.0  # seconds `docker stop` waits before SIGKILL
READY_SECONDS = 90.0


@dataclass(frozen=True)
class Image:
    """What the Dockerfile builds: the files it copies, its environment and how it runs."""

    copies: tuple[tuple[tuple[str, ...], str], ...]  # sources (build context), destination
    env: dict[str, str]
    workdir: str
    user: str
    entrypoint: tuple[str, ...]


def read_image(dockerfile: Path) -> Image:
    copies: list[tuple[tuple[str, ...], str]] = []
    env: dict[str, str] = {}
    workdir, user, entrypoint = "/", "root", ("",)
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, rest = line.strip().partition(" ")
        words = [w for w in shlex.split(rest, comments=True) if not w.startswith("--")]
        match instruction.upper():
            case "COPY":
                copies.append((tuple(words[:-1]), words[-1]))
            case "ENV":
                pairs = [w.partition("=") for w in words]
                env.update({key: value for key, _, value in pairs})
            case "WORKDIR":
                workdir = str(Path(workdir) / words[0])
            case "USER":
                user = words[0]
            case "ENTRYPOINT":
                entrypoint = tuple(yaml.safe_load(rest))
    return Image(tuple(copies), env, workdir, user, entrypoint)


def interpolate(value: Any, shell: Mapping[str, str]) -> str:
    """A compose value with ${VAR}, ${VAR:-default} and ${VAR:?message} put in, as compose
    does from the operator's shell or .env file."""

    def one(found: re.Match[str]) -> str:
        name, how, other = found.group(1), found.group(2), found.group(3) or ""
        if shell.get(name):
            return shell[name]
        if how == ":?":
            raise AssertionError(f"compose refuses to start: {name} unset ({other})")
        return other if how == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def container_path(target: str) -> str:
    return target if target.startswith("/") else f"/run/secrets/{target}"


@dataclass
class Service:
    """One platform service of the compose file, its values interpolated."""

    name: str
    command: list[str]
    replicas: int
    env: dict[str, str]
    mounts: list[str]  # where volumes and tmpfs are mounted in the container
    secrets: dict[str, str]  # secret name: where the container finds its file
    healthcheck: list[str] | None
    spec: dict[str, Any] = field(repr=False)


def read_services(compose: dict[str, Any], shell: Mapping[str, str]) -> list[Service]:
    """The services built from the platform's image: the platform's roles."""
    found = []
    for name, spec in compose["services"].items():
        if "build" not in spec:
            continue
        volumes = [v if isinstance(v, str) else v["target"] for v in spec.get("volumes", [])]
        tmpfs = spec.get("tmpfs", [])
        mounts = [v.split(":")[1] if ":" in v else v for v in volumes]
        mounts += [tmpfs] if isinstance(tmpfs, str) else list(tmpfs)
        secrets = {}
        for each in spec.get("secrets", []):
            source = each if isinstance(each, str) else each["source"]
            target = source if isinstance(each, str) else each.get("target", source)
            secrets[source] = container_path(target)
        check = spec.get("healthcheck", {}).get("test")
        found.append(
            Service(
                name,
                [str(word) for word in spec.get("command", [])],
                int(spec.get("deploy", {}).get("replicas", 1)),
                {key: interpolate(value, shell) for key, value in spec["environment"].items()},
                mounts,
                secrets,
                [str(word) for word in check] if check else None,
                spec,
            )
        )
    return found


def mebibytes(size: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)\s*([kmg]?)i?b?", str(size).lower()).groups()  # type: ignore[union-attr]
    return float(number) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024}[unit]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reachable_by_others(path: Path) -> bool:
    """Whether a user of no group of ours can get to the path (each folder above it open)."""
    return all(os.stat(each).st_mode & stat.S_IXOTH for each in [*path.parents, path])


def interpreter_for_others() -> str:
    """A Python of this version that the unprivileged user can run."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        Path(getattr(sys, "_base_executable", sys.executable)).resolve(),
        Path("/usr/local/bin") / version,
        Path("/usr/bin") / version,
    ]
    for candidate in candidates:
        if candidate.is_file() and reachable_by_others(candidate):
            return str(candidate)
    raise AssertionError(f"no {version} that an unprivileged user can run: {candidates}")


def image_user(name: str) -> pwd.struct_passwd:
    """The Dockerfile's user on this host, made (as a system user) when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )
        return pwd.getpwnam(name)


@dataclass(frozen=True)
class Install:
    """The project as the image has it: its working directory and the program's folder."""

    workdir: Path
    bin: Path


def install_like_the_image(image: Image, context: Path, into: Path) -> Install:
    """The image's COPY lines into a working directory, then `pip install .` there into a
    virtual environment of its own; the dependencies are this test environment's, reached
    through a .pth file (copied when the user could not read them where they are), so that
    the install needs no network. Everything is owned by root and read-only afterwards."""
    workdir = into / image.workdir.lstrip("/")
    workdir.mkdir(parents=True)
    for sources, destination in image.copies:
        target = workdir / destination
        for source in sources:
            origin = context / source
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
    venv = into / "venv"
    subprocess.run([interpreter_for_others(), "-m", "venv", "--without-pip", venv], check=True)
    site = Path(sysconfig.get_paths()["purelib"])
    if not reachable_by_others(site):
        copied = into / "dependencies"
        shutil.copytree(site, copied, symlinks=True)
        site = copied
    target_site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (target_site / "site-packages" / "dependencies.pth").write_text(f"{site}\n")
    subprocess.run(
        [venv / "bin" / "python", *PIP_INSTALL, "."],
        cwd=workdir,
        check=True,
    )
    for folder, dirs, files in os.walk(into):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(
                    path.stat().st_mode & ~0o222 | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                )
    into.chmod(0o555)
    return Install(workdir, venv / "bin")


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folder with its size and modification time."""
    found = {}
    for path in folder.rglob("*"):
        status = path.lstat()
        found[str(path)] = (status.st_size, status.st_mtime_ns)
    return found


def strays(uid: int, since: float, allowed: Path) -> list[str]:
    """Files the user made after `since` where anyone may write, outside `allowed`."""
    found = []
    for place in WORLD_WRITABLE:
        if not place.is_dir():
            continue
        for entry in place.iterdir():
            try:
                status = entry.lstat()
            except FileNotFoundError:
                continue
            if entry == allowed or allowed in entry.parents:
                continue
            if status.st_uid == uid and status.st_mtime >= since:
                found.append(str(entry))
    return found


@dataclass
class Running:
    """One replica of a service, running as the image's user."""

    service: Service
    role: Role
    mounts: dict[str, Path]  # container path: this host's folder


@dataclass
class Deployment:
    """The platform's roles of the compose file, as processes of the image's user."""

    image: Image
    install: Install
    user: pwd.struct_passwd
    runtime: Path  # the mounts, secret files and logs
    here: dict[str, str]  # what the roles reach here in place of the compose network's hosts
    added: dict[str, str]  # the fresh schema and topic prefix
    started: float = field(default_factory=time.time)
    running: list[Running] = field(default_factory=list)

    def environment(self, service: Service, mounts: dict[str, str]) -> dict[str, str]:
        """The container's environment: the image's, then the service's, with the hosts,
        secret files and mounts put where they are here."""
        env = {**self.image.env, **service.env}
        for key, value in env.items():
            if key in self.here:
                env[key] = self.here[key]
            for target, folder in mounts.items():
                if value == target or value.startswith(f"{target}/"):
                    env[key] = folder + value[len(target) :]
        env = {
            "PATH": f"{self.install.bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": self.user.pw_dir,
            "LANG": "C.UTF-8",
            **env,
        }
        if "/tmp" in mounts:  # a mount over /tmp is, on a host, where TMPDIR points
            env["TMPDIR"] = mounts["/tmp"]
        return {**env, **self.added}

    def secret_files(self, service: Service) -> dict[str, str]:
        """The service's secrets as files readable by the user's group, holding what the
        variables that name them stand for here."""
        folder = self.runtime / "secrets"
        folder.mkdir(exist_ok=True)
        files = {}
        for name, target in service.secrets.items():
            path = folder / name
            named_by = [k[: -len("_FILE")] for k, v in service.env.items() if v == target]
            path.write_text(self.here.get(named_by[0], "unused") if named_by else "unused")
            os.chown(path, 0, self.user.pw_gid)
            path.chmod(0o440)
            files[target] = str(path)
        return files

    def start(self, service: Service, replica: int) -> Running:
        name = f"{service.name}-{replica}"
        mounts: dict[str, Path] = {}
        for target in service.mounts:
            folder = self.runtime / name / target.strip("/").replace("/", "_")
            folder.mkdir(parents=True)
            os.chown(folder, self.user.pw_uid, self.user.pw_gid)
            folder.chmod(0o700)
            mounts[target] = folder
        paths = {target: str(folder) for target, folder in mounts.items()}
        env = self.environment(service, {**paths, **self.secret_files(service)})
        serve = service.command[:1] == ["serve"]
        port = free_port() if serve else None
        if port is not None:
            env["CAMPAIGNS_HOST"], env["CAMPAIGNS_PORT"] = "127.0.0.1", str(port)
        program = shutil.which(self.image.entrypoint[0], path=env["PATH"])
        assert program, f"{self.image.entrypoint[0]} is not on the image's PATH"
        role = Role(name, service.command[0], env, self.runtime / f"{name}.log", port)
        with open(role.log, "wb") as log:
            role.process = subprocess.Popen(
                [program, *self.image.entrypoint[1:], *service.command],
                cwd=self.install.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user.pw_uid,
                group=self.user.pw_gid,
                extra_groups=[],
                umask=0o022,
            )
        running = Running(service, role, mounts)
        self.running.append(running)
        return running

    def wait_until_up(self) -> None:
        """Until every role has said it runs, and every gateway answers /healthz and /readyz."""
        deadline = time.monotonic() + READY_SECONDS
        waiting = list(self.running)
        while waiting:
            for each in self.running:
                assert each.role.alive, f"{each.role.name} exited:\n{each.role.tail()}"
            each = waiting[0]
            if RUNNING[each.role.command] in each.role.tail(200) and self.answers(each.role):
                waiting.pop(0)
                continue
            assert time.monotonic() < deadline, f"{each.role.name} is not up:\n{each.role.tail()}"
            time.sleep(0.2)

    @staticmethod
    def answers(role: Role) -> bool:
        if role.port is None:
            return True
        try:
            alive = httpx.get(f"{role.url}/healthz", timeout=2)
            ready = httpx.get(f"{role.url}/readyz", timeout=5)
        except httpx.HTTPError:
            return False
        return alive.status_code == 200 and ready.json().get("status") == "ready"

    def health_check(self, each: Running) -> subprocess.CompletedProcess[str]:
        """The service's own health check command, run as Docker runs it: in the container,
        as its user, with its environment."""
        assert each.service.healthcheck is not None
        kind, *argv = each.service.healthcheck
        if kind == "CMD-SHELL":
            argv = ["/bin/sh", "-c", " ".join(argv)]
        program = shutil.which(argv[0], path=each.role.env["PATH"])
        assert program, f"{argv[0]} of {each.service.name}'s health check is not on PATH"
        return subprocess.run(
            [program, *argv[1:]],
            cwd=self.install.workdir,
            env=each.role.env,
            user=self.user.pw_uid,
            group=self.user.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to each, as `docker stop` sends it; each one's exit status, or None for a
        role still running after the grace period (then killed)."""
        for each in self.running:
            if each.role.alive:
                each.role.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        statuses: dict[str, int | None] = {}
        for each in self.running:
            process = each.role.process
            assert process is not None
            try:
                statuses[each.role.name] = process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                statuses[each.role.name] = None
                process.kill()
                process.wait(10)
        return statuses


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    if os.geteuid() != 0:
        pytest.fail(
            "this test starts the roles as the image's user, so it runs as root (as CI runs "
            "./infra/test); it is never skipped",
            pytrace=False,
        )
    image, context = built_image()
    schema = f"deploy_{uuid.uuid4().hex[:10]}"
    here = {
        "CAMPAIGNS_DATABASE_URL": postgres_url(),
        "CAMPAIGNS_KAFKA": kafka_bootstrap(),
        "CAMPAIGNS_KAFKA_REPLICATION": "1",  # one broker here
        "CAMPAIGNS_BOOTSTRAP_TOKEN": TOKEN,
    }
    added = {"CAMPAIGNS_DATABASE_SCHEMA": schema, "CAMPAIGNS_KAFKA_TOPIC_PREFIX": schema}
    top = Path(tempfile.mkdtemp(prefix="campaigns-deploy-", dir="/tmp"))
    top.chmod(0o755)  # the user reaches its mounts and the install through it
    runtime = top / "runtime"
    runtime.mkdir(mode=0o755)
    made = Deployment(
        image,
        install_like_the_image(image, context, top / "image"),
        image_user(image.user),
        runtime,
        here,
        added,
    )
    try:
        yield made
    finally:
        made.stop()
        drop_schema(postgres_url(), schema)
        shutil.rmtree(top, onerror=lambda *_: None)


def compose_services() -> list[Service]:
    """The platform's services; the operator's shell and .env file give them nothing."""
    return read_services(yaml.safe_load(COMPOSE.read_text()), {})


def built_image() -> tuple[Image, Path]:
    """The image the platform's services are built from, and its build context."""
    builds = {str(service.spec["build"]) for service in compose_services()}
    assert len(builds) == 1, f"the platform's services are built differently: {builds}"
    build = compose_services()[0].spec["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    return read_image(context / build["dockerfile"]), context


def test_the_image_and_the_compose_file_hold_no_secret_and_state_how_roles_run() -> None:
    image, _context = built_image()
    services = compose_services()
    assert {tuple(s.command) for s in services} >= {("serve",), ("relay",), ("project",)}
    assert ("dispatch",) in {tuple(s.command) for s in services}
    written = [*image.env.items()]
    written += [(k, v) for s in services for k, v in s.spec["environment"].items()]
    for name, value in written:
        if name in SECRETS:
            assert str(value).startswith("${") or not value, f"{name} is written in: {value}"
    for service in services:
        assert service.spec.get("restart") in ("unless-stopped", "always", "on-failure")
        limits = service.spec.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{service.name} states no limits"
        if service.command[:1] == ["serve"]:
            assert service.healthcheck, f"{service.name} has no health check"


def test_the_roles_run_as_written_as_an_unprivileged_user_from_a_read_only_install(
    deployment: Deployment,
) -> None:
    services = compose_services()
    image_files = listing(deployment.install.workdir.parent)
    for service in services:
        for replica in range(1, service.replicas + 1):
            deployment.start(service, replica)
    assert len([r for r in deployment.running if r.role.command == "serve"]) >= 2
    deployment.wait_until_up()
    for each in deployment.running:
        if each.service.healthcheck:
            checked = deployment.health_check(each)
            assert checked.returncode == 0, f"{each.role.name}: {checked.stdout}{checked.stderr}"

    gateways = [r.role for r in deployment.running if r.role.command == "serve"]
    campaign_id = run_a_campaign(gateways)
    final = Api(gateways[1:2]).get(f"/api/campaigns/{campaign_id}")
    assert final["status"] == "Finished" and final["recipients"]["sent"] == 20, final

    for each in deployment.running:
        assert each.role.alive, f"{each.role.name} exited:\n{each.role.tail()}"
        limit = each.service.spec["deploy"]["resources"]["limits"]["memory"]
        peak = peak_memory(each.role.pid)
        assert peak < mebibytes(limit), f"{each.role.name} peaked at {peak:.0f} MiB ({limit})"
    statuses = deployment.stop()
    # uvicorn ends by raising the signal again once it has shut down: -SIGTERM is clean too.
    clean = (0, -signal.SIGTERM)
    unclean = {name: status for name, status in statuses.items() if status not in clean}
    tails = {r.role.name: r.role.tail(15) for r in deployment.running if r.role.name in unclean}
    assert not unclean, f"not stopped cleanly by SIGTERM: {unclean}\n{tails}"
    assert listing(deployment.install.workdir.parent) == image_files
    assert strays(deployment.user.pw_uid, deployment.started, deployment.runtime.parent) == []


def run_a_campaign(gateways: list[Role]) -> str:
    """A campaign made on the first gateway and launched and followed on the second, to
    Finished with every message counted; returns its id."""
    first, second = Api(gateways[:1]), Api(gateways[1:2])
    prepare_domains(first, limit=1_000_000)
    quiet = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}
    first.patch("/api/streams/demo", json=quiet)
    people = first.post(
        "/api/contact-lists?name=people",
        content=contact_csv(20),
        headers={"content-type": "text/csv"},
    )
    campaign = first.post(
        "/api/campaigns", json=campaign_body("As written", [people["id"]], "demo")
    )
    campaign_id = str(campaign["id"])
    assert campaign["status"] == "Draft"
    second.post(f"/api/campaigns/{campaign_id}/launch")
    deadline = time.monotonic() + 90
    while True:
        current = eventually_found(second, f"/api/campaigns/{campaign_id}")
        if current and current["status"] == "Finished" and current["recipients"]["sent"] == 20:
            return campaign_id
        assert time.monotonic() < deadline, current
        time.sleep(0.25)


def eventually_found(api: Api, path: str) -> dict[str, Any] | None:
    """The resource, or None while this gateway's read models have yet to show it."""
    try:
        return dict(api.get(path, retry_for=5))
    except AssertionError:
        return None


def peak_memory(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def unit_settings(unit: Path) -> dict[str, str]:
    """A systemd unit's settings (the last of each name), its Environment= pairs as
    ENV:<name>."""
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        name, equals, value = line.partition("=")
        if not equals or line.startswith("#"):
            continue
        if name == "Environment":
            found.update({f"ENV:{k}": v for k, _, v in (w.partition("=") for w in value.split())})
        else:
            found[name] = value
    return found


def test_each_role_has_a_systemd_unit_that_runs_it_as_the_compose_file_does() -> None:
    units = {
        unit.name: unit_settings(unit) for unit in (ROOT / "infra/deploy/systemd").glob("*.service")
    }
    for service in compose_services():
        runs = [
            settings
            for settings in units.values()
            if settings["ExecStart"].split()[1:] == service.command
        ]
        assert len(runs) == 1, f"no one unit runs {service.command}"
        unit = runs[0]
        limits = service.spec["deploy"]["resources"]["limits"]
        assert mebibytes(unit["MemoryMax"]) == mebibytes(limits["memory"]), service.name
        assert unit["CPUQuota"] == f"{float(limits['cpus']) * 100:g}%", service.name
        assert unit["WorkingDirectory"] == "/" and unit["DynamicUser"] == "yes"
        for key, value in service.env.items():
            if key.endswith("_FILE") or key in ("CAMPAIGNS_SENDING", "CAMPAIGNS_LEASE_SECONDS"):
                assert f"ENV:{key}" in unit, f"{service.name}'s unit lacks {key}"
            if key in ("CAMPAIGNS_SENDING", "CAMPAIGNS_LEASE_SECONDS"):
                assert unit[f"ENV:{key}"] == value, f"{service.name}: {key}"
