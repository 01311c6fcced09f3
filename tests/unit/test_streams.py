"""Sending streams (F17): the demo stream, its rate and its simulated outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.errors import NotFound, ValidationFailed
from domain.stream import DEMO_CARRIER_DEFAULTS, Stream

OUTCOMES = {"delivered": 0.5, "undelivered": 0.2, "failed": 0.1, "no_route": 0.1, "rejected": 0.1}


def demo(app: CampaignPlatform) -> Stream:
    stream = app.find_stream("demo")
    assert stream is not None
    return stream


def test_the_demo_stream_exists_enabled_and_unlimited(app: CampaignPlatform) -> None:
    stream = demo(app)

    assert app.stream_names() == ["demo"]
    assert (stream.carrier, stream.rate, stream.enabled) == ("demo", 0, True)
    assert stream.options == DEMO_CARRIER_DEFAULTS


def test_ensuring_the_demo_stream_twice_writes_nothing(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    with writes_nothing():
        app.ensure_demo_stream()

    assert app.stream_names() == ["demo"]


def test_the_rate_of_a_stream_changes(app: CampaignPlatform) -> None:
    app.change_stream("demo", {"rate": 25}, actor="ops")

    assert demo(app).rate == 25


def test_a_stream_is_disabled_and_enabled(app: CampaignPlatform) -> None:
    app.change_stream("demo", {"enabled": False}, actor="ops")
    assert demo(app).enabled is False

    app.change_stream("demo", {"enabled": True}, actor="ops")
    assert demo(app).enabled is True


def test_the_demo_outcomes_change_when_their_shares_sum_to_one(app: CampaignPlatform) -> None:
    app.change_stream("demo", {"outcomes": OUTCOMES, "click_rate": 0.2, "seed": 7}, actor="ops")

    options = demo(app).options
    assert options["outcomes"] == OUTCOMES
    assert (options["click_rate"], options["seed"]) == (0.2, 7)
    assert options["optout_rate"] == DEMO_CARRIER_DEFAULTS["optout_rate"]


def test_outcomes_left_out_count_as_zero(app: CampaignPlatform) -> None:
    app.change_stream("demo", {"outcomes": {"delivered": 1}}, actor="ops")

    assert demo(app).options["outcomes"] == {
        "delivered": 1.0,
        "undelivered": 0.0,
        "failed": 0.0,
        "no_route": 0.0,
        "rejected": 0.0,
    }


def test_a_change_to_the_same_values_writes_nothing(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    with writes_nothing():
        app.change_stream(
            "demo",
            {"rate": 0, "enabled": True, "outcomes": DEMO_CARRIER_DEFAULTS["outcomes"]},
            actor="ops",
        )


@pytest.mark.parametrize(
    ("raw", "field", "why"),
    [
        ({"outcomes": {**OUTCOMES, "delivered": 0.6}}, "outcomes", "must sum to 1"),
        ({"outcomes": {"delivered": 0.9}}, "outcomes", "must sum to 1"),
        ({"outcomes": {"delivered": 1.5, "failed": -0.5}}, "outcomes", "a share from 0 to 1"),
        ({"outcomes": {"delivered": 1, "lost": 0}}, "outcomes", "unknown field 'lost'"),
        ({"outcomes": [1]}, "outcomes", "must be an object"),
        ({"rate": -1}, "rate", "0 for unlimited"),
        ({"rate": 2.5}, "rate", "whole number"),
        ({"rate": True}, "rate", "whole number"),
        ({"enabled": "no"}, "enabled", "true or false"),
        ({"enabled": 0}, "enabled", "true or false"),
        ({"click_rate": 1.01}, "click_rate", "a share from 0 to 1"),
        ({"reply_rate": "0.1"}, "reply_rate", "a share from 0 to 1"),
        ({"seed": 1.5}, "seed", "whole number"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_an_invalid_stream_change_is_refused_and_nothing_is_saved(
    app: CampaignPlatform,
    writes_nothing: Callable[[], Any],
    raw: dict[str, Any],
    field: str,
    why: str,
) -> None:
    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.change_stream("demo", raw, actor="ops")

    assert refused.value.details[0]["field"] == field
    assert why in refused.value.details[0]["message"]


def test_changing_an_unknown_stream_is_not_found(
    app: CampaignPlatform, writes_nothing: Callable[[], Any]
) -> None:
    with writes_nothing(), pytest.raises(NotFound):
        app.change_stream("nowhere", {"rate": 5}, actor="ops")


def test_carrier_options_are_refused_for_a_stream_that_is_not_a_demo(
    app: CampaignPlatform,
) -> None:
    real = Stream.register("carrier-x", "smpp", 100, {}, actor="system")
    app.save_with_catalogue("streams", [real], actor="system")

    with pytest.raises(ValidationFailed) as refused:
        app.change_stream("carrier-x", {"rate": 5, "click_rate": 0.1}, actor="ops")

    assert refused.value.details[0]["field"] == "click_rate"
    assert app.stream_names() == ["carrier-x", "demo"]
