"""Several sending processes on one PostgreSQL store, as real processes: killed with
SIGKILL and frozen with SIGSTOP past their lease mid-campaign, every recipient still gets
exactly one message (the demo carrier's own books say so); an Abort while messages leave as
fast as they can stops them at once; a second sending process on one SQLite data directory
is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks._topology import (
    ROOT,
    Api,
    Role,
    Topology,
    books_of,
    campaign_body,
    contact_csv,
    free_port,
    prepare_domains,
)

from .conftest import drop_schema, postgres_url

LEASE = 3.0  # seconds: short, so that take-overs come quickly


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    made = Topology(tmp_path / "roles", postgres_url(), schema, lease_seconds=LEASE)
    try:
        yield made
    finally:
        made.stop()
        drop_schema(postgres_url(), schema)


def launch(api: Api, recipients: int, *, rate: int) -> str:
    """A campaign of `recipients` on the demo stream at `rate` messages a second, launched."""
    prepare_domains(api, limit=10_000_000)
    quiet = {"click_rate": 0, "optout_rate": 0, "reply_rate": 0, "outcomes": {"delivered": 1}}
    api.patch("/api/streams/demo", json={"rate": rate, **quiet})
    people = api.post(
        "/api/contact-lists?name=people",
        content=contact_csv(recipients),
        headers={"content-type": "text/csv"},
    )
    campaign = api.post("/api/campaigns", json=campaign_body("Failover", [people["id"]], "demo"))
    api.post(f"/api/campaigns/{campaign['id']}/launch")
    return str(campaign["id"])


def wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.1)


def sent(api: Api, campaign_id: str) -> int:
    return int(api.get(f"/api/campaigns/{campaign_id}")["recipients"]["sent"])


def owner(api: Api, dispatchers: list[Role]) -> tuple[Role, int] | None:
    """The dispatcher owning the demo stream now, and its epoch."""
    found = api.owners()["demo"]
    if found is None:
        return None
    pid, epoch = found
    return next(((d, epoch) for d in dispatchers if d.alive and d.pid == pid), None)


def finish_and_check(topology: Topology, api: Api, campaign_id: str, recipients: int) -> None:
    status = wait_for(
        "the campaign to finish",
        lambda: api.get(f"/api/campaigns/{campaign_id}")["status"] == "Finished",
        timeout=120,
    )
    assert status
    books = books_of(topology, [campaign_id])
    assert books.twice == [], f"taken twice: {books.twice[:10]}"
    assert books.exactly_once(recipients), books
    wait_for("the stats to count every message", lambda: sent(api, campaign_id) == recipients)
    with topology.database() as connection:
        rows = dict(
            connection.execute(
                "SELECT status, COUNT(*) FROM messages WHERE campaign_id = %s GROUP BY status",
                (campaign_id,),
            ).fetchall()
        )
    assert sum(rows.values()) == recipients and not rows.get("queued"), rows
    verify = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "verify"],
        cwd=ROOT,
        env=topology.environment("verify"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_two_dispatchers_one_killed_mid_campaign_message_each_recipient_once(
    topology: Topology,
) -> None:
    gateway = topology.add("gateway", "serve")
    dispatchers = [topology.add(f"dispatch-{n}", "dispatch") for n in (1, 2)]
    topology.wait_ready()
    api = Api([gateway])
    recipients = 3000
    campaign_id = launch(api, recipients, rate=300)
    wait_for("messages to leave", lambda: sent(api, campaign_id) > 300)

    first, epoch = wait_for("an owner", lambda: owner(api, dispatchers))
    first.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    second, next_epoch = wait_for(
        "another dispatcher to take the stream over",
        lambda: (o := owner(api, dispatchers)) and o[1] > epoch and o,
    )
    taken_after = time.monotonic() - killed_at
    first.start()  # a supervisor starts it again

    assert second is not first and next_epoch == epoch + 1
    assert taken_after < LEASE + 3, taken_after
    assert sent(api, campaign_id) < recipients, "the kill should land mid-campaign"
    finish_and_check(topology, api, campaign_id, recipients)
    history = [
        e for e in api.events("StreamOwnership.OwnerChanged") if e["data"]["epoch"] == next_epoch
    ]
    assert "ended" in history[0]["data"]["reason"]  # the killed one's lease ran out


def test_three_dispatchers_one_killed_and_one_frozen_past_its_lease_message_each_once(
    topology: Topology,
) -> None:
    gateway = topology.add("gateway", "serve")
    dispatchers = [topology.add(f"dispatch-{n}", "dispatch") for n in (1, 2, 3)]
    topology.wait_ready()
    api = Api([gateway])
    recipients = 4000
    campaign_id = launch(api, recipients, rate=250)
    wait_for("messages to leave", lambda: sent(api, campaign_id) > 250)

    killed, epoch = wait_for("an owner", lambda: owner(api, dispatchers))
    killed.signal(signal.SIGKILL)
    frozen, epoch = wait_for(
        "a take-over", lambda: (o := owner(api, dispatchers)) and o[1] > epoch and o
    )
    wait_for("messages from the new owner", lambda: sent(api, campaign_id) > 1000)
    frozen.signal(signal.SIGSTOP)
    third, third_epoch = wait_for(
        "the frozen owner's stream taken over",
        lambda: (o := owner(api, dispatchers)) and o[1] > epoch and o,
        timeout=LEASE * 4,
    )
    time.sleep(1)
    frozen.signal(signal.SIGCONT)  # it wakes up with batches it may no longer hand over
    killed.start()

    assert third not in (killed, frozen)
    assert third_epoch == epoch + 1
    finish_and_check(topology, api, campaign_id, recipients)
    assert frozen.alive  # it let go of the stream and went on


def test_an_abort_while_messages_leave_fast_stops_them_at_its_commit(topology: Topology) -> None:
    gateway = topology.add("gateway", "serve")
    topology.add("dispatch", "dispatch")
    topology.wait_ready()
    api = Api([gateway])
    prepare_domains(api, limit=10_000_000)
    api.patch("/api/streams/demo", json={"outcomes": {"delivered": 1}, "click_rate": 0})
    for n in range(3):  # each abort is one more chance to catch a batch on its way
        people = api.post(
            f"/api/contact-lists?name=people{n}",
            content=contact_csv(40_000, start=n * 40_000),
            headers={"content-type": "text/csv"},
        )
        campaign = api.post("/api/campaigns", json=campaign_body(f"C{n}", [people["id"]], "demo"))
        campaign_id = str(campaign["id"])
        api.post(f"/api/campaigns/{campaign_id}/launch")
        wait_for("messages to leave", lambda c=campaign_id: books_of(topology, [c]).messages > 0)

        api.post(f"/api/campaigns/{campaign_id}/abort")
        at_abort = books_of(topology, [campaign_id]).messages
        # A batch may still be recorded after the abort (never handed over: cancelled).
        rows, stats = wait_for(
            "the recorded messages cancelled and counted",
            lambda c=campaign_id: settled(topology, api, c),
        )

        assert books_of(topology, [campaign_id]).messages == at_abort
        assert at_abort < 40_000, "the abort should land mid-campaign"
        assert rows.get("sent", 0) + rows.get("delivered", 0) == at_abort
        history = api.get(f"/api/campaigns/{campaign_id}/history")
        aborted = next(row for row in history if row["type"].endswith("Aborted"))
        # The abort took the campaign's gate before it made its event: every handover to
        # the carrier had begun (and ended) before that.
        assert last_handover(topology, campaign_id) < moment(aborted["at"])
        assert stats["sent"] == at_abort


def last_handover(topology: Topology, campaign_id: str) -> datetime:
    """When the carrier last began taking messages of the campaign (its books say)."""
    with topology.database() as connection:
        row = connection.execute(
            "SELECT MAX(a.accepted_at) FROM demo_carrier_accepted a "
            "JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    assert row is not None and row[0] is not None
    return moment(str(row[0]))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def settled(
    topology: Topology, api: Api, campaign_id: str
) -> tuple[dict[str, int], dict[str, Any]] | None:
    """The campaign's messages by status and its stats, once no message is queued any more
    and the stats count the cancelled ones."""
    time.sleep(0.5)
    with topology.database() as connection:
        rows = dict(
            connection.execute(
                "SELECT status, COUNT(*) FROM messages WHERE campaign_id = %s GROUP BY status",
                (campaign_id,),
            ).fetchall()
        )
    stats = api.get(f"/api/campaigns/{campaign_id}/stats")
    if rows.get("queued") or stats["queued"] or stats["cancelled"] != rows.get("cancelled", 0):
        return None
    return rows, stats


def test_a_second_sending_process_on_one_sqlite_data_directory_is_refused(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNS_")}
    env.update({"CAMPAIGNS_DATA_DIR": str(data), "CAMPAIGNS_SENDING": "on"})
    first = Role("serve", "serve", env, tmp_path / "serve.log", free_port())
    first.start()
    try:
        lock = data / "sending.lock"
        wait_for("the first process to hold the data directory", lock.exists)
        wait_for("its lock to name it", lambda: "serve@" in lock.read_text())
        for argv in (["dispatch"], ["serve", "--port", str(free_port())]):
            second = subprocess.run(
                [sys.executable, "-m", "gateway.cli", *argv],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, second.stdout + second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert lines[0].startswith("error: serve@"), lines[0]
            assert f"pid {first.pid}" in lines[0] and "already sends from" in lines[0]
        assert first.alive
    finally:
        first.stop()
