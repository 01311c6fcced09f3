"""The whole scale-out topology as real processes: `campaigns stack up`, a campaign from
Draft to Finished over HTTP through the relay, Kafka, the projector and the dispatcher, seen
live on the gateway's realtime wall, then `campaigns verify` and `campaigns stack down`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
PORT, POSTGRES_PORT, KAFKA_PORT = 8093, 25462, 29122
SCHEMA = f"stack_{uuid.uuid4().hex[:10]}"  # the cluster may outlive a run: a schema of its own
SCALE_OUT = {
    "CAMPAIGNS_DATABASE_URL": f"postgresql://campaigns:campaigns@127.0.0.1:{POSTGRES_PORT}/campaigns",
    "CAMPAIGNS_DATABASE_SCHEMA": SCHEMA,
    "CAMPAIGNS_KAFKA": f"127.0.0.1:{KAFKA_PORT}",
}
# Every role starts with it, as a deployment would: the first one stores it.
WITH_TOKEN = {"CAMPAIGNS_DATABASE_SCHEMA": SCHEMA, "CAMPAIGNS_BOOTSTRAP_TOKEN": ADMIN_TOKEN}


def campaigns(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"campaigns {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def fresh_folder() -> Iterator[Path]:
    """A folder as `mktemp -d` makes it: mode 0700, only its owner can enter it."""
    folder = Path(tempfile.mkdtemp(prefix="stack-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def stack(fresh_folder: Path) -> Iterator[httpx.Client]:
    folder = fresh_folder
    where = (
        *("--dir", str(folder), "--port", str(PORT)),
        *("--postgres-port", str(POSTGRES_PORT), "--kafka-port", str(KAFKA_PORT)),
    )
    try:
        out = campaigns(folder, "stack", "up", *where, "--dispatchers", "2", env=WITH_TOKEN)
        assert f"gateway: http://127.0.0.1:{PORT}/" in out
        running = campaigns(folder, "stack", "status", *where)
        assert {line.split()[0] for line in running.splitlines() if " pid " in line} == {
            "relay",
            "project",
            "dispatch",
            "dispatch-2",
            "serve",
        }, running
        with httpx.Client(
            base_url=f"http://127.0.0.1:{PORT}", timeout=30, headers=ADMIN_HEADERS
        ) as client:
            yield client
    finally:
        for log in sorted((folder / "logs").glob("*.log")):  # shown when the test fails
            print(f"--- {log.name}:\n" + "\n".join(log.read_text().splitlines()[-30:]))
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "stack", "down", *where], cwd=ROOT, timeout=120
        )
    status = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "stack", "status", *where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert " pid " not in status.stdout, status.stdout


def wall_row(wall: Any, campaign_id: str, **wanted: Any) -> dict[str, Any]:
    """The first row of the campaign the wall's updates show with the wanted values."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = json.loads(wall.recv(timeout=30))
        for row in message.get("rows", []):
            if row["id"] == campaign_id and all(row[k] == v for k, v in wanted.items()):
                assert message["type"] == "update"
                return dict(row)
    raise AssertionError(f"the wall never showed {campaign_id} with {wanted}")


def ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200,)), response.text
    return response.json()


def test_a_campaign_runs_from_draft_to_finished_through_the_whole_topology(
    stack: httpx.Client,
) -> None:
    client = stack
    ok(client.post("/api/domains", json={"names": ["go.example.com", "out.example.com"]}), 200, 201)
    for name in ("go.example.com", "out.example.com"):
        ok(client.post(f"/api/domains/{name}/configure"))
    quiet = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}
    ok(client.patch("/api/streams/demo", json=quiet))
    rows = "".join(f"+4477009{n:05d},Person{n}\n" for n in range(50))
    contact_list = ok(
        client.post(
            "/api/contact-lists",
            content=("phone,first_name\n" + rows).encode(),
            headers={"content-type": "text/csv"},
        ),
        201,
    )
    campaign = ok(
        client.post(
            "/api/campaigns",
            json={
                "name": "Through the stack",
                "sender": "Shop",
                "contact_lists": [contact_list["id"]],
                "variants": [{"text": "Hi {first_name}: {short_url} Stop: {optout_url}"}],
                "links": {
                    "short": {
                        "target": "https://shop.example.com/",
                        "domains": ["go.example.com"],
                    },
                    "optout": {"domains": ["out.example.com"]},
                },
            },
        ),
        201,
    )
    # A wall on the gateway: its hub follows the realtime topic the projector publishes.
    address = f"ws://127.0.0.1:{PORT}/ws/realtime?name=through+the+stack"
    with connect(address, open_timeout=30, additional_headers=ADMIN_HEADERS) as wall:
        snapshot = json.loads(wall.recv(timeout=30))
        assert snapshot["type"] == "snapshot"
        ok(client.post(f"/api/campaigns/{campaign['id']}/launch"))
        deadline = time.monotonic() + 120
        while True:
            current = ok(client.get(f"/api/campaigns/{campaign['id']}"))
            if current["status"] in ("Finished", "Rejected", "Suspended"):
                break
            assert time.monotonic() < deadline, f"still {current['status']}"
            time.sleep(0.25)
        assert current["status"] == "Finished", current["status_reason"]
        # The counters travel dispatcher -> outbox -> relay -> Kafka -> projector -> stats.
        deadline = time.monotonic() + 60
        while True:
            listed = ok(
                client.get("/api/campaigns", params={"status": "Finished", "per_page": 100})
            )
            mine = [item for item in listed["items"] if item["id"] == campaign["id"]]
            stats = ok(client.get(f"/api/campaigns/{campaign['id']}/stats"))
            if mine and mine[0]["recipients"]["sent"] == 50 and stats["delivered"] == 50:
                break
            assert time.monotonic() < deadline, (mine, stats)
            time.sleep(0.25)
        finished = wall_row(wall, campaign["id"], status="Finished", delivered=50)
        assert finished["sent"] == finished["recipients"] == 50
    metrics = client.get("/metrics").text
    assert "campaigns_events_relayed_total" in metrics
    assert "campaigns_db_oldest_transaction_seconds" in metrics
    assert re.search(r'campaigns_consumer_lag_records\{[^}]*read_model="activity_stats"', metrics)
    verified = campaigns(Path(), "verify", env=SCALE_OUT)
    assert "equal a fresh replay" in verified
    assert "oldest open transaction:" in verified


def stack_command(folder: Path, ports: tuple[int, int, int], *args: str) -> str:
    where = (
        *("--dir", str(folder), "--port", str(ports[0])),
        *("--postgres-port", str(ports[1]), "--kafka-port", str(ports[2])),
    )
    return campaigns(folder, "stack", *args, *where, env=WITH_TOKEN)


def test_two_stacks_in_fresh_folders_keep_their_data_apart() -> None:
    folders = [Path(tempfile.mkdtemp(prefix="stack-")) for _ in range(2)]
    ports = [(8094, 25642, 29251), (8095, 25652, 29261)]
    try:
        for folder, where in zip(folders, ports, strict=True):
            stack_command(folder, where, "up", "--dispatchers", "1")
        first, second = (f"http://127.0.0.1:{where[0]}" for where in ports)
        with httpx.Client(timeout=30, headers=ADMIN_HEADERS) as client:
            added = client.post(f"{first}/api/domains", json={"names": ["first.example.com"]})
            ok(added, 200, 201)
            seen = ok(client.get(f"{second}/api/domains"))
        assert "first.example.com" not in json.dumps(seen)
        for folder, where in zip(folders, ports, strict=True):
            shown = stack_command(folder, where, "status")
            database = next(line for line in shown.splitlines() if line.startswith("database"))
            assert database.split()[1].startswith(f"{folder.resolve()}/"), shown
    finally:
        left = [
            stack_command(folder, where, "down")
            for folder, where in zip(folders, ports, strict=True)
        ]
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    for folder, report in zip(folders, left, strict=True):
        assert f"left in {folder.resolve()}" in report, report
        assert f"database  {folder.resolve()}/postgres/cluster/data" in report, report
