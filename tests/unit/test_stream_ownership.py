"""Stream leases and their sharing out between sending processes, on a SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra.ownership import Ownership
from projections.database import SQLiteDatabase
from projections.leases import LeaseLost, StreamLeases, check_fence, fair_share

STREAMS = ["alpha", "beta"]


@pytest.fixture
def leases(tmp_path: Path) -> StreamLeases:
    table = StreamLeases(SQLiteDatabase(tmp_path / "leases.sqlite3"))
    table.create_tables()
    return table


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def process(
    leases: StreamLeases, name: str, *, seconds: float = 10.0, clock: Clock | None = None
) -> Ownership:
    return Ownership(
        leases, name, lambda: list(STREAMS), lease_seconds=seconds, clock=clock or Clock()
    )


def test_each_process_takes_its_share_of_the_streams(leases: StreamLeases) -> None:
    first, second = process(leases, "first"), process(leases, "second")
    second.leases.heartbeat("second", 10)  # both alive before either takes

    first.refresh()
    second.refresh()

    assert first.working() == ["alpha"] and second.working() == ["beta"]
    taken = first.take_changes().taken
    assert [(t.fence.stream, t.fence.epoch, t.how) for t in taken] == [("alpha", 1, "new")]


def test_a_process_over_its_share_gives_a_stream_up_to_a_newcomer(leases: StreamLeases) -> None:
    first = process(leases, "first")
    first.refresh()
    assert first.working() == ["alpha", "beta"]
    second = process(leases, "second")
    second.refresh()  # nothing free yet
    assert second.working() == []

    first.refresh()
    assert first.to_give_up() == ["beta"] and first.working() == ["alpha"]
    first.give_up("beta")  # once its engine let go of it
    second.refresh()

    assert second.working() == ["beta"]
    (taken,) = second.take_changes().taken
    assert (taken.fence.epoch, taken.how, taken.previous_owner) == (2, "released", "first")
    assert taken.release_reason == (
        "it had 2 streams, more than its share of 1 (2 streams, 2 sending processes)"
    )


def test_a_stream_whose_owner_stopped_renewing_is_taken_once_its_lease_ends(
    leases: StreamLeases,
) -> None:
    silent = process(leases, "silent", seconds=0.3)
    silent.refresh()
    other = process(leases, "other", seconds=0.3)
    other.refresh()
    assert other.working() == []

    time.sleep(0.4)
    other.refresh()

    assert other.working() == ["alpha", "beta"]
    assert {t.how for t in other.take_changes().taken} == {"expired"}
    stale = silent.fence("alpha")
    with leases.database.transaction() as cursor, pytest.raises(LeaseLost):
        check_fence(cursor, "sqlite", stale)


def test_an_owner_that_wakes_up_after_losing_its_stream_learns_it_at_its_renewal(
    leases: StreamLeases,
) -> None:
    clock = Clock()
    sleeper = process(leases, "sleeper", seconds=0.3, clock=clock)
    sleeper.refresh()
    sleeper.take_changes()
    time.sleep(0.4)
    process(leases, "other", seconds=0.3).refresh()

    clock.now += 1  # its next renewal is due
    sleeper.refresh()

    assert sorted(sleeper.take_changes().lost) == ["alpha", "beta"]
    assert sleeper.working() == []


def test_a_lease_near_its_end_is_not_relied_on(leases: StreamLeases) -> None:
    clock = Clock()
    owner = process(leases, "owner", seconds=10, clock=clock)
    owner.refresh()
    fence = owner.fence("alpha")
    assert owner.holds(fence)

    clock.now += 10 - owner.margin  # no renewal meanwhile: frozen, or the database away

    assert not owner.holds(fence)
    with pytest.raises(LeaseLost):
        owner.fence("gamma")


def test_the_only_sending_process_takes_every_stream_whoever_held_it(
    leases: StreamLeases,
) -> None:
    process(leases, "before").refresh()
    only = Ownership(
        leases, "only", lambda: list(STREAMS), lease_seconds=10, exclusive=True, clock=Clock()
    )

    only.refresh()

    assert only.working() == ["alpha", "beta"]
    assert {(t.how, t.previous_owner) for t in only.take_changes().taken} == {("forced", "before")}


def test_stopping_releases_every_stream_at_once(leases: StreamLeases) -> None:
    first = process(leases, "first")
    first.refresh()
    first.stop()
    second = process(leases, "second")

    second.refresh()

    assert second.working() == ["alpha", "beta"]
    assert {t.release_reason for t in second.take_changes().taken} == {"it stopped"}


def test_the_fair_share_rounds_up() -> None:
    assert [fair_share(3, n) for n in (1, 2, 3, 4)] == [3, 2, 1, 1]
    assert fair_share(0, 2) == 0
