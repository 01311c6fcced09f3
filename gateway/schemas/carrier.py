"""What carriers post: delivery receipts and replies."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeAlias

from msgspec import UNSET, Meta, UnsetType

from domain.fields import MAX_TEXT
from gateway.schemas.fields import Body, Text, one_of

RECEIPT_STATUSES = ("sent", "delivered", "undelivered", "failed", "no_route", "rejected")
if TYPE_CHECKING:
    ReceiptStatus: TypeAlias = str
else:
    ReceiptStatus = one_of(RECEIPT_STATUSES)
MAX_RECEIPTS = 10_000
MAX_ID = 200
MAX_PHONE = 40


SeenAt = Annotated[
    datetime,
    Meta(
        tz=True,
        description="When the carrier saw it; must carry a zone. Left out or null: when it "
        "arrives.",
    ),
]
ReceivedAt = Annotated[
    datetime,
    Meta(
        tz=True,
        description="When it was received; must carry a zone. Left out or null: when it arrives.",
    ),
]


class Receipt(Body, kw_only=True, forbid_unknown_fields=True):
    """One delivery receipt."""

    message_id: Annotated[
        Text,
        Meta(
            min_length=1, max_length=MAX_ID, description="The message's id (its short link's code)."
        ),
    ]
    status: ReceiptStatus
    at: SeenAt | UnsetType | None = UNSET


class ReceiptBatch(Body, kw_only=True, forbid_unknown_fields=True):
    """Receipts applied together: when one is refused none is."""

    receipts: Annotated[list[Receipt], Meta(max_length=MAX_RECEIPTS)]


class InboundReply(Body, kw_only=True, forbid_unknown_fields=True, rename={"sender": "from"}):
    """A reply to one of our messages."""

    sender: Annotated[
        Text,
        Meta(
            min_length=1,
            max_length=MAX_PHONE,
            description="The replying number, with `+` or `00` and its country code (a number "
            "that is not one is refused with 422).",
            examples=["+447700900123"],
        ),
    ]
    text: Annotated[Text, Meta(description=f"The reply; the first {MAX_TEXT} characters are kept.")]
    at: ReceivedAt | UnsetType | None = UNSET
