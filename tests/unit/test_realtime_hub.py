"""The realtime hub's rules, without a network: filters, shared updates, removals, resuming
from the ring, and a slow client's queue giving way to a fresh snapshot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from gateway.realtime import QUEUE_LIMIT, RING, Client, Hub
from projections.wall import FilterError, RowFilter

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine on a loop of its own thread: the browser journeys' driver keeps a
    loop running on the main thread for the whole session."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


class QuietFeed:
    def start(self, deliver: Any, reset: Any) -> None:
        pass

    def stop(self) -> None:
        pass


class Query(dict[str, list[str]]):
    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        values = super().get(key)
        return values[-1] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(super().get(key, []))


def row(
    n: int, *, status: str = "Sending", name: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "name": name or f"Campaign {n}",
        "status": status,
        "tags": extra.pop("tags", []),
        "created_at": f"2026-01-01T00:00:{n:02d}.000000Z",
        **extra,
    }


def hub_with(*rows: dict[str, Any], position: int = 10) -> Hub:
    async def build() -> Hub:
        hub = Hub(QuietFeed())
        hub.reset(position, list(rows))
        return hub

    return run(build())


def decoded(text: str | None) -> dict[str, Any]:
    assert text is not None
    message: dict[str, Any] = json.loads(text)
    return message


def test_filters_match_name_in_any_case_any_of_the_statuses_and_any_of_the_tags() -> None:
    wanted = RowFilter.from_query(
        Query(name=["SPRING"], status=["Sending,Paused"], tag=["vip", "promo"])
    )
    assert wanted.matches(row(1, name="Big spring sale", tags=["promo"]))
    assert not wanted.matches(row(2, name="Big spring sale", status="Draft", tags=["promo"]))
    assert not wanted.matches(row(3, name="Autumn", tags=["promo"]))
    assert not wanted.matches(row(4, name="Spring", tags=["other"]))
    assert RowFilter().matches(row(5))


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(FilterError, match="Nope"):
        RowFilter.from_query(Query(status=["Sending", "Nope"]))


def test_a_snapshot_holds_the_matching_rows_newest_first_and_the_position() -> None:
    hub = hub_with(row(1), row(2, status="Paused"), row(3))
    message = decoded(hub.snapshot_message(RowFilter(statuses=frozenset({"Sending"}))))
    assert message["type"] == "snapshot" and message["position"] == 10
    assert [r["id"] for r in message["rows"]] == ["c3", "c1"]


def test_clients_with_the_same_filters_share_one_encoded_update() -> None:
    async def scenario() -> tuple[list[Client], Hub]:
        hub = Hub(QuietFeed())
        hub.reset(0, [row(1)])
        sending = RowFilter(statuses=frozenset({"Sending"}))
        clients = [Client(sending) for _ in range(3)]
        hub.groups[sending] = set(clients)
        hub.apply([(1, row(1, sent=5)), (2, row(2))])
        return clients, hub

    clients, hub = run(scenario())
    texts = [client.queue[0] for client in clients]
    assert texts[0] is texts[1] is texts[2]  # encoded once
    message = decoded(texts[0])
    assert message["position"] == hub.position == 2
    assert sorted(r["id"] for r in message["rows"]) == ["c1", "c2"]


def test_a_row_that_leaves_the_filters_is_removed_and_one_never_shown_is_not_mentioned() -> None:
    async def scenario() -> Client:
        hub = Hub(QuietFeed())
        hub.reset(0, [row(1), row(2, status="Draft")])
        sending = RowFilter(statuses=frozenset({"Sending"}))
        client = Client(sending)
        hub.groups[sending] = {client}
        hub.apply([(1, row(1, status="Paused")), (2, row(2, status="Finished"))])
        return client

    message = decoded(run(scenario()).queue[0])
    assert message["rows"] == [] and message["removed"] == ["c1"]


def test_a_client_resumes_from_the_ring_with_the_latest_version_of_each_row() -> None:
    hub = hub_with(row(1), position=0)
    hub.apply([(1, row(1, sent=1)), (2, row(2)), (3, row(1, sent=3))])
    message = decoded(hub.resume_message(RowFilter(), 1))
    assert message["type"] == "update" and message["position"] == 3
    assert {r["id"]: r.get("sent") for r in message["rows"]} == {"c2": None, "c1": 3}
    nothing_new = decoded(hub.resume_message(RowFilter(), 3))
    assert nothing_new["rows"] == [] and nothing_new["position"] == 3


def test_a_position_older_than_the_ring_or_ahead_of_the_hub_gets_no_resume() -> None:
    hub = hub_with(row(1), position=0)
    hub.apply([(seq, row(1, sent=seq)) for seq in range(1, RING + 6)])
    assert hub.resume_message(RowFilter(), 2) is None  # the ring starts after it
    assert hub.resume_message(RowFilter(), 5) is not None
    assert hub.resume_message(RowFilter(), RING + 100) is None


def test_a_slow_clients_queue_gives_way_to_a_fresh_snapshot() -> None:
    async def scenario() -> Client:
        hub = Hub(QuietFeed())
        hub.reset(0, [row(1)])
        client = Client(RowFilter())
        hub.groups[RowFilter()] = {client}
        for seq in range(1, QUEUE_LIMIT + 2):
            hub.apply([(seq, row(1, sent=seq))])
        return client

    client = run(scenario())
    assert client.stale and len(client.queue) < QUEUE_LIMIT


def test_changes_the_hub_already_has_are_ignored() -> None:
    hub = hub_with(row(1, sent=7), position=5)
    hub.apply([(4, row(1, sent=1)), (5, row(1, sent=2))])
    assert hub.rows["c1"]["sent"] == 7 and hub.position == 5


class Connection:
    """A connection whose sends wait while `paused` is unresolved (a client not reading)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.paused: asyncio.Future[None] | None = None

    async def send_text(self, text: str) -> None:
        if self.paused is not None:
            await self.paused
        self.sent.append(text)


def test_a_send_that_has_to_wait_goes_on_in_its_own_task_and_the_queue_follows() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        hub = Hub(QuietFeed())
        hub.reset(0, [])
        connection = Connection()
        client = Client(RowFilter(), hub, connection)
        client.push("first")  # taken at once: no task
        assert client.sending is None
        connection.paused = asyncio.get_running_loop().create_future()
        client.push("second")  # has to wait: a task goes on with it
        client.push("third")  # queued behind it
        assert client.sending is not None and list(client.queue) == ["third"]
        before = list(connection.sent)
        connection.paused.set_result(None)
        connection.paused = None
        while client.sending is not None:
            await asyncio.sleep(0)
        return before, connection.sent

    before, after = run(scenario())
    assert before == ["first"]
    assert after == ["first", "second", "third"]
