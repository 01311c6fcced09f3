"""The sending engine end to end on the demo stream, on SQLite and on PostgreSQL.

The engine and the demo carrier are driven step by step (no background threads), with the
carrier reporting at once, so every scenario is deterministic and fast.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.campaign import Campaign
from domain.errors import IllegalTransition
from domain.status import Status
from infra.bootstrap import Platform, build
from infra.settings import Settings
from projections.activity import from_units

SHORT, OPTOUT = "go1.example.com", "out1.example.com"
TEXT = "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}"


@pytest.fixture
def sending(store: Settings) -> Iterator[Platform]:
    platform = build(store)
    platform.sending.carrier.delay_scale = 0
    try:
        yield platform
    finally:
        platform.close()


def add_configured(platform: Platform, *names: str) -> None:
    platform.app.add_domains(list(names), actor="alice")
    for name in names:
        platform.app.change_domain_status(name, "configure", actor="alice")


def contact_list(platform: Platform, count: int, *, start: int = 0) -> str:
    lines = ["phone,first_name"] + [
        f"+4477009{n:05d},Person{n}" for n in range(start, start + count)
    ]
    result = platform.contacts.import_stream(
        io.StringIO("\n".join(lines) + "\n"), "people", actor="alice"
    )
    return str(result.list_id)


def new_campaign(platform: Platform, lists: list[str], **overrides: Any) -> Campaign:
    fields: dict[str, Any] = {
        "name": "Spring sale",
        "sender": "Shop",
        "contact_lists": lists,
        "variants": [{"text": TEXT, "weight": 3}, {"text": "Sale {short_url} {optout_url}"}],
        "links": {
            "short": {"target": "https://shop.example.com/spring", "domains": [SHORT]},
            "optout": {"domains": [OPTOUT]},
        },
        **overrides,
    }
    campaign = platform.app.create_campaign(fields, actor="alice")
    platform.app.change_campaign_status(campaign.id, "launch", actor="alice")
    return campaign


def drive(platform: Platform, campaign_id: uuid.UUID, *until: Status, steps: int = 500) -> Campaign:
    """Steps the engine until the campaign reaches one of `until`."""
    for _ in range(steps):
        platform.feed.catch_up()
        campaign = platform.app.get_campaign(campaign_id)
        if campaign.status in until:
            return campaign
        platform.sending.engine.step()
    raise AssertionError(f"the campaign stayed {platform.app.get_campaign(campaign_id).status}")


def messages_of(platform: Platform, campaign_id: uuid.UUID) -> list[tuple[Any, ...]]:
    rows, _total = platform.sending.activity.messages.page(str(campaign_id), 1, 1_000_000)
    return rows


def test_a_campaign_runs_to_finished_and_its_numbers_add_up(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    campaign = new_campaign(sending, [contact_list(sending, 300)])

    finished = drive(sending, campaign.id, Status.FINISHED)

    counters = sending.sending.activity.stats.campaign_counters(str(campaign.id))
    outcomes = sum(
        counters[k] for k in ("delivered", "undelivered", "failed", "no_route", "rejected")
    )
    rows = messages_of(sending, campaign.id)
    assert finished.recipients == 300
    assert counters["sent"] == 300 == len(rows)
    assert outcomes == counters["sent"]
    assert counters["queued"] == 0
    assert from_units(counters["cost_units"]) == sum(from_units(r[6]) for r in rows)
    assert from_units(counters["cost_units"]) > Decimal(0)
    assert Counter(r[3] for r in rows).most_common()[0][1] == 225  # the 3:1 ratio, exactly
    assert finished.status_reason == "every recipient attempted (300 messages)"


def test_a_low_domain_limit_suspends_naming_the_domains_and_a_new_domain_lets_it_finish(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.app.set_domain_limit({"limit": 60}, actor="alice")
    campaign = new_campaign(sending, [contact_list(sending, 100)])

    suspended = drive(sending, campaign.id, Status.SUSPENDED)

    assert SHORT in suspended.status_reason and OPTOUT in suspended.status_reason
    assert "messaging limit of 60" in suspended.status_reason
    assert suspended.suspension is not None and suspended.suspension["kind"] == "domains"
    assert len(messages_of(sending, campaign.id)) == 60
    with pytest.raises(IllegalTransition) as refused:
        sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    assert "no usable domain for the Short URL" in refused.value.message

    add_configured(sending, "go2.example.com", "out2.example.com")
    links = {
        "short": {
            "target": "https://shop.example.com/spring",
            "domains": [SHORT, "go2.example.com"],
        },
        "optout": {"domains": [OPTOUT, "out2.example.com"]},
    }
    sending.app.edit_campaign(campaign.id, {"links": links}, actor="alice")
    sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    drive(sending, campaign.id, Status.FINISHED)

    per_recipient = dict(sending.sending.activity.messages.count_per_recipient(str(campaign.id)))
    assert len(per_recipient) == 100 and set(per_recipient.values()) == {1}
    assert sending.sending.carrier.accepted_count() == 100
    assert Counter(r[7] for r in messages_of(sending, campaign.id)) == {
        SHORT: 60,
        "go2.example.com": 40,
    }


def test_raising_the_limit_also_lets_a_suspended_campaign_resume(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.app.set_domain_limit({"limit": 10}, actor="alice")
    campaign = new_campaign(sending, [contact_list(sending, 25)])
    drive(sending, campaign.id, Status.SUSPENDED)

    sending.app.set_domain_limit({"limit": 100}, actor="alice")
    sending.app.change_campaign_status(campaign.id, "resume", actor="alice")

    assert drive(sending, campaign.id, Status.FINISHED).status is Status.FINISHED
    assert len(messages_of(sending, campaign.id)) == 25


def test_a_ratio_change_while_sending_applies_to_the_recipients_not_yet_reached(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 100
    campaign = new_campaign(
        sending,
        [contact_list(sending, 400)],
        variants=[{"text": TEXT, "weight": 1}, {"text": "B {short_url} {optout_url}", "weight": 1}],
    )
    drive(sending, campaign.id, Status.SENDING)
    while len(messages_of(sending, campaign.id)) < 200:
        sending.sending.engine.step()
    assert len(messages_of(sending, campaign.id)) == 200
    variants = sending.app.get_campaign(campaign.id).fields["variants"]
    first, second = variants[0]["id"], variants[1]["id"]

    sending.app.edit_campaign(
        campaign.id,
        {"variants": [{"id": first, "weight": 9}, {"id": second, "weight": 1}]},
        actor="alice",
    )
    drive(sending, campaign.id, Status.FINISHED)

    rows = messages_of(sending, campaign.id)
    before, after = rows[:200], rows[200:]
    assert Counter(r[3] for r in before) == {first: 100, second: 100}
    assert Counter(r[3] for r in after) == {first: 180, second: 20}
    assert sending.app.get_campaign(campaign.id).ratio_epoch == 1


def test_an_opted_out_number_is_never_messaged_again(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    people = contact_list(sending, 50)
    first = new_campaign(sending, [people])
    drive(sending, first.id, Status.FINISHED)
    row = messages_of(sending, first.id)[7]
    recipient, optout_code = row[2], row[1]
    assert sending.sending.activity.engagement.opt_out_by_code(
        optout_code, first.created_on, "test"
    )

    second = new_campaign(sending, [people], name="Summer sale")
    drive(sending, second.id, Status.FINISHED)

    recipients = [r[2] for r in messages_of(sending, second.id)]
    assert recipient not in recipients
    assert sending.app.get_campaign(second.id).recipients == len(recipients)
    opted = {r[2] for r in messages_of(sending, first.id)} - set(recipients)
    assert recipient in opted


def test_pausing_stops_dispatch_and_resuming_continues_where_it_stopped(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 50
    campaign = new_campaign(sending, [contact_list(sending, 200)])
    drive(sending, campaign.id, Status.SENDING)
    sending.sending.engine.step()
    sending.app.change_campaign_status(campaign.id, "pause", actor="alice")
    sent_at_pause = len(messages_of(sending, campaign.id))

    for _ in range(5):
        sending.feed.catch_up()
        sending.sending.engine.step()
    assert len(messages_of(sending, campaign.id)) == sent_at_pause < 200

    sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    drive(sending, campaign.id, Status.FINISHED)
    per_recipient = dict(sending.sending.activity.messages.count_per_recipient(str(campaign.id)))
    assert len(per_recipient) == 200 and set(per_recipient.values()) == {1}


def test_aborting_stops_a_campaign_at_once(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 50
    campaign = new_campaign(sending, [contact_list(sending, 200)])
    drive(sending, campaign.id, Status.SENDING)
    sending.sending.engine.step()

    sending.app.change_campaign_status(campaign.id, "abort", actor="alice")
    sent = len(messages_of(sending, campaign.id))
    for _ in range(5):
        sending.feed.catch_up()
        sending.sending.engine.step()

    assert len(messages_of(sending, campaign.id)) == sent < 200
    assert sending.app.get_campaign(campaign.id).status is Status.ABORTED


def test_an_auto_pause_rule_suspends_with_the_rule_and_its_values(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 50
    campaign = new_campaign(
        sending,
        [contact_list(sending, 300)],
        pause_rules=[{"metric": "ctr", "below": 50, "after": 40}],
    )

    suspended = drive(sending, campaign.id, Status.SUSPENDED)

    assert suspended.status_reason.startswith("auto-pause rule: CTR ")
    assert "is below 50%" in suspended.status_reason
    assert suspended.suspension is not None
    assert suspended.suspension["kind"] == "rule"
    assert suspended.suspension["rule"] == {"metric": "ctr", "below": 50, "after": 40}
    assert suspended.suspension["base"] == "delivered"
    assert suspended.suspension["measured_over"] >= 40
    assert Decimal(suspended.suspension["value"]) < 50
    with pytest.raises(IllegalTransition) as refused:
        sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    assert "edit or remove the rule" in refused.value.message

    sending.app.edit_campaign(campaign.id, {"pause_rules": []}, actor="alice")
    sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    assert drive(sending, campaign.id, Status.FINISHED).status is Status.FINISHED


def test_a_campaign_without_a_configured_domain_is_rejected_with_the_reason(
    sending: Platform,
) -> None:
    sending.app.add_domains([SHORT, OPTOUT], actor="alice")  # added, never configured
    campaign = new_campaign(sending, [contact_list(sending, 5)])

    rejected = drive(sending, campaign.id, Status.REJECTED)

    assert "no Configured domain for the Short URL" in rejected.status_reason
    assert f"{SHORT} (Pending)" in rejected.status_reason


def test_a_forbidden_phrase_rejects_the_campaign(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    campaign = new_campaign(
        sending,
        [contact_list(sending, 5)],
        variants=[{"text": "Claim your gift card now {short_url} {optout_url}"}],
    )

    rejected = drive(sending, campaign.id, Status.REJECTED)

    assert "forbidden phrase 'gift card'" in rejected.status_reason


def test_a_campaign_whose_audience_is_all_opted_out_is_rejected(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    people = contact_list(sending, 3)
    for n in range(3):
        sending.sending.activity.engagement.opt_out(
            f"+4477009{n:05d}", datetime.now(UTC), source="t"
        )
    campaign = new_campaign(sending, [people])

    rejected = drive(sending, campaign.id, Status.REJECTED)

    assert "no recipient left" in rejected.status_reason


def test_a_scheduled_campaign_starts_when_its_time_comes(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    campaign = new_campaign(sending, [contact_list(sending, 5)], start_at="2999-01-01T00:00:00Z")
    assert drive(sending, campaign.id, Status.SCHEDULED).status is Status.SCHEDULED

    sending.sending.engine.now = lambda: datetime(2999, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert drive(sending, campaign.id, Status.FINISHED).status is Status.FINISHED


def test_outside_its_sending_window_a_campaign_waits_as_started(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    schedule = {"days": ["mon"], "from": "09:00", "to": "10:00", "time_zone": "Europe/Berlin"}
    sunday_noon = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    monday_nine_thirty = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
    sending.sending.engine.now = lambda: sunday_noon
    campaign = new_campaign(sending, [contact_list(sending, 5)], sending_schedule=schedule)

    started = drive(sending, campaign.id, Status.STARTED)
    for _ in range(3):
        sending.sending.engine.step()
    assert sending.app.get_campaign(campaign.id).status is Status.STARTED
    assert started.started_at is not None

    sending.sending.engine.now = lambda: monday_nine_thirty
    assert drive(sending, campaign.id, Status.FINISHED).status is Status.FINISHED


def test_disabling_the_stream_suspends_its_campaigns_until_it_is_enabled_again(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    sending.sending.engine.batch = 20
    campaign = new_campaign(sending, [contact_list(sending, 100)])
    drive(sending, campaign.id, Status.SENDING)

    sending.app.change_stream("demo", {"enabled": False}, actor="ops")
    suspended = drive(sending, campaign.id, Status.SUSPENDED)

    assert suspended.status_reason == "the stream demo is disabled"
    with pytest.raises(IllegalTransition) as refused:
        sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    assert "the stream demo is disabled" in refused.value.message
    sending.app.change_stream("demo", {"enabled": True}, actor="ops")
    sending.app.change_campaign_status(campaign.id, "resume", actor="alice")
    assert drive(sending, campaign.id, Status.FINISHED).status is Status.FINISHED
    assert len(messages_of(sending, campaign.id)) == 100


def test_a_domain_unused_for_ninety_days_is_archived_by_the_system(sending: Platform) -> None:
    add_configured(sending, SHORT)
    sending.app.add_domains(["fresh.example.com"], actor="alice")
    later = datetime.now(UTC) + timedelta(days=91)
    sending.sending.engine.now = lambda: later

    sending.sending.engine.step()

    statuses = {d.name: d.status.value for d in sending.app.list_domains()}
    assert statuses == {SHORT: "Archived", "fresh.example.com": "Archived"}
    history = sending.read_events(0, 1000)
    archived = [m for m in history if m.type == "LinkDomain.StatusChanged"][-1]
    assert archived.data["actor"] == "system"
    assert archived.data["reason"].startswith("unused for 90 days")


def test_a_number_opting_out_after_preparation_is_suppressed_and_never_sent(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    campaign = new_campaign(sending, [contact_list(sending, 20)], start_at="2999-01-01T00:00:00Z")
    drive(sending, campaign.id, Status.SCHEDULED)
    late = "+447700900007"
    sending.sending.activity.engagement.opt_out(late, datetime.now(UTC), source="reply")

    sending.sending.engine.now = lambda: datetime(2999, 1, 1, 0, 1, tzinfo=UTC)
    drive(sending, campaign.id, Status.FINISHED)

    statuses = {r[2]: r[9] for r in messages_of(sending, campaign.id)}
    counters = sending.sending.activity.stats.campaign_counters(str(campaign.id))
    assert statuses[late] == "suppressed"
    assert counters["suppressed"] == 1 and counters["sent"] == 19
    assert sending.sending.carrier.accepted_count(late) == 0
    assert sending.sending.carrier.accepted_count() == 19


def test_the_same_receipts_from_many_threads_at_once_count_once(sending: Platform) -> None:
    import threading

    from projections.activity import Receipt

    add_configured(sending, SHORT, OPTOUT)
    sending.sending.carrier.delay_scale = 1000.0  # the carrier holds its own reports back
    campaign = new_campaign(sending, [contact_list(sending, 100)])
    drive(sending, campaign.id, Status.FINISHED)
    ids = [r[0] for r in messages_of(sending, campaign.id)]
    receipts = [Receipt(i, "delivered", datetime.now(UTC)) for i in ids]
    clicks = [(i, datetime.now(UTC), "phone") for i in ids]

    def report() -> None:
        sending.sending.activity.receipts.apply_receipts(receipts)
        sending.sending.activity.engagement.record_clicks(clicks)

    threads = [threading.Thread(target=report) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    counters = sending.sending.activity.stats.campaign_counters(str(campaign.id))
    assert counters["sent"] == 100
    assert counters["delivered"] == 100
    assert counters["unique_clicks"] == 100
    assert counters["clicks"] == 600


class OneBatchPerPass:
    """A stream whose capacity is exactly one batch per pass of the engine."""

    def __init__(self) -> None:
        self.left = 0

    def take(self, _rate: int, wanted: int) -> int:
        granted = min(wanted, self.left)
        self.left -= granted
        return granted


def test_campaigns_sharing_a_rate_limited_stream_take_turns(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    engine = sending.sending.engine
    engine.batch = 10
    people = contact_list(sending, 200)
    first = new_campaign(sending, [people], name="First")
    second = new_campaign(sending, [people], name="Second")
    stream = OneBatchPerPass()
    engine.buckets["demo"] = stream  # type: ignore[assignment]
    drive(sending, first.id, Status.SENDING)
    drive(sending, second.id, Status.SENDING)
    sent_before = [len(messages_of(sending, c.id)) for c in (first, second)]

    for _ in range(10):
        stream.left = 10
        engine.step()

    pairs = zip((first, second), sent_before, strict=True)
    sent = [len(messages_of(sending, campaign.id)) - before for campaign, before in pairs]
    assert sent == [50, 50]


def test_the_price_table_set_for_the_platform_prices_the_messages(sending: Platform) -> None:
    add_configured(sending, SHORT, OPTOUT)
    prices = sending.app.set_prices({"prices": {"": "0.1000", "4477": "0.0200"}}, actor="ops")
    campaign = new_campaign(sending, [contact_list(sending, 10)])

    drive(sending, campaign.id, Status.FINISHED)

    rows = messages_of(sending, campaign.id)
    assert prices == {"": "0.1000", "4477": "0.0200"}
    assert {(r[5], r[6]) for r in rows} == {(1, 200)}  # one part at 0.0200: 200 units
    history = [m for m in sending.read_events(0, 1000) if m.type == "PlatformSettings.PricesSet"]
    assert history[0].data["actor"] == "ops"


def test_a_batch_cut_short_before_the_store_saved_it_is_recorded_on_recovery(
    sending: Platform,
) -> None:
    from domain.dispatch import DispatchLog
    from domain.link_domain import LinkDomain

    add_configured(sending, SHORT, OPTOUT)
    engine = sending.sending.engine
    engine.batch = 50
    campaign = new_campaign(sending, [contact_list(sending, 120)])
    drive(sending, campaign.id, Status.READY)
    sending.sending.activity.engagement.opt_out("+447700900003", datetime.now(UTC), source="reply")
    drive(sending, campaign.id, Status.SENDING)
    record_batch = engine.record_batch

    def killed(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the process died here")

    engine.record_batch = killed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        engine.step()
    engine.record_batch = record_batch  # type: ignore[method-assign]
    engine.recover()

    log = sending.app.find(DispatchLog, DispatchLog.id_for(str(campaign.id)))
    short = sending.app.find(LinkDomain, LinkDomain.id_for(SHORT))  # type: ignore[arg-type]
    assert log is not None and (log.next_seq, log.messages) == (50, 50)
    assert short is not None and short.usage == 49  # the suppressed message used no domain
    drive(sending, campaign.id, Status.FINISHED)
    log = sending.app.find(DispatchLog, DispatchLog.id_for(str(campaign.id)))
    short = sending.app.find(LinkDomain, LinkDomain.id_for(SHORT))  # type: ignore[arg-type]
    assert log is not None and log.messages == 120
    assert short is not None and short.usage == 119
    assert sending.sending.carrier.accepted_count() == 119


def each_recipient_messaged_once(platform: Platform, campaign_id: uuid.UUID, count: int) -> None:
    activity, carrier = platform.sending.activity, platform.sending.carrier
    per_recipient = dict(activity.messages.count_per_recipient(str(campaign_id)))
    assert len(per_recipient) == count and set(per_recipient.values()) == {1}
    assert carrier.accepted_count() == count
    assert carrier.recipients_taken_more_than_once() == []
    assert activity.messages.queued(1000) == []
    assert activity.stats.verify_stats() == []


def test_a_batch_the_carrier_took_but_not_marked_sent_is_handed_over_again_once(
    sending: Platform,
) -> None:
    add_configured(sending, SHORT, OPTOUT)
    engine = sending.sending.engine
    engine.batch = 40
    campaign = new_campaign(sending, [contact_list(sending, 200)])
    activity = sending.sending.activity
    mark_sent = activity.messages.mark_sent
    failures: list[str] = []

    def failing_once(*args: Any, **kwargs: Any) -> int:
        if not failures:
            failures.append("the database went away")
            raise RuntimeError(failures[0])
        return mark_sent(*args, **kwargs)

    activity.messages.mark_sent = failing_once  # type: ignore[method-assign]
    engine.handover.start()  # the carrier takes batches in a thread of its own

    drive(sending, campaign.id, Status.FINISHED)

    assert failures  # the first batch failed once, after the carrier took it
    each_recipient_messaged_once(sending, campaign.id, 200)


def test_a_crash_while_recorded_batches_wait_for_the_carrier_messages_each_recipient_once(
    store: Settings,
) -> None:
    platform = build(store)
    platform.sending.carrier.delay_scale = 0
    add_configured(platform, SHORT, OPTOUT)
    engine = platform.sending.engine
    engine.batch = 20
    campaign = new_campaign(platform, [contact_list(platform, 200)])
    drive(platform, campaign.id, Status.SENDING)
    handed_over: list[int] = []
    hand_over = engine.handover.hand_over

    def dying(batch: Any) -> None:
        if handed_over:  # the process dies before the carrier takes the second batch
            raise RuntimeError("the process died here")
        handed_over.append(len(batch.messages))
        hand_over(batch)

    engine.handover.hand_over = dying  # type: ignore[method-assign]
    try:
        engine.start()  # the engine records batches ahead of the carrier, in its threads
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not engine.handover.batches.full():
            assert datetime.now(UTC) < deadline, "the engine never got ahead of the carrier"
            engine.stopping.wait(0.05)
        platform.sending.stop()
        assert platform.sending.carrier.accepted_count() == 20
        # recorded, not handed over
        assert len(platform.sending.activity.messages.queued(1000)) >= 40
    finally:
        platform.close()

    restarted = build(store)  # the next start hands the recorded batches over, then goes on
    try:
        restarted.sending.carrier.delay_scale = 0
        restarted.sending.engine.batch = 20
        restarted.sending.engine.recover()
        drive(restarted, campaign.id, Status.FINISHED)
        each_recipient_messaged_once(restarted, campaign.id, 200)
    finally:
        restarted.close()
