"""Group commit: callers that arrive together share a transaction, and only a clashing caller
sees its clash."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from infra.group_commit import GroupCommit

WAIT = 5.0


@dataclass(frozen=True)
class Event:
    originator_id: uuid.UUID
    originator_version: int


@dataclass(frozen=True)
class Recorded:
    """What the fake store answers for each event (the part GroupCommit reads)."""

    domain_event: Event


class Store:
    """Saves lists of events atomically; a (id, version) seen before is a clash. The first
    transaction can be held open until the test lets it go."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.saved: set[tuple[uuid.UUID, int]] = set()
        self.transactions: list[list[Event]] = []
        self.attempts: list[list[Event]] = []  # every transaction tried, committed or not
        self.notified: list[Event] = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.hold.set()

    def record(self, events: list[Any]) -> list[Any]:
        if not self.hold.is_set():
            self.holding.set()
            self.hold.wait(WAIT)
        with self.lock:
            self.attempts.append(list(events))
            keys = [(e.originator_id, e.originator_version) for e in events]
            if len(set(keys)) < len(keys) or self.saved.intersection(keys):
                raise IntegrityError("version clash")
            self.saved.update(keys)
            self.transactions.append(list(events))
        return [Recorded(e) for e in events]

    def notify(self, recordings: list[Any]) -> None:
        self.notified.extend(r.domain_event for r in recordings)


def events_of(aggregate_id: uuid.UUID, *versions: int) -> list[Event]:
    return [Event(aggregate_id, v) for v in versions]


def in_thread(function: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["value"] = function()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def saving(group: GroupCommit, events: list[Event]) -> Callable[[], Any]:
    return lambda: group.save(events)


def held_first_save(
    store: Store, group: GroupCommit, callers: list[list[Event]]
) -> list[dict[str, Any]]:
    """A first caller's transaction stays open until every other caller waits; returns each
    caller's outcome (the first one's included)."""
    store.hold.clear()
    first, first_outcome = in_thread(lambda: group.save(events_of(uuid.uuid4(), 1)))
    assert store.holding.wait(WAIT)
    threads = [in_thread(saving(group, events)) for events in callers]
    deadline = time.monotonic() + WAIT
    while len(group.waiting) < len(callers) and time.monotonic() < deadline:
        time.sleep(0.001)
    store.hold.set()
    for thread, _ in [(first, first_outcome), *threads]:
        thread.join(WAIT)
    return [first_outcome, *(outcome for _, outcome in threads)]


def test_a_lone_caller_saves_its_events_in_its_own_transaction() -> None:
    store = Store()
    group = GroupCommit(store.record, store.notify)
    campaign = uuid.uuid4()

    recordings = group.save(events_of(campaign, 1, 2))

    assert [r.domain_event.originator_version for r in recordings] == [1, 2]
    assert store.transactions == [events_of(campaign, 1, 2)]


def test_a_caller_returns_once_its_events_are_stored_and_notified() -> None:
    store = Store()
    group = GroupCommit(store.record, store.notify)
    events = events_of(uuid.uuid4(), 1)

    group.save(events)

    assert store.notified == events


def test_a_failure_to_notify_is_the_callers_error_and_stores_nothing_again() -> None:
    store = Store()

    def failing(_recordings: list[Any]) -> None:
        raise RuntimeError("a listener failed")

    group = GroupCommit(store.record, failing)
    callers = [events_of(uuid.uuid4(), 1) for _ in range(3)]

    outcomes = held_first_save(store, group, callers)

    assert all(isinstance(o["error"], RuntimeError) for o in outcomes)
    assert len(store.attempts) == 2 and len(store.transactions) == 2


def test_callers_arriving_during_a_save_share_the_next_transaction() -> None:
    store = Store()
    group = GroupCommit(store.record, store.notify)
    callers = [events_of(uuid.uuid4(), 5) for _ in range(6)]

    outcomes = held_first_save(store, group, callers)

    assert all("error" not in outcome for outcome in outcomes)
    assert len(store.transactions) == 2  # the first caller's, then the six others together
    assert sorted(map(str, store.transactions[1])) == sorted(str(e) for c in callers for e in c)
    for events, outcome in zip(callers, outcomes[1:], strict=True):
        assert [r.domain_event for r in outcome["value"]] == events  # each gets its own
    assert len(store.notified) == 7


def test_only_the_caller_that_clashes_sees_the_clash_and_the_others_are_saved() -> None:
    store = Store()
    group = GroupCommit(store.record, store.notify)
    taken = uuid.uuid4()
    store.record(events_of(taken, 1))  # another writer got there first
    callers = [events_of(uuid.uuid4(), 1), events_of(taken, 1), events_of(uuid.uuid4(), 1)]

    outcomes = held_first_save(store, group, callers)

    assert "error" not in outcomes[1] and "error" not in outcomes[3]
    assert isinstance(outcomes[2]["error"], IntegrityError)
    assert (callers[0][0].originator_id, 1) in store.saved
    assert (callers[2][0].originator_id, 1) in store.saved


def test_two_callers_changing_one_aggregate_are_never_in_one_transaction() -> None:
    store = Store()
    group = GroupCommit(store.record, store.notify)
    campaign = uuid.uuid4()
    callers = [events_of(campaign, 3), events_of(uuid.uuid4(), 1), events_of(campaign, 3)]

    outcomes = held_first_save(store, group, callers)

    errors = [o.get("error") for o in outcomes[1:]]
    assert errors[1] is None
    assert [isinstance(e, IntegrityError) for e in (errors[0], errors[2])].count(True) == 1
    assert store.attempts[1:] == [callers[0] + callers[1], callers[2]]


def test_a_caller_with_no_events_returns_at_once() -> None:
    store = Store()

    assert GroupCommit(store.record, store.notify).save([]) == []
    assert store.transactions == []


def test_a_failing_store_fails_each_caller_and_the_next_caller_still_leads() -> None:
    calls: list[int] = []

    def broken(events: list[Any]) -> list[Any]:
        calls.append(len(events))
        raise OSError("the database went away")

    group = GroupCommit(broken, lambda _recordings: None)
    with pytest.raises(OSError):
        group.save(events_of(uuid.uuid4(), 1))
    with pytest.raises(OSError):
        group.save(events_of(uuid.uuid4(), 1))

    assert calls == [1, 1]
    assert not group.leading
