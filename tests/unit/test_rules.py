"""Auto-pause rules (F9): live stats that suspend a campaign, with the values as the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.rules import fired, first_fired, percent, read

CTR_BELOW_2 = {"metric": "ctr", "below": 2, "after": 1000}
FAILURES_ABOVE_10 = {"metric": "failure_rate", "above": 10, "after": 100}
OPTOUTS_ABOVE_1 = {"metric": "optout_rate", "above": 1, "after": 500}
COST_ABOVE_50 = {"metric": "cost", "above": 50, "after": 0}


def test_a_low_ctr_fires_once_enough_messages_are_delivered() -> None:
    reason = fired(CTR_BELOW_2, {"delivered": 1000, "unique_clicks": 15})
    assert reason == (
        "auto-pause rule: CTR 1.50% is below 2% after 1000 messages delivered (rule: after 1000)"
    )


def test_a_low_ctr_does_not_fire_before_the_after_threshold() -> None:
    assert fired(CTR_BELOW_2, {"delivered": 999, "unique_clicks": 0}) is None


def test_a_ctr_above_the_floor_does_not_fire() -> None:
    assert fired(CTR_BELOW_2, {"delivered": 5000, "unique_clicks": 150}) is None


def test_a_ctr_exactly_at_the_floor_does_not_fire() -> None:
    assert fired(CTR_BELOW_2, {"delivered": 1000, "unique_clicks": 20}) is None


def test_the_ctr_counts_unique_clicks_not_all_clicks() -> None:
    counters = {"delivered": 1000, "clicks": 900, "unique_clicks": 10}
    assert fired(CTR_BELOW_2, counters) is not None


def test_the_ctr_is_measured_over_delivered_not_sent() -> None:
    counters = {"sent": 100_000, "delivered": 1000, "unique_clicks": 30}  # 3% of delivered
    assert fired(CTR_BELOW_2, counters) is None


def test_no_rule_fires_while_nothing_is_delivered_even_with_after_zero() -> None:
    rule = {"metric": "ctr", "below": 5, "after": 0}
    assert fired(rule, {}) is None
    assert fired(rule, {"sent": 10_000, "delivered": 0}) is None


def test_a_rule_without_after_applies_from_the_first_delivery() -> None:
    assert fired({"metric": "ctr", "below": 5}, {"delivered": 1}) is not None


def test_a_high_failure_rate_fires_after_enough_final_receipts() -> None:
    counters = {"delivered": 80, "undelivered": 10, "failed": 5, "no_route": 3, "rejected": 2}
    reason = fired(FAILURES_ABOVE_10, counters)
    assert reason == (
        "auto-pause rule: failure rate 20.00% is above 10% after 100 messages with a final "
        "receipt (rule: after 100)"
    )


def test_the_failure_rate_waits_for_final_receipts_not_messages_sent() -> None:
    # 1000 sent but only 99 with an outcome yet: below `after`.
    counters = {"sent": 1000, "delivered": 79, "failed": 20}
    assert fired(FAILURES_ABOVE_10, counters) is None


def test_a_failure_rate_below_the_cap_does_not_fire() -> None:
    assert fired(FAILURES_ABOVE_10, {"delivered": 950, "failed": 50}) is None


def test_a_failure_rate_exactly_at_the_cap_does_not_fire() -> None:
    assert fired(FAILURES_ABOVE_10, {"delivered": 90, "failed": 10}) is None


def test_every_message_failing_is_a_failure_rate_of_one_hundred_percent() -> None:
    reading = read("failure_rate", {"failed": 100})
    assert (reading.value, reading.base) == (Decimal("100.00"), 100)
    assert fired(FAILURES_ABOVE_10, {"failed": 100}) is not None


def test_a_high_opt_out_rate_fires_after_enough_deliveries() -> None:
    counters = {"delivered": 500, "opt_outs": 6}
    reason = fired(OPTOUTS_ABOVE_1, counters)
    assert reason is not None
    assert "opt-out rate 1.20% is above 1%" in reason


def test_an_opt_out_rate_below_the_after_threshold_does_not_fire() -> None:
    assert fired(OPTOUTS_ABOVE_1, {"delivered": 499, "opt_outs": 499}) is None


def test_a_low_opt_out_rate_does_not_fire() -> None:
    assert fired(OPTOUTS_ABOVE_1, {"delivered": 1000, "opt_outs": 5}) is None


def test_a_cost_above_the_cap_fires_with_the_amount_in_money() -> None:
    counters = {"sent": 800, "cost_units": 500_100}  # 50.0100
    reason = fired(COST_ABOVE_50, counters)
    assert reason == (
        "auto-pause rule: cost 50.0100 is above 50 after 800 messages sent (rule: after 0)"
    )


def test_a_cost_at_or_below_the_cap_does_not_fire() -> None:
    assert fired(COST_ABOVE_50, {"sent": 800, "cost_units": 500_000}) is None
    assert fired(COST_ABOVE_50, {"sent": 800, "cost_units": 10}) is None


def test_a_cost_rule_waits_for_its_after_threshold_of_messages_sent() -> None:
    rule = {**COST_ABOVE_50, "after": 1000}
    assert fired(rule, {"sent": 999, "cost_units": 900_000}) is None
    assert fired(rule, {"sent": 1000, "cost_units": 900_000}) is not None


def test_fractional_thresholds_are_compared_exactly() -> None:
    rule = {"metric": "ctr", "below": 1.5, "after": 0}
    assert fired(rule, {"delivered": 1000, "unique_clicks": 14}) is not None  # 1.40%
    assert fired(rule, {"delivered": 1000, "unique_clicks": 15}) is None  # 1.50%


def test_readings_with_a_zero_denominator_are_zero() -> None:
    assert read("ctr", {}).value == Decimal(0)
    assert read("optout_rate", {"opt_outs": 3}).value == Decimal(0)
    assert read("failure_rate", {"sent": 10}).value == Decimal(0)
    assert read("cost", {}).value == Decimal("0.0000")
    assert percent(5, 0) == Decimal(0)


def test_percentages_are_given_to_two_places() -> None:
    assert percent(1, 3) == Decimal("33.33")
    assert percent(2, 3) == Decimal("66.67")


def test_an_unknown_metric_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        read("bounce_rate", {})


def test_the_first_rule_that_holds_is_the_one_reported() -> None:
    counters = {"sent": 2000, "delivered": 1000, "unique_clicks": 5, "failed": 500}
    hit = first_fired([OPTOUTS_ABOVE_1, FAILURES_ABOVE_10, CTR_BELOW_2], counters)
    assert hit is not None
    rule, reason = hit
    assert rule is FAILURES_ABOVE_10
    assert reason.startswith("auto-pause rule: failure rate")


def test_no_rule_holding_and_no_rules_at_all_report_nothing() -> None:
    assert first_fired([CTR_BELOW_2, COST_ABOVE_50], {"delivered": 10}) is None
    assert first_fired([], {"delivered": 10_000}) is None
