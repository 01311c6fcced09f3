"""The demo carrier's plans (F17): what happens to each message, decided from a seed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from domain.dispatch import link_codes
from domain.replies import opts_out
from domain.stream import DEMO_CARRIER_DEFAULTS, OUTCOMES
from infra.demo_carrier import (
    DUPLICATE_SHARE,
    LATE_SENT_SHARE,
    PURPOSES,
    REPLY_TEXTS,
    Draws,
    Plan,
    outcome_for,
    plan_for,
)
from projections.activity import OutgoingMessage

CAMPAIGN = "0b8e6a52-6f0d-4c4e-9a3b-2d1f5e7c9a10"
SHARES = {
    "delivered": 0.80,
    "undelivered": 0.08,
    "failed": 0.06,
    "no_route": 0.04,
    "rejected": 0.02,
}
RATES = {"click_rate": 0.08, "optout_rate": 0.01, "reply_rate": 0.2}
MANY = 20_000


def message(seq: int) -> OutgoingMessage:
    short, optout = link_codes(CAMPAIGN, seq)
    return OutgoingMessage(
        id=short,
        optout_code=optout,
        campaign_id=CAMPAIGN,
        seq=seq,
        recipient=f"+4477009{seq:05d}",
        variant_id="v1",
        epoch=0,
        text="Hi",
        parts=1,
        cost_units=380,
        domain="go.example.com",
        optout_domain="out.example.com",
    )


MESSAGES = [message(seq) for seq in range(MANY)]


@pytest.fixture(scope="module")
def many() -> list[Plan]:
    """Plans for twenty thousand messages of a two-way campaign, made once for the module."""
    return plans({"seed": 5, "outcomes": SHARES, **RATES}, two_way=True)


def plans(options: dict[str, Any], two_way: bool = False, count: int = MANY) -> list[Plan]:
    return [plan_for(m, options, two_way, 1.0) for m in MESSAGES[:count]]


def kinds(plan: Plan, kind: str) -> list[tuple[float, str, Any]]:
    return [report for report in plan.reports if report[1] == kind]


def receipts(plan: Plan) -> list[tuple[float, str, Any]]:
    return kinds(plan, "receipt")


# Draws.


def test_draws_depend_only_on_the_seed_and_the_message() -> None:
    first, again = Draws(7, "abc"), Draws(7, "abc")
    assert [first[p] for p in PURPOSES] == [again[p] for p in PURPOSES]


def test_another_seed_or_another_message_draws_other_numbers() -> None:
    base = [Draws(7, "abc")[p] for p in PURPOSES]
    assert [Draws(8, "abc")[p] for p in PURPOSES] != base
    assert [Draws(7, "abd")[p] for p in PURPOSES] != base


def test_draws_lie_between_zero_and_one_and_differ_by_purpose() -> None:
    for index in range(500):
        draws = Draws(1, f"m{index}")
        values = [draws[p] for p in PURPOSES]
        assert all(0.0 <= value < 1.0 for value in values)
        assert len(set(values)) == len(values)


def test_draws_for_one_purpose_are_spread_evenly() -> None:
    values = [Draws(3, m.id)["click"] for m in MESSAGES]
    assert sum(values) / len(values) == pytest.approx(0.5, abs=0.01)
    assert sum(value < 0.1 for value in values) / len(values) == pytest.approx(0.1, abs=0.01)


# Outcomes.


def test_an_outcome_is_chosen_by_cumulative_shares_in_order() -> None:
    assert outcome_for(0.0, SHARES) == "delivered"
    assert outcome_for(0.79, SHARES) == "delivered"
    assert outcome_for(0.80, SHARES) == "undelivered"
    assert outcome_for(0.87, SHARES) == "undelivered"
    assert outcome_for(0.90, SHARES) == "failed"
    assert outcome_for(0.95, SHARES) == "no_route"
    assert outcome_for(0.99, SHARES) == "rejected"


def test_an_outcome_with_no_share_is_never_chosen() -> None:
    shares = {"delivered": 0.5, "failed": 0.5}
    assert {outcome_for(i / 100, shares) for i in range(100)} == {"delivered", "failed"}


def test_draws_beyond_the_shares_are_delivered() -> None:
    assert outcome_for(0.5, {}) == "delivered"
    assert outcome_for(0.99, {"failed": 0.1}) == "delivered"


# Plans.


def test_the_same_seed_and_message_always_give_the_same_plan() -> None:
    options = {**DEMO_CARRIER_DEFAULTS, "seed": 42}
    for m in MESSAGES[:200]:
        assert plan_for(m, options, True, 1.0) == plan_for(m, dict(options), True, 1.0)


def test_another_seed_gives_other_plans() -> None:
    first = plans({**DEMO_CARRIER_DEFAULTS, "seed": 1}, count=200)
    second = plans({**DEMO_CARRIER_DEFAULTS, "seed": 2}, count=200)
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 190
    assert [p.outcome for p in first] != [p.outcome for p in second]


def test_without_a_seed_the_plan_is_that_of_seed_one() -> None:
    options = {key: value for key, value in DEMO_CARRIER_DEFAULTS.items() if key != "seed"}
    assert plans(options, count=50) == plans({**options, "seed": 1}, count=50)


def test_outcome_shares_are_respected_over_twenty_thousand_messages(many: list[Plan]) -> None:
    counted = Counter(plan.outcome for plan in many)
    for outcome in OUTCOMES:
        assert counted[outcome] / MANY == pytest.approx(SHARES[outcome], abs=0.01), outcome


def test_without_outcome_shares_every_message_is_delivered() -> None:
    assert {plan.outcome for plan in plans({"seed": 5}, count=500)} == {"delivered"}


def test_every_message_gets_a_sent_receipt_and_its_final_outcome() -> None:
    for plan in plans({"seed": 9, "outcomes": SHARES}, count=2000):
        statuses = [payload[1] for _delay, _kind, payload in receipts(plan)]
        assert statuses.count("sent") == 1
        assert statuses.count(plan.outcome) in (1, 2)
        assert set(statuses) == {"sent", plan.outcome}


def test_receipts_name_the_message() -> None:
    m = MESSAGES[3]
    plan = plan_for(m, {"seed": 1}, False, 1.0)
    assert {payload[0] for _delay, _kind, payload in receipts(plan)} == {m.id}


def test_about_five_percent_of_final_receipts_are_reported_twice(many: list[Plan]) -> None:
    twice = sum(len(receipts(plan)) == 3 for plan in many)
    assert twice / MANY == pytest.approx(DUPLICATE_SHARE, abs=0.005)


def test_a_duplicate_receipt_repeats_the_final_outcome_after_it() -> None:
    for plan in plans({"seed": 11, "outcomes": SHARES}, count=3000):
        finals = [r for r in receipts(plan) if r[2][1] != "sent"]
        assert len({payload for _delay, _kind, payload in finals}) == 1
        if len(finals) == 2:
            assert finals[1][0] > finals[0][0]


def test_about_a_tenth_of_sent_receipts_arrive_after_the_final_outcome(many: list[Plan]) -> None:
    late = 0
    for plan in many:
        sent = next(r for r in receipts(plan) if r[2][1] == "sent")
        final = next(r for r in receipts(plan) if r[2][1] != "sent")
        late += sent[0] > final[0]
    # A tenth are held back on purpose; a few more overtake by chance (a quick final receipt).
    assert LATE_SENT_SHARE - 0.01 <= late / MANY <= LATE_SENT_SHARE + 0.03


def test_delays_scale_with_the_delay_scale() -> None:
    m = MESSAGES[0]
    options = {**DEMO_CARRIER_DEFAULTS, "click_rate": 1.0}
    slow = plan_for(m, options, False, 10.0)
    fast = plan_for(m, options, False, 1.0)
    assert [r[0] for r in slow.reports] == pytest.approx([r[0] * 10 for r in fast.reports])
    assert all(r[0] == 0 for r in plan_for(m, options, False, 0.0).reports)


def test_clicks_come_only_from_delivered_messages() -> None:
    options = {"seed": 17, "outcomes": SHARES, "click_rate": 1.0}
    for plan in plans(options, count=5000):
        assert len(kinds(plan, "click")) == (1 if plan.outcome == "delivered" else 0)


def test_opt_outs_and_replies_come_only_from_delivered_messages() -> None:
    options = {"seed": 17, "outcomes": SHARES, "optout_rate": 0.5, "reply_rate": 1.0}
    for plan in plans(options, two_way=True, count=5000):
        if plan.outcome != "delivered":
            assert kinds(plan, "optout") == kinds(plan, "reply") == []


def test_the_click_rate_applies_to_delivered_messages(many: list[Plan]) -> None:
    delivered = [plan for plan in many if plan.outcome == "delivered"]
    clicked = sum(bool(kinds(plan, "click")) for plan in delivered)
    assert clicked / len(delivered) == pytest.approx(RATES["click_rate"], abs=0.01)


def test_a_click_names_the_message_and_follows_its_delivery() -> None:
    for m in MESSAGES[:500]:
        plan = plan_for(m, {"seed": 1, "click_rate": 1.0}, False, 1.0)
        (click,) = kinds(plan, "click")
        final = next(r for r in receipts(plan) if r[2][1] == "delivered")
        assert click[2] == m.id
        assert click[0] > final[0]


def test_an_opt_out_uses_the_messages_opt_out_code() -> None:
    for m in MESSAGES[:200]:
        plan = plan_for(m, {"seed": 1, "optout_rate": 1.0}, False, 1.0)
        assert [r[2] for r in kinds(plan, "optout")] == [m.optout_code]


def test_one_way_campaigns_get_no_replies() -> None:
    for plan in plans({"seed": 23, "reply_rate": 1.0}, two_way=False, count=2000):
        assert kinds(plan, "reply") == []


def test_two_way_campaigns_get_replies_from_the_recipient_at_the_reply_rate(
    many: list[Plan],
) -> None:
    # Those who opt out do not also reply.
    could_reply = [p for p in many if p.outcome == "delivered" and not kinds(p, "optout")]
    replies = [r for plan in could_reply for r in kinds(plan, "reply")]
    assert len(replies) / len(could_reply) == pytest.approx(RATES["reply_rate"], abs=0.01)
    recipients = {m.recipient for m in MESSAGES}
    assert all(r[2][0] in recipients and r[2][1] in REPLY_TEXTS for r in replies)
    assert set(REPLY_TEXTS) == {r[2][1] for r in replies}


def test_some_demo_replies_are_stop_words_and_some_are_not() -> None:
    assert {opts_out(text) for text in REPLY_TEXTS} == {True, False}


def test_the_opt_out_rate_applies_to_delivered_messages(many: list[Plan]) -> None:
    delivered = [plan for plan in many if plan.outcome == "delivered"]
    opted_out = sum(bool(kinds(plan, "optout")) for plan in delivered)
    assert opted_out / len(delivered) == pytest.approx(RATES["optout_rate"], abs=0.005)


def test_a_recipient_who_opts_out_does_not_also_reply() -> None:
    options = {"seed": 29, "optout_rate": 0.5, "reply_rate": 1.0}
    for plan in plans(options, two_way=True, count=5000):
        assert len(kinds(plan, "optout")) + len(kinds(plan, "reply")) == 1


def test_no_rates_means_no_clicks_opt_outs_or_replies() -> None:
    for plan in plans({"seed": 31}, two_way=True, count=2000):
        assert {kind for _delay, kind, _payload in plan.reports} == {"receipt"}
