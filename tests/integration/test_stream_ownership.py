"""Stream ownership, fencing and stops, with the engine stepped by hand on SQLite and on
PostgreSQL: two platforms on one store stand for two sending processes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.status import Status
from domain.stream import StreamOwnership
from infra.bootstrap import Platform, build
from infra.engine import Batch
from infra.settings import Settings, parse_database_url
from projections.leases import LeaseLost, check_fence

from .conftest import drop_schema, postgres_url
from .test_sending_engine import (
    OPTOUT,
    SHORT,
    add_configured,
    contact_list,
    drive,
    messages_of,
    new_campaign,
)
from .test_sending_engine import sending as sending  # the fixture: a platform stepped by hand


def held_back(platform: Platform) -> list[Batch]:
    """Batches the engine records from now on wait here instead of going to the carrier."""
    waiting: list[Batch] = []
    platform.sending.engine.handover.put = waiting.append  # type: ignore[method-assign,assignment]
    return waiting


def hand_over(platform: Platform, batches: list[Batch]) -> None:
    handover = platform.sending.engine.handover
    for batch in batches:
        handover.hand_over_until_done(batch)


def statuses(platform: Platform, campaign_id: uuid.UUID) -> dict[str, int]:
    found: dict[str, int] = {}
    for row in messages_of(platform, campaign_id):
        found[row[9]] = found.get(row[9], 0) + 1
    return found


def sending_campaign(platform: Platform, recipients: int, batch: int = 20) -> uuid.UUID:
    add_configured(platform, SHORT, OPTOUT)
    platform.sending.engine.batch = batch
    campaign = new_campaign(platform, [contact_list(platform, recipients)])
    drive(platform, campaign.id, Status.SENDING)
    return campaign.id


def test_batches_recorded_before_an_abort_are_cancelled_and_never_reach_the_carrier(
    sending: Platform,
) -> None:
    campaign_id = sending_campaign(sending, 100)
    waiting = held_back(sending)
    sending.sending.engine.step()
    sending.sending.engine.step()
    assert len(waiting) == 2  # 40 messages recorded, not handed over

    sending.app.change_campaign_status(campaign_id, "abort", actor="alice")
    hand_over(sending, waiting)

    assert statuses(sending, campaign_id) == {"cancelled": 40}
    assert sending.sending.carrier.accepted_count() == 0
    counters = sending.activity.stats.campaign_counters(str(campaign_id))
    assert (counters["cancelled"], counters["queued"], counters["sent"]) == (40, 0, 0)
    assert sending.activity.messages.open_batches(campaign_id=str(campaign_id)) == []
    assert sending.activity.stats.verify_stats() == []


def test_batches_recorded_before_a_pause_go_out_once_after_the_resume(
    sending: Platform,
) -> None:
    campaign_id = sending_campaign(sending, 100)
    waiting = held_back(sending)
    sending.sending.engine.step()
    del sending.sending.engine.handover.put  # back to the class's own
    sending.app.change_campaign_status(campaign_id, "pause", actor="alice")
    hand_over(sending, waiting)
    assert statuses(sending, campaign_id) == {"queued": 20}
    assert sending.sending.carrier.accepted_count() == 0

    sending.app.change_campaign_status(campaign_id, "resume", actor="alice")
    drive(sending, campaign_id, Status.FINISHED)

    per_recipient = dict(sending.activity.messages.count_per_recipient(str(campaign_id)))
    assert len(per_recipient) == 100 and set(per_recipient.values()) == {1}
    assert sending.sending.carrier.accepted_count() == 100
    assert sending.sending.carrier.recipients_taken_more_than_once() == []


def test_batches_held_by_a_pause_are_cancelled_when_the_campaign_is_aborted(
    sending: Platform,
) -> None:
    campaign_id = sending_campaign(sending, 100)
    waiting = held_back(sending)
    sending.sending.engine.step()
    del sending.sending.engine.handover.put
    sending.app.change_campaign_status(campaign_id, "pause", actor="alice")
    hand_over(sending, waiting)  # held: the campaign is paused

    sending.app.change_campaign_status(campaign_id, "abort", actor="alice")
    sending.sending.engine.step()

    assert statuses(sending, campaign_id) == {"cancelled": 20}
    assert sending.sending.carrier.accepted_count() == 0
    assert sending.activity.messages.open_batches(campaign_id=str(campaign_id)) == []


def test_an_opt_out_after_a_batch_was_recorded_blocks_its_message(sending: Platform) -> None:
    campaign_id = sending_campaign(sending, 40)
    waiting = held_back(sending)
    sending.sending.engine.step()
    recipient = waiting[0].messages[3].recipient

    sending.activity.engagement.opt_out(recipient, datetime.now(UTC), source="reply")
    hand_over(sending, waiting)

    rows = {row[2]: row[9] for row in messages_of(sending, campaign_id)}
    assert rows[recipient] == "suppressed"
    assert sending.sending.carrier.accepted_count(recipient) == 0
    assert sending.sending.carrier.accepted_count() == 19
    counters = sending.activity.stats.campaign_counters(str(campaign_id))
    assert (counters["suppressed"], counters["sent"], counters["queued"]) == (1, 19, 0)


def test_each_change_of_owner_is_recorded_with_who_took_the_stream_and_why(
    sending: Platform,
) -> None:
    sending.sending.engine.step()
    second = build(sending.settings)
    try:
        exclusive = second.sending.ownership.exclusive  # SQLite: the one sending process
        if not exclusive:
            sending.sending.ownership.give_up("demo")
        second.sending.engine.step()
        events = list(second.app.events.get(StreamOwnership.id_for("demo")))
    finally:
        second.close()

    changes = [e for e in events if isinstance(e, StreamOwnership.OwnerChanged)]
    assert [(c.owner, c.epoch) for c in changes] == [
        (sending.sending.ownership.owner, 1),
        (second.sending.ownership.owner, 2),
    ]
    assert changes[0].previous_owner is None and changes[0].reason == "first owner of the stream"
    assert changes[1].previous_owner == sending.sending.ownership.owner
    assert changes[1].actor == second.sending.ownership.owner
    why = "stopped" if exclusive else "gave the stream up"
    assert why in changes[1].reason


def test_a_process_that_lost_its_stream_records_nothing_more(sending: Platform) -> None:
    campaign_id = sending_campaign(sending, 100)
    waiting = held_back(sending)
    sending.sending.engine.step()
    stale = waiting[0].fence
    taker = build(replace(sending.settings, lease_seconds=1.0))
    try:
        taker.sending.ownership.leases.acquire(
            "demo", taker.sending.ownership.owner, 10, force=True
        )
        engine = sending.sending.engine
        first = sending.activity.messages.next_seq(str(campaign_id))
        messages = engine.build(
            sending.app.get_campaign(campaign_id),
            sending.activity.audience.recipients_from(str(campaign_id), first, 5),
            engine.plan_links(sending.app.get_campaign(campaign_id), 5),  # type: ignore[arg-type]
        )
        with pytest.raises(LeaseLost):
            sending.activity.messages.add_messages(messages, datetime.now(UTC), fence=stale)
        hand_over(sending, waiting)  # its lease is gone: the carrier gets nothing
    finally:
        taker.close()

    assert sending.sending.carrier.accepted_count() == 0
    assert statuses(sending, campaign_id) == {"queued": 20}
    assert (
        sending.activity.messages.open_batches(campaign_id=str(campaign_id))[0].state == "recorded"
    )


@pytest.fixture
def on_postgres(tmp_path: Path) -> Iterator[Platform]:
    """A platform on PostgreSQL only: on SQLite one process sends per store (a lock file),
    and the store's recorder takes no fence."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    location = parse_database_url(postgres_url(), schema)
    platform = build(Settings(data_dir=tmp_path, postgres=location, sending=False))
    platform.sending.carrier.delay_scale = 0
    try:
        yield platform
    finally:
        platform.close()
        drop_schema(location.url, schema)


def test_the_store_refuses_a_batch_saved_under_a_stale_epoch(on_postgres: Platform) -> None:
    sending = on_postgres
    campaign_id = sending_campaign(sending, 40)
    engine = sending.sending.engine
    fence = sending.sending.ownership.fence("demo")
    sending.sending.ownership.leases.acquire("demo", "someone-else", 10, force=True)
    campaign = sending.app.get_campaign(campaign_id)
    first = sending.activity.messages.next_seq(str(campaign_id))
    messages = engine.build(
        campaign,
        sending.activity.audience.recipients_from(str(campaign_id), first, 5),
        engine.plan_links(campaign, 5),  # type: ignore[arg-type]
    )
    log_before = len(list(sending.app.events.get(_dispatch_log(campaign_id))))

    with pytest.raises(LeaseLost):
        engine.record_batch(str(campaign_id), messages, _usage(messages), fence)

    assert len(list(sending.app.events.get(_dispatch_log(campaign_id)))) == log_before


def frozen_mid_write(on_postgres: Platform, freeze: Any) -> list[BaseException]:
    """An owner holds its stream's row in a fenced write and freezes there (`freeze`, given
    the write's cursor); a successor must take the stream within 5 s. Returns how the
    frozen write ended."""
    settings = replace(on_postgres.settings, sending=True, lease_seconds=1.0)
    frozen, successor = build(settings), build(settings)
    try:
        frozen.sending.engine.step()
        fence = frozen.sending.ownership.fence("demo")
        ended: list[BaseException] = []

        def write_then_freeze() -> None:
            try:
                with frozen.database.transaction() as cursor:
                    check_fence(cursor, "postgres", fence)  # holds the lease's row
                    freeze(cursor)
            except Exception as error:
                ended.append(error)

        writer = threading.Thread(target=write_then_freeze)
        writer.start()
        started = time.monotonic()
        while "demo" not in successor.sending.ownership.working():
            assert time.monotonic() - started < 5, "the frozen owner kept its stream"
            successor.sending.ownership.refresh()
            time.sleep(0.1)
        writer.join()
    finally:
        successor.close()
        frozen.close()
    return ended


def test_an_owner_frozen_inside_a_fenced_write_does_not_keep_its_stream_from_a_successor(
    on_postgres: Platform,
) -> None:
    def idle(_cursor: Any) -> None:
        time.sleep(6)  # frozen: the session sits idle inside the transaction

    assert frozen_mid_write(on_postgres, idle), "the server ended the frozen session"


def test_an_owner_frozen_in_the_middle_of_a_statement_is_ended_by_its_successor(
    on_postgres: Platform,
) -> None:
    """Frozen while a COPY waits for its rows, a session is not idle in its transaction, so
    the server's timeout never ends it; the successor does, once the lease is over."""

    def in_a_copy(cursor: Any) -> None:
        with cursor.cursor.copy("COPY clicks (message_id, at, user_agent) FROM STDIN"):
            time.sleep(8)  # frozen: the COPY waits for rows that never come

    assert frozen_mid_write(on_postgres, in_a_copy), "the successor ended the frozen session"


def test_a_new_owner_settles_a_claimed_batch_by_what_the_carrier_took(
    sending: Platform,
) -> None:
    campaign_id = sending_campaign(sending, 60)
    waiting = held_back(sending)
    sending.sending.engine.step()
    sending.sending.engine.step()
    first, second = waiting
    activity, carrier = sending.activity, sending.sending.carrier
    # The old owner claimed both batches; the carrier took the first, then it died.
    activity.messages.claim(first.fence, first.ref, first.messages)
    activity.messages.claim(second.fence, second.ref, second.messages)
    carrier.submit(first.messages, two_way=False)

    del sending.sending.engine.handover.put
    successor = build(sending.settings)
    try:
        successor.sending.carrier.delay_scale = 0
        if not successor.sending.ownership.exclusive:
            sending.sending.ownership.give_up("demo")
        drive(successor, campaign_id, Status.FINISHED)
        per_recipient = dict(activity.messages.count_per_recipient(str(campaign_id)))
        taken_twice = successor.sending.carrier.recipients_taken_more_than_once()
        taken = successor.sending.carrier.accepted_count()
    finally:
        successor.close()

    assert len(per_recipient) == 60 and set(per_recipient.values()) == {1}
    assert taken == 60 and taken_twice == []
    assert activity.stats.verify_stats() == []


def test_a_new_owner_has_the_carrier_report_on_messages_its_predecessor_left_without_outcome(
    sending: Platform,
) -> None:
    sending.sending.carrier.delay_scale = 1.0  # reports wait in memory: lost with the process
    campaign_id = sending_campaign(sending, 60)
    drive(sending, campaign_id, Status.FINISHED)
    assert statuses(sending, campaign_id) == {"sent": 60}

    successor = build(sending.settings)
    try:
        successor.sending.carrier.delay_scale = 0
        if not successor.sending.ownership.exclusive:
            sending.sending.ownership.give_up("demo")
        successor.sending.engine.step()
    finally:
        successor.close()

    found = statuses(sending, campaign_id)
    assert "sent" not in found and sum(found.values()) == 60, found
    assert sending.activity.stats.verify_stats() == []


def _dispatch_log(campaign_id: uuid.UUID) -> Any:
    from domain.dispatch import DispatchLog

    return DispatchLog.id_for(str(campaign_id))


def _usage(messages: list[Any]) -> Any:
    from infra.engine import usage_of

    return usage_of(messages)
