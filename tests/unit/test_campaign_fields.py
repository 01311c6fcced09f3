"""Validation of every campaign field: what is accepted, what is refused, and that a refusal
names its fields and saves nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.application import CampaignPlatform
from domain.campaign import Campaign
from domain.errors import ValidationFailed
from domain.fields import parse_money
from tests.unit.conftest import add_link_domains

LIST_ID = "2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"
VARIANT_ID = "6f1c1f3e-2b7a-4c55-9d0e-5c4a2f6b8e21"
SCHEDULE = {"days": ["mon"], "from": "09:00", "to": "17:00", "time_zone": "Europe/Paris"}


def refusal(app: CampaignPlatform, raw: dict[str, Any]) -> ValidationFailed:
    before = app.recorder.max_notification_id()
    with pytest.raises(ValidationFailed) as refused:
        app.create_campaign(raw, actor="alice")
    assert app.recorder.max_notification_id() == before
    return refused.value


def created(app: CampaignPlatform, raw: dict[str, Any]) -> Campaign:
    return app.get_campaign(app.create_campaign({"name": "Test", **raw}, actor="alice").id)


# Accepted values, and what is stored for them.
ACCEPTED: list[tuple[str, Any, Any]] = [
    ("name", "A", "A"),
    ("name", "x" * 200, "x" * 200),
    ("name", 'Soldes d\'été — 50 % ! 🎉 <b>&amp;</b> "quoted" {braces}', None),
    ("name", "  padded  ", "  padded  "),
    ("name", "日本語のキャンペーン", None),
    ("description", None, ""),
    ("description", "", ""),
    ("description", "d" * 2000, "d" * 2000),
    ("tags", None, []),
    ("tags", [" vip ", "vip", "spring"], ["vip", "spring"]),
    ("tags", [f"t{i}" for i in range(20)], [f"t{i}" for i in range(20)]),
    ("tags", ["t" * 50], ["t" * 50]),
    ("type", "outbound", "outbound"),
    ("type", "two_way", "two_way"),
    ("type", "transactional", "transactional"),
    ("stream", "demo", "demo"),
    ("sender", None, None),
    ("sender", "A", "A"),
    ("sender", "Shop2024Ltd", "Shop2024Ltd"),
    ("sender", "1Shop", "1Shop"),
    ("sender", "447700900123", "447700900123"),
    ("sender", "123456789012345", "123456789012345"),
    ("sender", "+447700900123", "+447700900123"),
    ("contact_lists", None, []),
    ("contact_lists", [LIST_ID.upper(), LIST_ID], [LIST_ID]),
    ("contact_lists", [LIST_ID.replace("-", "")], [LIST_ID]),
    ("start_at", None, None),
    ("start_at", "2030-01-01T10:00:00+02:00", "2030-01-01T08:00:00.000000Z"),
    ("start_at", "2030-01-01T10:00:00Z", "2030-01-01T10:00:00.000000Z"),
    ("sending_schedule", None, None),
    (
        "sending_schedule",
        {"days": ["sun", "mon", "mon"], "from": "22:00", "to": "06:00"},
        {"days": ["mon", "sun"], "from": "22:00", "to": "06:00", "time_zone": "UTC"},
    ),
    ("sending_schedule", SCHEDULE, SCHEDULE),
    ("pause_rules", None, []),
    (
        "pause_rules",
        [{"metric": "ctr", "below": 0.5, "after": 500}, {"metric": "cost", "above": 100}],
        [
            {"metric": "ctr", "below": 0.5, "after": 500},
            {"metric": "cost", "above": 100, "after": 0},
        ],
    ),
    (
        "pause_rules",
        [{"metric": "optout_rate", "above": 0}, {"metric": "failure_rate", "above": 5}],
        [
            {"metric": "optout_rate", "above": 0, "after": 0},
            {"metric": "failure_rate", "above": 5, "after": 0},
        ],
    ),
    ("ctr_indicators", None, None),
    (
        "ctr_indicators",
        {"red_below": 0, "green_from": 100},
        {"red_below": 0.0, "green_from": 100.0},
    ),
    (
        "ctr_indicators",
        {"red_below": 2.5, "green_from": 2.5},
        {"red_below": 2.5, "green_from": 2.5},
    ),
    ("variants", None, []),
    ("variants", [], []),  # a draft may be saved before its message step
    ("links", None, {}),
    ("links", {}, {}),
    (
        "links",
        {"short": {"target": "http://a.example/x?y=1#z", "domains": ["Go.Example.COM."]}},
        {
            "short": {
                "pool": None,
                "domains": ["go.example.com"],
                "target": "http://a.example/x?y=1#z",
            }
        },
    ),
]


@pytest.mark.parametrize(("field", "value", "stored"), ACCEPTED)
def test_a_valid_field_is_accepted_and_stored_normalised(
    app: CampaignPlatform, field: str, value: Any, stored: Any
) -> None:
    raw = {field: value} if field != "name" else {}
    if field == "links":
        add_link_domains(app)
    campaign = (
        created(app, raw)
        if field != "name"
        else app.create_campaign({"name": value}, actor="alice")
    )

    assert campaign.fields[field] == (value if stored is None else stored)


def test_variants_are_given_ids_and_a_default_weight_of_one(app: CampaignPlatform) -> None:
    campaign = created(
        app,
        {"variants": [{"text": "Hi {first_name}"}, {"id": VARIANT_ID, "text": "B", "weight": 7}]},
    )

    first, second = campaign.fields["variants"]
    assert first["weight"] == 1 and first["id"]
    assert second == {"id": VARIANT_ID, "text": "B", "weight": 7}


@pytest.mark.parametrize(
    "text",
    [
        "Plain text",
        "Hi {first_name} {short_url} {optout_url}",
        "Braces escaped {{like this}}",
        "ü and emoji 🎉 are text too",
        "t" * 1600,
    ],
)
def test_a_variant_text_with_well_formed_placeholders_is_accepted(
    app: CampaignPlatform, text: str
) -> None:
    campaign = created(app, {"variants": [{"text": text}]})

    assert campaign.fields["variants"][0]["text"] == text


# Refused values, each with a fragment of the message that explains why.
REFUSED: list[tuple[str, Any, str]] = [
    ("name", "", "must not be empty"),
    ("name", "   \t\n", "must not be empty"),
    ("name", "x" * 201, "at most 200 characters (got 201)"),
    ("name", None, "must be a string"),
    ("name", 42, "must be a string"),
    ("name", ["a"], "must be a string"),
    ("description", "d" * 2001, "at most 2000"),
    ("description", 5, "must be a string"),
    ("tags", "spring", "a list of strings"),
    ("tags", [1], "a list of strings"),
    ("tags", [""], "1 to 50"),
    ("tags", ["  "], "1 to 50"),
    ("tags", ["t" * 51], "1 to 50"),
    ("tags", [f"t{i}" for i in range(21)], "at most 20 tags"),
    ("type", "inbound", "must be one of outbound, two_way, transactional"),
    ("type", "Outbound", "must be one of"),
    ("type", None, "must be a string"),
    ("stream", 7, "must be a string"),
    ("stream", "nowhere", "unknown stream 'nowhere'; known: demo"),
    ("stream", "", "unknown stream"),
    ("sender", "", "alphanumeric"),
    ("sender", "ShopName1234", "alphanumeric"),
    ("sender", "Shop Name", "alphanumeric"),
    ("sender", "Shop-Name", "alphanumeric"),
    ("sender", "Café", "alphanumeric"),
    ("sender", "1234567890123456", "digits up to 15"),
    ("sender", "Shop\n", "alphanumeric"),
    ("sender", "447700900123\n", "alphanumeric"),
    ("sender", 447700900123, "must be a string"),
    ("contact_lists", LIST_ID, "a list of list ids"),
    ("contact_lists", ["not-a-uuid"], "is not a valid id"),
    ("contact_lists", [17], "an id (UUID string)"),
    (
        "contact_lists",
        [f"00000000-0000-4000-8000-{i:012d}" for i in range(51)],
        "at most 50 contact lists",
    ),
    ("variants", "Hello", "a list of variants"),
    ("variants", [{"text": f"v{i}"} for i in range(11)], "at most 10 variants"),
    ("variants", ["Hello"], "must be an object"),
    ("variants", [{"text": "Hi", "colour": "red"}], "unknown field 'colour'"),
    ("variants", [{"text": ""}], "variant 1: text must be a non-empty string"),
    ("variants", [{"text": "   "}], "text must be a non-empty string"),
    ("variants", [{"weight": 2}], "text must be a non-empty string"),
    ("variants", [{"text": 5}], "text must be a non-empty string"),
    ("variants", [{"text": "t" * 1601}], "at most 1600 characters"),
    ("variants", [{"text": "ok"}, {"text": "ok", "weight": 0}], "variant 2: weight must be"),
    ("variants", [{"text": "ok", "weight": -1}], "weight must be a whole number from 1"),
    ("variants", [{"text": "ok", "weight": 1.5}], "weight must be a whole number"),
    ("variants", [{"text": "ok", "weight": 2.0}], "weight must be a whole number"),
    ("variants", [{"text": "ok", "weight": True}], "weight must be a whole number"),
    ("variants", [{"text": "ok", "weight": "2"}], "weight must be a whole number"),
    ("variants", [{"text": "ok", "weight": 1_000_001}], "weight must be a whole number"),
    ("variants", [{"text": "ok", "weight": None}], "weight must be a whole number"),
    ("variants", [{"id": "v1", "text": "ok"}], "is not a valid id"),
    ("variants", [{"id": VARIANT_ID}], "every variant needs a text"),
    (
        "variants",
        [{"id": VARIANT_ID, "text": "a"}, {"id": VARIANT_ID, "text": "b"}],
        "variant 2: id",
    ),
    ("variants", [{"text": "Hi {first_name"}], "malformed placeholder"),
    ("variants", [{"text": "Hi first_name}"}], "malformed placeholder"),
    ("variants", [{"text": "Hi {}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {0}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {user.name}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {names[0]}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {name!r}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {name:>10}"}], "must be a plain name"),
    ("variants", [{"text": "Hi {first name}"}], "must be a plain name"),
    ("links", [], "must be an object"),
    ("links", {"tracking": {}}, "unknown field 'tracking'"),
    ("links", {"short": "go.example.com"}, "short: must be an object"),
    ("links", {"short": {"target": "ftp://a.example.com"}}, "http:// or https://"),
    ("links", {"short": {"target": "https://localhost/x"}}, "http:// or https://"),
    ("links", {"short": {"target": "https://a.example.com/x y"}}, "http:// or https://"),
    ("links", {"short": {"target": "https://a.example.com\n"}}, "http:// or https://"),
    ("links", {"short": {"target": 5}}, "must be a URL"),
    ("links", {"optout": {"target": "https://a.example.com"}}, "optout: unknown field 'target'"),
    ("links", {"short": {"pool": "main"}}, "short: 'main' is not a valid id"),
    ("links", {"short": {"domains": "go.example.com"}}, "a list of domain names"),
    ("links", {"short": {"domains": ["localhost"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": ["-go.example.com"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": ["go_x.example.com"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": ["10.0.0.1"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": ["a..example.com"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": ["go\n.example.com"]}}, "is not a valid domain name"),
    ("links", {"short": {"domains": [f"d{i}.example.com" for i in range(101)]}}, "at most 100"),
    ("start_at", "tomorrow", "is not an ISO 8601 time"),
    ("start_at", "2030-01-01T10:00:00", "must carry a time zone"),
    ("start_at", 1893456000, "a time (ISO 8601)"),
    ("sending_schedule", "weekdays", "must be an object"),
    ("sending_schedule", {**SCHEDULE, "until": "x"}, "unknown field 'until'"),
    ("sending_schedule", {**SCHEDULE, "days": []}, "days must be a non-empty list"),
    ("sending_schedule", {**SCHEDULE, "days": ["monday"]}, "days must be a non-empty list"),
    ("sending_schedule", {**SCHEDULE, "days": ["Mon"]}, "days must be a non-empty list"),
    ("sending_schedule", {**SCHEDULE, "days": "mon"}, "days: a list of week days"),
    ("sending_schedule", {"from": "09:00", "to": "17:00"}, "days: a list of week days"),
    ("sending_schedule", {**SCHEDULE, "from": "9:00"}, "from must be a time of day HH:MM"),
    ("sending_schedule", {**SCHEDULE, "from": "24:00"}, "from must be a time of day"),
    ("sending_schedule", {**SCHEDULE, "to": "17:60"}, "to must be a time of day"),
    ("sending_schedule", {**SCHEDULE, "to": "17:00\n"}, "to must be a time of day"),
    ("sending_schedule", {**SCHEDULE, "to": 1700}, "to: a time of day HH:MM"),
    ("sending_schedule", {**SCHEDULE, "to": "09:00"}, "from and to must differ"),
    ("sending_schedule", {**SCHEDULE, "time_zone": "Mars/Olympus"}, "not a known time zone"),
    ("sending_schedule", {**SCHEDULE, "time_zone": "../etc/passwd"}, "not a known time zone"),
    ("sending_schedule", {**SCHEDULE, "time_zone": ""}, "not a known time zone"),
    ("sending_schedule", {**SCHEDULE, "time_zone": None}, "time_zone: an IANA zone name"),
    ("pause_rules", {"metric": "ctr"}, "a list of rules"),
    ("pause_rules", [{"metric": "ctr", "below": 1}] * 21, "at most 20 rules"),
    ("pause_rules", ["ctr below 1"], "must be an object"),
    ("pause_rules", [{"metric": "ctr", "below": 1, "when": 2}], "unknown field 'when'"),
    ("pause_rules", [{"metric": "clicks", "below": 1}], "rule 1: metric must be one of"),
    ("pause_rules", [{"metric": "ctr"}], "give exactly one of below or above"),
    ("pause_rules", [{"metric": "ctr", "below": 1, "above": 2}], "exactly one of below or above"),
    ("pause_rules", [{"metric": "ctr", "below": -1}], "below must be a number at least 0"),
    ("pause_rules", [{"metric": "ctr", "below": "1"}], "below must be a number"),
    ("pause_rules", [{"metric": "ctr", "below": True}], "below must be a number"),
    ("pause_rules", [{"metric": "cost", "above": float("nan")}], "above must be a number"),
    ("pause_rules", [{"metric": "cost", "above": float("inf")}], "above must be a number"),
    ("pause_rules", [{"metric": "ctr", "below": 1, "after": -5}], "after must be a whole number"),
    ("pause_rules", [{"metric": "ctr", "below": 1, "after": 2.5}], "after must be a whole number"),
    ("ctr_indicators", [1, 5], "must be an object"),
    ("ctr_indicators", {"red_below": 1}, "green_from must be a percentage"),
    ("ctr_indicators", {"red_below": -1, "green_from": 5}, "red_below must be a percentage"),
    ("ctr_indicators", {"red_below": 1, "green_from": 101}, "green_from must be a percentage"),
    ("ctr_indicators", {"red_below": 1, "green_from": "5"}, "green_from must be a percentage"),
    ("ctr_indicators", {"red_below": 6, "green_from": 5}, "must not be above green_from"),
    ("ctr_indicators", {"red_below": 1, "green_from": 5, "amber": 3}, "unknown field 'amber'"),
]


@pytest.mark.parametrize(("field", "value", "why"), REFUSED)
def test_an_invalid_field_is_refused_naming_the_field_and_nothing_is_saved(
    app: CampaignPlatform, field: str, value: Any, why: str
) -> None:
    raw = {"name": "Test", field: value}

    error = refusal(app, raw)

    assert error.code == "validation_failed"
    assert [problem["field"] for problem in error.details] == [field]
    assert why in error.details[0]["message"]
    assert error.message.startswith(f"{field}: ")


@pytest.mark.parametrize(("field", "value", "why"), REFUSED)
def test_an_invalid_edit_is_refused_and_leaves_the_campaign_as_it_was(
    app: CampaignPlatform,
    new_campaign: Callable[..., Campaign],
    writes_nothing: Callable[[], Any],
    field: str,
    value: Any,
    why: str,
) -> None:
    campaign = new_campaign()

    with writes_nothing(), pytest.raises(ValidationFailed) as refused:
        app.edit_campaign(campaign.id, {field: value}, actor="bob")

    assert refused.value.details[0]["field"] == field
    assert app.get_campaign(campaign.id).fields == campaign.fields


def test_a_campaign_needs_a_name(app: CampaignPlatform) -> None:
    error = refusal(app, {"sender": "Shop"})

    assert error.details == [{"field": "name", "message": "is required"}]


def test_an_unknown_field_is_refused_naming_the_fields_allowed(app: CampaignPlatform) -> None:
    error = refusal(app, {"name": "Test", "colour": "red"})

    assert error.details[0]["field"] == "colour"
    assert "unknown field; allowed: name, description, tags" in error.details[0]["message"]


def test_every_problem_is_reported_at_once(app: CampaignPlatform) -> None:
    error = refusal(
        app,
        {"name": "", "sender": "Shop Name!", "type": "fax", "colour": "red"},
    )

    assert sorted(problem["field"] for problem in error.details) == [
        "colour",
        "name",
        "sender",
        "type",
    ]
    assert "(and 3 more)" in error.message


def test_a_failed_create_with_a_command_id_leaves_that_id_free(app: CampaignPlatform) -> None:
    with pytest.raises(ValidationFailed):
        app.create_campaign({"name": ""}, actor="alice", command_id="create-1")

    campaign = app.create_campaign({"name": "Second try"}, actor="alice", command_id="create-1")

    assert campaign.fields["name"] == "Second try"


@pytest.mark.parametrize(
    ("value", "stored"),
    [(0, "0.0000"), ("0.0123", "0.0123"), (1.5, "1.5000"), ("12", "12.0000")],
)
def test_a_money_amount_is_kept_to_four_decimal_places(value: Any, stored: str) -> None:
    assert parse_money(value) == stored


@pytest.mark.parametrize("value", ["-0.01", "NaN", "Infinity", "ten", True, None, [1]])
def test_a_money_amount_that_is_not_a_finite_non_negative_decimal_is_refused(
    value: Any,
) -> None:
    from domain.fields import Invalid

    with pytest.raises(Invalid):
        parse_money(value)


def test_a_link_may_name_a_pool_that_exists(app: CampaignPlatform) -> None:
    pool = app.create_pool({"name": "Links"}, actor="alice")

    campaign = app.create_campaign(
        {"name": "Pooled", "links": {"optout": {"pool": str(pool.id), "domains": None}}},
        actor="alice",
    )

    assert campaign.fields["links"] == {"optout": {"pool": str(pool.id), "domains": []}}


def test_a_link_naming_an_unknown_pool_or_domain_is_refused_and_writes_nothing(
    app: CampaignPlatform,
) -> None:
    before = app.recorder.max_notification_id()

    with pytest.raises(ValidationFailed) as refused:
        app.create_campaign(
            {
                "name": "Nowhere",
                "links": {
                    "short": {"target": "https://a.example.com", "domains": ["nope.example.com"]},
                    "optout": {"pool": VARIANT_ID},
                },
            },
            actor="alice",
        )

    assert "unknown domain nope.example.com" in refused.value.message
    assert [d["field"] for d in refused.value.details] == ["links", "links"]
    assert app.recorder.max_notification_id() == before
