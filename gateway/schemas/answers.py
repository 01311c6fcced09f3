"""Answer bodies declared once: handlers build them, `answer` encodes them, and the
document's schemas for them are generated. Answers may grow fields, so unknown ones are
not refused where a client reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

import msgspec
from msgspec import Meta, Struct
from starlette.responses import Response

from domain.link_domain import DomainStatus
from domain.replies import STOP_WORDS
from domain.roles import ROLES
from gateway.schemas.fields import DomainName, one_of

if TYPE_CHECKING:
    Role: TypeAlias = str
    DomainState: TypeAlias = str
else:
    Role = one_of(ROLES)
    DomainState = one_of(tuple(status.value for status in DomainStatus))

Count = Annotated[int, Meta(ge=0)]
Time = Annotated[
    str,
    Meta(
        description="ISO 8601 in UTC with a `Z`, at microsecond precision.",
        extra_json_schema={"format": "date-time"},
    ),
]
Id = Annotated[str, Meta(extra_json_schema={"format": "uuid"})]
Money = Annotated[
    str,
    Meta(
        pattern="^[0-9]+\\.[0-9]{4}$",
        description="A decimal amount with four decimals.",
        examples=["12.3400"],
    ),
]


class Answer(Struct, kw_only=True):
    """An answer body: every field is always there."""


def answer(body: Answer, status_code: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status_code, media_type="application/json")


class ReceiptsApplied(Answer, kw_only=True):
    """What a call's receipts did."""

    applied: Annotated[Count, Meta(description="Receipts that moved a message's status forwards.")]
    ignored: Annotated[
        Count,
        Meta(description="Receipts for unknown messages, repeated, or late (not moving forwards)."),
    ]


class StreamReceiptsTaken(Answer, kw_only=True):
    """What an HTTP carrier's receipts did."""

    matched: Annotated[
        Count, Meta(description="Receipts whose carrier id named one of our messages.")
    ]
    waiting: Annotated[
        Count,
        Meta(
            description="Receipts naming a carrier id not known yet: kept for a day, and "
            "applied when the submit's answer names it."
        ),
    ]
    applied: Annotated[
        Count, Meta(description="Matched receipts that moved a message's status forwards.")
    ]


class ReplyRecorded(Answer, kw_only=True):
    """A reply, recorded."""

    campaign_id: Annotated[
        Id | None,
        Meta(description="The latest campaign that messaged the number; null if none."),
    ]
    opted_out: Annotated[
        bool,
        Meta(
            description="True when this reply opted the number out: its first word is one of "
            f"{', '.join(sorted(STOP_WORDS))} (any case) and the number was not opted out "
            "already."
        ),
    ]


class Token(Answer, kw_only=True):
    """An access token (never its secret)."""

    id: Id
    name: Annotated[
        str,
        Meta(
            description="Recorded as the actor of its changes. `system`, `demo`, `anonymous`, "
            "`bootstrap`, names with `#` and sending-process names are refused."
        ),
    ]
    role: Role
    created_at: Time
    revoked_at: Time | None


class NewToken(Token, kw_only=True):
    """A new token, with its secret."""

    token: Annotated[str, Meta(description="The secret: shown this once.")]


class Tokens(Answer, kw_only=True):
    """The tokens."""

    items: list[Token]


class Me(Answer, kw_only=True):
    """Who the caller is."""

    name: str
    role: Role
    signed_in: Annotated[
        bool, Meta(description="True with the sign-in cookie, false with a bearer token.")
    ]


Prices = Annotated[
    dict[str, Money],
    Meta(description='Price per SMS part by destination prefix; `""` is the default.'),
]


class PriceTable(Answer, kw_only=True):
    """The price table."""

    prices: Prices


class DomainLimit(Answer, kw_only=True):
    """The per-domain message limit."""

    limit: Annotated[int, Meta(ge=1)]


class Settings(Answer, kw_only=True):
    """The platform's settings."""

    domain_limit: Annotated[int, Meta(ge=1)]
    prices: Prices


class Domain(Answer, kw_only=True):
    """A link domain."""

    name: DomainName
    status: Annotated[
        DomainState,
        Meta(
            description="`Reached Limit` is how a Configured domain whose usage has reached "
            "the limit is shown."
        ),
    ]
    usage: Annotated[Count, Meta(description="Messages it has carried.")]
    limit: Annotated[int, Meta(ge=1, description="The global per-domain limit.")]
    version: Annotated[int, Meta(ge=1)]
    created_at: Time
    last_used_at: Time | None


class DomainList(Answer, kw_only=True):
    """Every domain, by name."""

    items: list[Domain]
    limit: Annotated[int, Meta(ge=1)]


class DomainsAdded(Answer, kw_only=True):
    """The names that were new, and those already known (left unchanged)."""

    added: list[Domain]
    existing: list[Domain]


class Pool(Answer, kw_only=True):
    """A domain pool."""

    id: Id
    version: Annotated[int, Meta(ge=1)]
    name: str
    description: str
    domains: list[DomainName]
    created_at: Time


class PoolList(Answer, kw_only=True):
    """Every pool, by name."""

    items: list[Pool]


ANSWERS: tuple[type[Answer], ...] = (
    Domain,
    DomainList,
    DomainsAdded,
    Pool,
    PoolList,
    ReceiptsApplied,
    StreamReceiptsTaken,
    ReplyRecorded,
    Token,
    NewToken,
    Tokens,
    Me,
    PriceTable,
    DomainLimit,
    Settings,
)
