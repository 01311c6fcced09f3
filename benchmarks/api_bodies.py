"""Decoding and validating the API's hottest request bodies: msgspec vs pydantic, against a
bare `json.loads` of the same bytes in the same run.

    .venv/bin/python -m benchmarks.api_bodies [--seconds 1.0] [--repeat 3]

Bodies: a campaign created with every wizard field, a campaign patch (the ratio's weights),
a patch of the wizard's contact step, a batch of 1,000 carrier receipts, one inbound reply.
Each is declared once per library with the same constraints (lengths, patterns, ranges,
enums, unknown fields refused). For each body and way of reading it, the CPU time per body
(`time.process_time`) is the median of --repeat rounds of at least --seconds each; the ratio
is to `json.loads`, which validates nothing.

Ways: `json.loads`; `msgspec` (`msgspec.json.decode(body, type=...)`, straight from bytes);
`msgspec via loads` (what the gateway does: `json.loads`, then `msgspec.convert`);
`pydantic` (`model_validate_json`, strict).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import pydantic
from msgspec import UNSET, Meta, Struct, UnsetType

from domain.fields import (
    MAX_DESCRIPTION,
    MAX_LIST_IDS,
    MAX_NAME,
    MAX_TAG,
    MAX_TAGS,
    MAX_TEXT,
    MAX_VARIANTS,
    MAX_WEIGHT,
)

Metric = Literal["ctr", "failure_rate", "optout_rate", "cost"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Status = Literal["sent", "delivered", "undelivered", "failed", "no_route", "rejected"]
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CLOCK = "^([01][0-9]|2[0-3]):[0-5][0-9]$"

# msgspec declarations.

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
Id = Annotated[str, Meta(pattern=UUID_PATTERN)]


class MVariant(Struct, forbid_unknown_fields=True):
    id: Id | UnsetType | None = UNSET
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)] | UnsetType = UNSET
    weight: Annotated[int, Meta(ge=1, le=MAX_WEIGHT)] = 1


class MSchedule(Struct, forbid_unknown_fields=True, rename={"start": "from", "end": "to"}):
    days: Annotated[list[Day], Meta(min_length=1)]
    start: Annotated[str, Meta(pattern=CLOCK)]
    end: Annotated[str, Meta(pattern=CLOCK)]
    time_zone: str = "UTC"


class MRule(Struct, forbid_unknown_fields=True):
    metric: Metric
    below: Annotated[float, Meta(ge=0)] | UnsetType = UNSET
    above: Annotated[float, Meta(ge=0)] | UnsetType = UNSET
    after: Annotated[int, Meta(ge=0)] = 0


class MLink(Struct, forbid_unknown_fields=True):
    target: Annotated[str, Meta(max_length=2000, pattern="^https?://")] | None = None
    pool: Id | None = None
    domains: list[str] | None = None


class MLinks(Struct, forbid_unknown_fields=True):
    short: MLink | None = None
    optout: MLink | None = None


class MCampaign(Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION)] | UnsetType | None = UNSET
    tags: (
        Annotated[
            list[Annotated[str, Meta(min_length=1, max_length=MAX_TAG)]], Meta(max_length=MAX_TAGS)
        ]
        | UnsetType
        | None
    ) = UNSET
    type: Literal["outbound", "two_way", "transactional"] | UnsetType = UNSET
    stream: str | UnsetType | None = UNSET
    sender: str | UnsetType | None = UNSET
    contact_lists: Annotated[list[Id], Meta(max_length=MAX_LIST_IDS)] | UnsetType | None = UNSET
    variants: Annotated[list[MVariant], Meta(max_length=MAX_VARIANTS)] | UnsetType | None = UNSET
    links: MLinks | UnsetType | None = UNSET
    start_at: Annotated[datetime, Meta(tz=True)] | UnsetType | None = UNSET
    sending_schedule: MSchedule | UnsetType | None = UNSET
    pause_rules: list[MRule] | UnsetType | None = UNSET
    reason: Annotated[str, Meta(max_length=1000)] | UnsetType | None = UNSET
    expected_version: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    command_id: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType | None = UNSET


class MReceipt(Struct, forbid_unknown_fields=True):
    message_id: Annotated[str, Meta(min_length=1, max_length=200)]
    status: Status
    at: Annotated[datetime, Meta(tz=True)] | None = None


class MReceipts(Struct, forbid_unknown_fields=True):
    receipts: Annotated[list[MReceipt], Meta(max_length=10_000)]


class MInbound(Struct, forbid_unknown_fields=True, rename={"sender": "from"}):
    sender: Annotated[str, Meta(min_length=1, max_length=40)]
    text: Annotated[str, Meta(max_length=2000)]
    at: Annotated[datetime, Meta(tz=True)] | None = None


# pydantic declarations: the same constraints.

Strict = pydantic.ConfigDict(extra="forbid", strict=True)
PName = Annotated[str, pydantic.StringConstraints(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
PId = Annotated[str, pydantic.StringConstraints(pattern=UUID_PATTERN)]


class PVariant(pydantic.BaseModel):
    model_config = Strict
    id: PId | None = None
    text: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=MAX_TEXT)] | None = (
        None
    )
    weight: Annotated[int, pydantic.Field(ge=1, le=MAX_WEIGHT)] = 1


class PSchedule(pydantic.BaseModel):
    model_config = Strict
    days: Annotated[list[Day], pydantic.Field(min_length=1)]
    start: Annotated[str, pydantic.StringConstraints(pattern=CLOCK)] = pydantic.Field(alias="from")
    end: Annotated[str, pydantic.StringConstraints(pattern=CLOCK)] = pydantic.Field(alias="to")
    time_zone: str = "UTC"


class PRule(pydantic.BaseModel):
    model_config = Strict
    metric: Metric
    below: Annotated[float, pydantic.Field(ge=0)] | None = None
    above: Annotated[float, pydantic.Field(ge=0)] | None = None
    after: Annotated[int, pydantic.Field(ge=0)] = 0


class PLink(pydantic.BaseModel):
    model_config = Strict
    target: (
        Annotated[str, pydantic.StringConstraints(max_length=2000, pattern="^https?://")] | None
    ) = None
    pool: PId | None = None
    domains: list[str] | None = None


class PLinks(pydantic.BaseModel):
    model_config = Strict
    short: PLink | None = None
    optout: PLink | None = None


class PCampaign(pydantic.BaseModel):
    model_config = Strict
    name: PName | None = None
    description: Annotated[str, pydantic.StringConstraints(max_length=MAX_DESCRIPTION)] | None = (
        None
    )
    tags: (
        Annotated[
            list[Annotated[str, pydantic.StringConstraints(min_length=1, max_length=MAX_TAG)]],
            pydantic.Field(max_length=MAX_TAGS),
        ]
        | None
    ) = None
    type: Literal["outbound", "two_way", "transactional"] | None = None
    stream: str | None = None
    sender: str | None = None
    contact_lists: Annotated[list[PId], pydantic.Field(max_length=MAX_LIST_IDS)] | None = None
    variants: Annotated[list[PVariant], pydantic.Field(max_length=MAX_VARIANTS)] | None = None
    links: PLinks | None = None
    start_at: pydantic.AwareDatetime | None = None
    sending_schedule: PSchedule | None = None
    pause_rules: list[PRule] | None = None
    reason: Annotated[str, pydantic.StringConstraints(max_length=1000)] | None = None
    expected_version: Annotated[int, pydantic.Field(ge=1)] | None = None
    command_id: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=200)] | None = (
        None
    )


class PReceipt(pydantic.BaseModel):
    model_config = Strict
    message_id: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=200)]
    status: Status
    at: pydantic.AwareDatetime | None = None


class PReceipts(pydantic.BaseModel):
    model_config = Strict
    receipts: Annotated[list[PReceipt], pydantic.Field(max_length=10_000)]


class PInbound(pydantic.BaseModel):
    model_config = Strict
    sender: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=40)] = (
        pydantic.Field(alias="from")
    )
    text: Annotated[str, pydantic.StringConstraints(max_length=2000)]
    at: pydantic.AwareDatetime | None = None


# The bodies.

IDS = [f"2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c{n:04x}" for n in range(8)]
CREATE = {
    "name": "Spring sale — week 2",
    "description": "Second wave for the spring sale, loyal customers first.",
    "tags": ["spring", "sale", "loyal"],
    "type": "outbound",
    "stream": "demo",
    "sender": "Shop",
    "contact_lists": IDS[:3],
    "variants": [
        {"text": "Hi {first_name}, 20% off: {short_url} Stop: {optout_url}", "weight": 3},
        {"text": "{first_name}, spring prices end Sunday {short_url} Stop: {optout_url}"},
    ],
    "links": {
        "short": {"target": "https://shop.example.com/spring", "domains": ["go.example.com"]},
        "optout": {"pool": IDS[4]},
    },
    "start_at": "2026-12-01T09:00:00Z",
    "sending_schedule": {"days": ["mon", "tue", "wed"], "from": "09:00", "to": "20:00"},
    "pause_rules": [{"metric": "failure_rate", "above": 0.2, "after": 500}],
    "command_id": "create-spring-2",
}
PATCH = {
    "variants": [{"id": IDS[5], "weight": 2}, {"id": IDS[6], "weight": 5}],
    "expected_version": 7,
    "reason": "more of the second text",
}
CONTACTS = {"contact_lists": IDS[:5], "expected_version": 3}
RECEIPTS = {
    "receipts": [
        {"message_id": f"m-{n:08d}", "status": "delivered", "at": "2026-12-01T09:00:01.250000Z"}
        for n in range(1000)
    ]
}
INBOUND = {"from": "+447700900123", "text": "STOP", "at": "2026-12-01T09:05:00Z"}

BODIES: list[tuple[str, dict[str, Any], type[Struct], type[pydantic.BaseModel]]] = [
    ("campaign create", CREATE, MCampaign, PCampaign),
    ("campaign patch", PATCH, MCampaign, PCampaign),
    ("wizard contacts patch", CONTACTS, MCampaign, PCampaign),
    ("1,000 carrier receipts", RECEIPTS, MReceipts, PReceipts),
    ("inbound reply", INBOUND, MInbound, PInbound),
]


def cpu_per_call(work: Callable[[], object], seconds: float) -> float:
    """CPU seconds per call of `work`, over at least `seconds` of CPU."""
    calls, start = 0, time.process_time()
    while True:
        for _ in range(50):
            work()
        calls += 50
        spent = time.process_time() - start
        if spent >= seconds:
            return spent / calls


def ways(body: bytes, struct: type[Struct], model: type[pydantic.BaseModel]) -> dict[str, Any]:
    return {
        "json.loads": lambda: json.loads(body),
        "msgspec": lambda: msgspec.json.decode(body, type=struct),
        "msgspec via loads": lambda: msgspec.convert(json.loads(body), struct),
        "pydantic": lambda: model.model_validate_json(body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'body':24} {'bytes':>7} {'way':18} {'µs CPU/body':>12} {'x json.loads':>13}")
    for title, value, struct, model in BODIES:
        body = json.dumps(value).encode()
        figures = {}
        for way, work in ways(body, struct, model).items():
            work()  # fails here, before timing, if a declaration refuses the body
            rounds = [cpu_per_call(work, args.seconds) for _ in range(args.repeat)]
            figures[way] = statistics.median(rounds)
        for way, spent in figures.items():
            ratio = spent / figures["json.loads"]
            print(f"{title:24} {len(body):>7} {way:18} {spent * 1e6:>12.1f} {ratio:>12.2f}x")


if __name__ == "__main__":
    main()
