"""Content rules checked while a campaign is prepared (T4)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.content import FORBIDDEN_PHRASES, MAX_PARTS, content_problems


def campaign(*texts: str, **fields: Any) -> dict[str, Any]:
    return {"variants": [{"text": text} for text in texts], "sender": "Shop", **fields}


def test_ordinary_content_has_no_problems() -> None:
    assert content_problems(campaign("Spring sale: 20% off {short_url} Stop: {optout_url}")) == []


def test_a_campaign_without_variants_has_no_content_problems() -> None:
    assert content_problems({}) == []


@pytest.mark.parametrize(
    "text",
    [
        "Please verify your account now",
        "Please VERIFY YOUR ACCOUNT now",
        "Please Verify Your Account now",
        "Win a GIFT CARD today",
        "Details at BIT.LY/x",
    ],
)
def test_a_forbidden_phrase_is_found_in_any_case(text: str) -> None:
    problems = content_problems(campaign(text))
    assert len(problems) == 1
    assert problems[0].startswith("variant 1 contains the forbidden phrase")


def test_the_problem_names_the_variant_and_the_phrase() -> None:
    problems = content_problems(campaign("fine", "Send a wire transfer"))
    assert problems == ["variant 2 contains the forbidden phrase 'wire transfer'"]


def test_every_forbidden_phrase_in_a_text_is_reported() -> None:
    problems = content_problems(campaign("gift card by wire transfer"))
    assert len(problems) == 2


@pytest.mark.parametrize("phrase", FORBIDDEN_PHRASES)
def test_each_forbidden_phrase_is_refused(phrase: str) -> None:
    assert content_problems(campaign(f"Hello {phrase} bye")) != []


def test_a_text_of_the_most_parts_allowed_passes() -> None:
    assert content_problems(campaign("a" * 153 * MAX_PARTS)) == []


def test_a_text_of_too_many_parts_is_refused() -> None:
    problems = content_problems(campaign("a" * (153 * MAX_PARTS + 1)))
    assert problems == ["variant 1 takes 11 SMS parts (at most 10)"]


def test_a_ucs2_text_reaches_the_parts_limit_sooner() -> None:
    assert content_problems(campaign("Ж" * 67 * MAX_PARTS)) == []
    assert content_problems(campaign("Ж" * (67 * MAX_PARTS + 1))) != []


def test_a_two_way_campaign_needs_a_numeric_sender() -> None:
    problems = content_problems(campaign("Reply YES", type="two_way", sender="Shop"))
    assert len(problems) == 1
    assert "cannot receive replies" in problems[0]
    assert "'Shop'" in problems[0]


@pytest.mark.parametrize("sender", ["+447700900123", "447700900123", "12345"])
def test_a_two_way_campaign_with_a_numeric_sender_passes(sender: str) -> None:
    assert content_problems(campaign("Reply YES", type="two_way", sender=sender)) == []


@pytest.mark.parametrize("sender", ["", "Shop1", "1234567890123456"])
def test_a_two_way_campaign_refuses_senders_that_are_not_plain_numbers(sender: str) -> None:
    assert content_problems(campaign("Reply YES", type="two_way", sender=sender)) != []


def test_a_two_way_campaign_without_a_sender_is_refused() -> None:
    fields = {"variants": [{"text": "Reply YES"}], "type": "two_way"}
    assert len(content_problems(fields)) == 1


@pytest.mark.parametrize("kind", ["outbound", "transactional", None])
def test_one_way_campaigns_may_use_an_alphanumeric_sender(kind: str | None) -> None:
    assert content_problems(campaign("Hello", type=kind, sender="Shop")) == []
