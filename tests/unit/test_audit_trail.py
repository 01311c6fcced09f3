"""The audit trail's facts in words, its filters and its CSV (F13)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from projections.audit_trail import HistoryFilter, csv_lines, describe, filtered


def test_a_suspension_by_domains_names_each_link_its_domains_and_the_limit() -> None:
    cause = {
        "kind": "domains",
        "links": {"short": ["go.example.com (Reached Limit, 5/5)"], "optout": []},
        "limit": 5,
    }

    assert describe("Campaign.Suspended", {"cause": cause}) == (
        "domains at the messaging limit of 5: Short URL: go.example.com (Reached Limit, 5/5); "
        "Opt-out URL: no domains"
    )


def test_a_suspension_by_a_rule_names_the_rule_and_the_values_measured() -> None:
    cause = {
        "kind": "rule",
        "rule": {"metric": "failure_rate", "above": 10, "after": 100},
        "value": "12.50",
        "measured_over": 160,
        "base": "with a final receipt",
    }

    assert describe("Campaign.Suspended", {"cause": cause}) == (
        "auto-pause rule failure rate above 10% after 100; measured 12.50% over 160 "
        "with a final receipt"
    )


def test_a_rule_suspension_recorded_without_its_values_still_names_the_rule() -> None:
    cause = {"kind": "rule", "rule": {"metric": "cost", "above": 5, "after": 10}}

    assert (
        describe("Campaign.Suspended", {"cause": cause}) == "auto-pause rule cost above 5 after 10"
    )


def test_an_edit_says_what_it_set_and_a_ratio_change_shows_the_new_ratio() -> None:
    changes = {
        "variants": [{"id": "a", "text": "x", "weight": 3}, {"id": "b", "text": "y", "weight": 1}],
        "tags": [],
        "name": "Spring",
    }

    text = describe("Campaign.Edited", {"changed": sorted(changes), "changes": changes})

    assert text == "variants: 2 variant(s), ratio 3:1; tags: none; name: Spring"


def test_an_edit_recorded_with_only_its_field_names_lists_them() -> None:
    assert describe("Campaign.Edited", {"changed": ["name", "tags"]}) == "changed: name, tags"


def test_events_without_facts_have_no_details() -> None:
    assert describe("Campaign.Paused", {}) == ""


ROWS = [
    {"type": "Campaign.Created", "actor": "ann", "at": "2026-03-01T09:00:00.000000Z"},
    {"type": "Campaign.Paused", "actor": "bob", "at": "2026-03-02T09:00:00.000000Z"},
    {"type": "Campaign.Suspended", "actor": "system", "at": "2026-03-03T09:00:00.000000Z"},
]


def test_filters_take_an_actor_a_type_with_or_without_its_aggregate_and_a_time_span() -> None:
    march_2 = datetime(2026, 3, 2, 9, tzinfo=UTC)

    assert filtered(ROWS, HistoryFilter(actor="bob")) == [ROWS[1]]
    assert filtered(ROWS, HistoryFilter(type="Suspended")) == [ROWS[2]]
    assert filtered(ROWS, HistoryFilter(type="Campaign.Created")) == [ROWS[0]]
    assert filtered(ROWS, HistoryFilter(since=march_2)) == ROWS[1:]
    assert filtered(ROWS, HistoryFilter(until=march_2)) == ROWS[:2]


def test_csv_keeps_markup_and_commas_and_guards_cells_a_spreadsheet_would_run() -> None:
    row = {
        "position": 7,
        "at": "2026-03-01T09:00:00.000000Z",
        "version": 2,
        "type": "Campaign.Paused",
        "actor": "@admin",
        "from_status": "Sending",
        "to_status": "Paused",
        "reason": '=HYPERLINK("x") <b>, "quoted"',
        "details": "",
        "command_id": None,
    }

    (parsed,) = list(csv.DictReader(io.StringIO("".join(csv_lines([row])))))

    assert parsed["actor"] == "'@admin"
    assert parsed["reason"] == '\'=HYPERLINK("x") <b>, "quoted"'
    assert parsed["position"] == "7" and parsed["command_id"] == ""
