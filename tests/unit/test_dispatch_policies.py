"""Dispatch (F5, F6, F8, F10): link codes, rendering, domain allocation and the batch log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.dispatch import (
    CODE_LENGTH,
    Allocation,
    AlreadyDispatched,
    DispatchLog,
    allocate,
    encode_number,
    link_codes,
    render,
    spread,
)

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
CAMPAIGN = "4f7d2a10-3c5e-4b8a-9e61-0d2c7b9a1e55"


# Link codes (F8).


def test_link_codes_are_ten_url_safe_characters() -> None:
    for number in [*range(200), 64**5 - 1]:
        for code in link_codes(CAMPAIGN, number):
            assert len(code) == CODE_LENGTH == 10
            assert URL_SAFE.fullmatch(code)


def test_link_codes_widen_by_a_character_past_a_billion_messages() -> None:
    short, optout = link_codes(CAMPAIGN, 64**5)
    assert len(short) == len(optout) == 11


def test_link_codes_are_stable_for_the_same_campaign_and_number() -> None:
    assert link_codes(CAMPAIGN, 41) == link_codes(CAMPAIGN, 41)


def test_the_short_link_and_the_opt_out_link_of_a_message_differ() -> None:
    short, optout = link_codes(CAMPAIGN, 0)
    assert short != optout


def test_link_codes_of_distinct_numbers_are_distinct() -> None:
    codes = [code for number in range(20_000) for code in link_codes(CAMPAIGN, number)]
    codes += [code for number in range(20_000, 21_000) for code in link_codes("another", number)]
    assert len(set(codes)) == len(codes)


def test_link_codes_sort_in_the_order_of_their_numbers() -> None:
    # Consecutive messages are stored side by side in the indexes on their codes.
    numbers = [0, 1, 9, 10, 63, 64, 4095, 4096, 999_999, 64**5 - 1]
    shorts = [link_codes(CAMPAIGN, n)[0] for n in numbers]
    assert shorts == sorted(shorts)
    assert [encode_number(n) for n in numbers] == sorted(encode_number(n) for n in numbers)


def test_the_same_number_in_another_campaign_has_another_mac() -> None:
    # Knowing one's own link and the numbering does not give another person's link.
    mine = link_codes(CAMPAIGN, 7)
    theirs = link_codes("5a0e1b2c-0000-4000-8000-000000000000", 7)
    assert mine[0][:5] == theirs[0][:5]
    assert mine[0] != theirs[0] and mine[1] != theirs[1]


# Rendering (F4, F8).


def render_with(text: str, fields: dict[str, Any]) -> str:
    return render(text, fields, "https://go.example.com/s/abc", "https://out.example.com/o/xyz")


def test_placeholders_are_filled_from_the_contacts_columns_and_the_links() -> None:
    text = "Hi {first_name}, {percent}% off: {short_url} Stop: {optout_url}"
    assert render_with(text, {"first_name": "Ada", "percent": 20}) == (
        "Hi Ada, 20% off: https://go.example.com/s/abc Stop: https://out.example.com/o/xyz"
    )


def test_a_placeholder_the_contact_lacks_renders_as_nothing() -> None:
    assert render_with("Hi {first_name}!", {}) == "Hi !"
    assert render_with("Hi {first_name} {last_name}!", {"first_name": "Ada"}) == "Hi Ada !"


def test_a_text_without_placeholders_is_sent_as_written() -> None:
    assert render_with("Sale on now.", {"first_name": "Ada"}) == "Sale on now."


def test_doubled_braces_are_literal_braces() -> None:
    assert render_with("Use {{code}} {first_name}", {"first_name": "Ada"}) == "Use {code} Ada"


def test_a_contact_value_that_looks_like_a_placeholder_is_not_expanded() -> None:
    assert render_with("Hi {first_name}", {"first_name": "{short_url}"}) == "Hi {short_url}"


def test_contact_columns_cannot_override_the_links() -> None:
    rendered = render_with("{short_url}", {"short_url": "https://evil.example.com"})
    assert rendered == "https://go.example.com/s/abc"


# Domain allocation (F10).


def test_messages_go_to_the_first_domain_while_it_has_capacity() -> None:
    assert allocate([("a.example", 100), ("b.example", 100)], 40) == [Allocation("a.example", 40)]


def test_messages_overflow_to_the_next_domain_when_one_reaches_its_limit() -> None:
    allocations = allocate([("a.example", 30), ("b.example", 100)], 50)
    assert allocations == [Allocation("a.example", 30), Allocation("b.example", 20)]


def test_a_domain_with_zero_capacity_is_skipped() -> None:
    allocations = allocate([("full.example", 0), ("b.example", 10)], 5)
    assert allocations == [Allocation("b.example", 5)]


def test_a_domain_over_its_limit_is_skipped() -> None:
    assert allocate([("over.example", -3), ("b.example", 10)], 5) == [Allocation("b.example", 5)]


def test_when_every_domain_is_full_nothing_is_allocated() -> None:
    assert allocate([("a.example", 0), ("b.example", 0)], 10) == []
    assert allocate([], 10) == []


def test_when_capacity_runs_short_only_what_fits_is_allocated() -> None:
    allocations = allocate([("a.example", 3), ("b.example", 4)], 10)
    assert sum(a.count for a in allocations) == 7


def test_nothing_wanted_allocates_nothing() -> None:
    assert allocate([("a.example", 10)], 0) == []


def test_spread_gives_each_message_its_domain_in_order() -> None:
    allocations = [Allocation("a.example", 2), Allocation("b.example", 3)]
    assert spread(allocations) == ["a.example"] * 2 + ["b.example"] * 3
    assert spread([]) == []


# The batch log (F6): one event per batch; a batch overlapping recorded ones is refused.


def test_a_batch_is_recorded_with_its_range_and_counts() -> None:
    log = DispatchLog.open(CAMPAIGN)
    log.record_batch(0, 99, "4.0000", {"a.example": 100}, {"v1": 75, "v2": 25})
    assert (log.next_seq, log.messages) == (100, 100)
    batch = log.collect_events()[-1]
    assert isinstance(batch, DispatchLog.BatchRecorded)
    assert (batch.first_seq, batch.last_seq, batch.count) == (0, 99, 100)
    assert batch.by_variant == {"v1": 75, "v2": 25}
    assert batch.reason == "dispatched recipients 1 to 100"
    assert batch.actor == "system"


def test_a_batch_overlapping_recorded_recipients_is_refused() -> None:
    log = DispatchLog.open(CAMPAIGN)
    log.record_batch(0, 99, "4.0000", {"a.example": 100}, {"v1": 100})
    with pytest.raises(AlreadyDispatched, match="recipients 51 to 150"):
        log.record_batch(50, 149, "4.0000", {"a.example": 100}, {"v1": 100})
    assert (log.next_seq, log.messages) == (100, 100)
    assert len(log.collect_events()) == 2  # opened, one batch


def test_consecutive_batches_add_up() -> None:
    log = DispatchLog.open(CAMPAIGN)
    log.record_batch(0, 99, "4.0000", {"a.example": 100}, {"v1": 100})
    log.record_batch(100, 149, "2.0000", {"b.example": 50}, {"v1": 50})
    assert (log.next_seq, log.messages) == (150, 150)


def test_the_log_is_rebuilt_from_its_events() -> None:
    log = DispatchLog.open(CAMPAIGN)
    log.record_batch(0, 9, "0.5000", {"a.example": 10}, {"v1": 10})
    log.record_batch(10, 19, "0.5000", {"a.example": 10}, {"v1": 10})
    rebuilt: Any = None
    for event in log.collect_events():
        rebuilt = event.mutate(rebuilt)
    assert (rebuilt.campaign_id, rebuilt.next_seq, rebuilt.messages) == (CAMPAIGN, 20, 20)


def test_a_campaigns_log_has_an_id_derived_from_the_campaign() -> None:
    assert DispatchLog.open(CAMPAIGN).id == DispatchLog.id_for(CAMPAIGN)
    assert DispatchLog.id_for(CAMPAIGN) != DispatchLog.id_for("another-campaign")
