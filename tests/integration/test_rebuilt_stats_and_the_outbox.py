"""Review finding 8, "`campaigns rebuild stats` in the scale-out topology counts twice": the
rebuild recounted the activity rows, then the outbox records of the same writes were applied
again when the relay published them. Here, as real processes on PostgreSQL and Kafka, the
relay stops mid-campaign, the stats are rebuilt, the relay starts again, and `campaigns
verify` finds the stats equal to a recount."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks._topology import ROOT, Api, Topology, campaign_body, contact_csv, prepare_domains

from .conftest import drop_schema, postgres_url
from .test_kafka_pipeline import kafka_bootstrap

RECIPIENTS = 3000
RATE = 150  # messages a second: the campaign is still sending when the relay stops


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    made = Topology(
        tmp_path / "roles", postgres_url(), schema, kafka=kafka_bootstrap(), topic_prefix=schema
    )
    try:
        yield made
    finally:
        made.stop()
        drop_schema(postgres_url(), schema)


def campaigns(topology: Topology, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env={**topology.environment("cli"), "CAMPAIGNS_SENDING": "off"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(what: str, check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.2)


def count(topology: Topology, query: str, *params: Any) -> int:
    with topology.database() as connection:
        row = connection.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def test_stats_rebuilt_while_the_relay_is_stopped_are_not_counted_twice(
    topology: Topology,
) -> None:
    topology.add("relay", "relay")
    topology.add("project", "project")
    topology.add("gateway", "serve")
    topology.add("dispatch", "dispatch")
    topology.wait_ready(timeout=120)
    api = Api(topology.gateways())
    prepare_domains(api, limit=10_000_000)
    outcomes = {"click_rate": 0.2, "optout_rate": 0.01, "reply_rate": 0.01}
    api.patch("/api/streams/demo", json={"rate": RATE, **outcomes})
    people = api.post(
        "/api/contact-lists?name=people",
        content=contact_csv(RECIPIENTS),
        headers={"content-type": "text/csv"},
    )
    campaign = api.post("/api/campaigns", json=campaign_body("Rebuilt", [people["id"]], "demo"))
    campaign_id = str(campaign["id"])
    api.post(f"/api/campaigns/{campaign_id}/launch")
    handed = "SELECT COUNT(*) FROM messages WHERE campaign_id = %s AND sent_at IS NOT NULL"

    wait_for("the first messages", lambda: count(topology, handed, campaign_id) >= 300)
    topology.roles["relay"].stop()
    # The campaign goes on sending; its counter changes wait in the outbox.
    wait_for(
        "counter changes kept while the relay is stopped",
        lambda: count(topology, "SELECT COUNT(*) FROM activity_outbox") >= 20,
    )
    rebuilt = campaigns(topology, "rebuild", "stats")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt stats" in rebuilt.stdout
    topology.roles["relay"].start()

    wait_for(
        "the campaign to finish",
        lambda: api.get(f"/api/campaigns/{campaign_id}")["status"] == "Finished",
        timeout=180,
    )
    wait_for(
        "the outbox to drain", lambda: count(topology, "SELECT COUNT(*) FROM activity_outbox") == 0
    )
    # Once the projector has applied what was published, the stats equal the recount.
    verified: list[subprocess.CompletedProcess[str]] = []

    def clean() -> bool:
        verified.append(campaigns(topology, "verify"))
        return verified[-1].returncode == 0

    try:
        wait_for("`campaigns verify` to find no difference", clean, timeout=60)
    except AssertionError:
        raise AssertionError(verified[-1].stdout[-3000:] + verified[-1].stderr[-2000:]) from None
    stats = api.get(f"/api/campaigns/{campaign_id}")["recipients"]
    assert stats["sent"] == count(topology, handed, campaign_id)
    assert stats["sent"] <= RECIPIENTS
