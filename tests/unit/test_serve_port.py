"""`campaigns serve --port 0`: the system picks a free port, and the address printed is it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.cli import dashboard_address, parser
from infra.cli import settings_from

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = re.compile(r"dashboard: (http://127\.0\.0\.1:(\d+))/")


@pytest.fixture
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CAMPAIGNS_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("plain_environment")
def test_port_zero_on_the_command_line_is_kept_rather_than_the_default() -> None:
    args = parser().parse_args(["serve", "--port", "0"])

    assert settings_from(args).port == 0


@pytest.fixture
def server_on_port_zero(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CAMPAIGNS_")}
    env.update(CAMPAIGNS_SENDING="off", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--data-dir"]
    process = subprocess.Popen(
        [*command, str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def printed_address(process: subprocess.Popen[str]) -> tuple[str, int]:
    assert process.stdout is not None
    output = []
    silent = threading.Timer(30, process.kill)  # a server that never prints ends the read
    silent.start()
    try:
        for line in process.stdout:  # the address comes within the first few lines
            output.append(line)
            if found := DASHBOARD.search(line):
                return found.group(1), int(found.group(2))
    finally:
        silent.cancel()
    pytest.fail("the server printed no dashboard address:\n" + "".join(output))


def test_serving_on_port_zero_listens_on_a_free_port_and_prints_it(
    server_on_port_zero: subprocess.Popen[str],
) -> None:
    address, port = printed_address(server_on_port_zero)

    assert port not in (0, 8000)
    deadline = time.monotonic() + 20
    while True:
        try:
            assert httpx.get(f"{address}/healthz", timeout=1).status_code == 200
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server_on_port_zero.poll() is not None:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "http://127.0.0.1:41234"),
        ("0.0.0.0", "http://127.0.0.1:41234"),
        ("::", "http://127.0.0.1:41234"),
        ("::1", "http://[::1]:41234"),
        ("campaigns.internal", "http://campaigns.internal:41234"),
    ],
)
def test_the_printed_address_is_one_a_browser_here_can_open(host: str, address: str) -> None:
    assert dashboard_address(host, 41234) == address


@pytest.mark.parametrize("trusted", [True, False])
def test_cookies_are_secure_behind_a_trusted_tls_proxy_only(tmp_path: Path, trusted: bool) -> None:
    """Finding 11: behind a TLS-terminating proxy the server trusts (its address in
    CAMPAIGNS_FORWARDED_ALLOW_IPS), cookies are Secure and HSTS is sent; a forwarded scheme
    from anyone else is ignored."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CAMPAIGNS_")}
    env.update(
        CAMPAIGNS_SENDING="off",
        PYTHONUNBUFFERED="1",
        CAMPAIGNS_FORWARDED_ALLOW_IPS="127.0.0.1" if trusted else "10.9.9.9",
    )
    command = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--data-dir"]
    process = subprocess.Popen(
        [*command, str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        address, _port = printed_address(process)
        deadline = time.monotonic() + 20
        while True:  # printed once bound; it answers once the app has started
            try:
                answer = httpx.get(f"{address}/sign-in", headers={"X-Forwarded-Proto": "https"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        cookie = answer.headers.get("set-cookie", "")
        assert ("Secure" in cookie) is trusted
        assert ("strict-transport-security" in answer.headers) is trusted
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_stack_port_zero_takes_a_free_port_rather_than_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import cli, stack

    started: list[stack.Stack] = []
    monkeypatch.setattr(stack, "up", lambda where: started.append(where) or "")
    args = parser().parse_args(["stack", "up", "--dir", str(tmp_path), "--port", "0"])

    assert cli.stack(args) == 0
    port = started[0].gateway_port()
    assert port not in (0, 8000)
    assert (tmp_path / "port").read_text() == str(port)
    # Nothing runs yet in the folder: the next `up` takes a free port again.
    assert stack.Stack(tmp_path, port=8123).gateway_port() == 8123
