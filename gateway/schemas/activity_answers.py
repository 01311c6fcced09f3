"""Answer bodies about a campaign's activity: its stats (F7), its message log, who was shown
its personal data, and the wizard's Summary estimate (F4, F18)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import msgspec
from msgspec import Meta

from domain.roles import PERSONAL_DATA
from domain.sms import GSM7, UCS2
from domain.stream import FAILURES, MESSAGE_OUTCOMES
from gateway.schemas.answers import Answer, Count, Id, Money, Time
from gateway.schemas.campaign_answers import CampaignStatus, Page, PerPage
from gateway.schemas.fields import DomainName, one_of
from projections.activity import MESSAGE_STATUSES
from projections.disclosures import RESOURCES

if TYPE_CHECKING:
    MessageStatus: TypeAlias = str
    SmsEncoding: TypeAlias = str
    PersonalDataRole: TypeAlias = str
    DisclosedResource: TypeAlias = str
else:
    MessageStatus = one_of(MESSAGE_STATUSES)
    SmsEncoding = one_of((GSM7.name, UCS2.name))
    PersonalDataRole = one_of(PERSONAL_DATA)
    DisclosedResource = one_of(RESOURCES)

Percent = Annotated[float, Meta(ge=0)]


def outcome_counts(described: bool) -> list[tuple[str, Any]]:
    """A count per outcome of a message, in the domain's order."""
    return [
        (
            outcome,
            Annotated[Count, Meta(description=f"Messages whose final receipt is `{outcome}`.")]
            if described
            else Count,
        )
        for outcome in MESSAGE_OUTCOMES
    ]


# Declared field by field from the outcomes; mypy sees plain bases.
if TYPE_CHECKING:

    class DeliveryFigures(Answer, kw_only=True):
        """What every scope of the stats counts."""

    class OutcomeCounts(Answer, kw_only=True):
        """Messages sent, and their final outcomes."""

else:
    DeliveryFigures = msgspec.defstruct(
        "DeliveryFigures",
        [
            ("sent", Annotated[Count, Meta(description="Messages the carrier has taken.")]),
            *outcome_counts(described=True),
            (
                "delivery_rate",
                Annotated[
                    Annotated[float, Meta(ge=0, le=100)] | None,
                    Meta(description="Delivered / sent, in percent; null while none is sent."),
                ],
            ),
            (
                "clicks",
                Annotated[Count, Meta(description="Every counted visit of the short links.")],
            ),
            (
                "unique_clicks",
                Annotated[Count, Meta(description="Messages whose short link was visited.")],
            ),
            (
                "ctr",
                Annotated[
                    Percent | None,
                    Meta(
                        description="Unique clicks / delivered, in percent (two decimals); "
                        "null while none is delivered."
                    ),
                ],
            ),
            ("cost", Money),
            (
                "cost_per_message",
                Annotated[Money | None, Meta(description="Cost / sent; null while none is sent.")],
            ),
        ],
        bases=(Answer,),
        kw_only=True,
        module=__name__,
    )
    DeliveryFigures.__doc__ = "What every scope of the stats counts."
    OutcomeCounts = msgspec.defstruct(
        "OutcomeCounts",
        [("sent", Count), *outcome_counts(described=False)],
        bases=(Answer,),
        kw_only=True,
        module=__name__,
    )
    OutcomeCounts.__doc__ = "Messages sent, and their final outcomes."


class VariantStats(DeliveryFigures, kw_only=True):
    """A variant's figures."""

    id: Id
    text: Annotated[str | None, Meta(description="Null for a variant the campaign no longer has.")]
    weight: Annotated[int, Meta(ge=1)] | None


class DomainStats(DeliveryFigures, kw_only=True):
    """A Short URL domain's figures."""

    domain: DomainName


class MinuteStats(OutcomeCounts, kw_only=True):
    """What happened in one minute (by the carrier's and the recipient's times). Minutes
    without activity are left out."""

    minute: Annotated[Time, Meta(description="The minute's start.")]
    failed_total: Annotated[Count, Meta(description=f"{' + '.join(FAILURES)}.")]
    clicks: Count
    opt_outs: Count
    replies: Count
    cost: Money


class CampaignStats(DeliveryFigures, kw_only=True):
    """A campaign's stats, now or as of a moment."""

    campaign_id: Id
    as_of: Annotated[Time | None, Meta(description="The `as_of` asked for, or null for now.")]
    known_at: Annotated[
        Time | None,
        Meta(description="The `known_at` asked for, or null for what is known now."),
    ]
    status: CampaignStatus
    recipients: Annotated[
        Count, Meta(description="The audience fixed at preparation (after suppression).")
    ]
    queued: Annotated[
        Count | None,
        Meta(
            description="Recorded but not yet taken by the carrier; null with `as_of` (not "
            "kept per minute)."
        ),
    ]
    suppressed: Annotated[
        Count | None,
        Meta(
            description="Recorded, then blocked because the recipient opted out before the "
            "carrier had it; null with `as_of`."
        ),
    ]
    cancelled: Annotated[
        Count | None,
        Meta(
            description="Recorded but never handed to a carrier, as the campaign was aborted "
            "first; null with `as_of`."
        ),
    ]
    opt_outs: Annotated[Count, Meta(description="Numbers opted out through this campaign.")]
    replies: Count
    started_at: Time | None
    finished_at: Time | None
    by_variant: Annotated[
        list[VariantStats] | None,
        Meta(
            description="The campaign's variants in order (then any it no longer has); null "
            "with `as_of`. Opt-outs and replies are not attributed to variants."
        ),
    ]
    by_domain: Annotated[
        list[DomainStats] | None,
        Meta(description="Per Short URL domain, by name; null with `as_of`."),
    ]
    series: Annotated[list[MinuteStats], Meta(description="In time order.")]


class Message(Answer, kw_only=True):
    """One message of the log."""

    id: Annotated[
        str | None,
        Meta(
            description="The message's id, which is also its short link's code: null for "
            "roles without personal data."
        ),
    ]
    recipient: Annotated[
        str,
        Meta(
            description="The number; masked (`+44••••••0123`) for roles without personal data "
            "(viewer, analyst).",
            examples=["+447700900123"],
        ),
    ]
    variant_id: Id
    text: Annotated[
        str,
        Meta(
            description="As sent, links and the contact's columns included; for roles without "
            "personal data (viewer, analyst), the variant's text as written, with its "
            "placeholders (`{first_name}`, `{short_url}`)."
        ),
    ]
    parts: Annotated[int, Meta(ge=1)]
    cost: Money
    domain: Annotated[DomainName | None, Meta(description="The Short URL's domain.")]
    short_url: Annotated[
        Annotated[str, Meta(examples=["https://go.example.com/s/8r19mBlAy0"])] | None,
        Meta(description="Null for roles without personal data: the link works (it clicks)."),
    ]
    optout_domain: DomainName | None
    optout_url: Annotated[
        Annotated[str, Meta(examples=["https://out.example.com/o/RXP9rGRIjk"])] | None,
        Meta(description="Null for roles without personal data: the link works (it opts out)."),
    ]
    status: MessageStatus
    created_at: Time
    sent_at: Time | None
    clicked_at: Annotated[Time | None, Meta(description="Its first counted click.")]
    carrier_message_id: Annotated[
        str | None, Meta(description="The SMPP or HTTP carrier's id for it, once it answered.")
    ]
    carrier_error: Annotated[
        Annotated[str, Meta(examples=["0x00000045 ESME_RSUBMITFAIL", "stat:UNDELIV err:001"])]
        | None,
        Meta(
            description="Why the carrier refused or did not deliver it, in its own codes; why "
            "it is `unknown`."
        ),
    ]


class MessagePage(Answer, kw_only=True):
    """One page of the message log, in audience order."""

    items: list[Message]
    total: Annotated[Count, Meta(description="Messages of the campaign.")]
    page: Page
    per_page: PerPage


class Disclosure(Answer, kw_only=True):
    """An answer that showed personal data, written down before it left."""

    id: Id
    at: Time
    actor: Annotated[
        str,
        Meta(
            description="Who read it: the token's actor, as events name it.",
            examples=["Ann Manager", "Ann#1a2b3c4d"],
        ),
    ]
    role: Annotated[PersonalDataRole, Meta(description="The token's role then.")]
    address: Annotated[
        str,
        Meta(
            description="Where the request came from (behind trusted proxies, the visitor's).",
            examples=["203.0.113.7"],
        ),
    ]
    campaign_id: Id
    resource: Annotated[
        DisclosedResource,
        Meta(
            description="`messages`: a page of the message log (numbers and links); "
            "`estimate`: the Summary's sample (a contact's columns)."
        ),
    ]
    page: Annotated[Page | None, Meta(description="The message log's page; null otherwise.")]
    per_page: PerPage | None
    row_count: Annotated[int, Meta(ge=1, description="The rows of personal data it showed.")]
    what: Annotated[
        str,
        Meta(
            description="The same, in words.",
            examples=["message log page 1 (20 a page): 20 numbers with their links"],
        ),
    ]


class DisclosurePage(Answer, kw_only=True):
    """One page of a campaign's disclosures, newest first."""

    items: list[Disclosure]
    total: Annotated[Count, Meta(description="Matching disclosures on all pages.")]
    page: Page
    per_page: PerPage


class VariantEstimate(Answer, kw_only=True):
    """A variant's sample, encoding, parts, recipients and cost."""

    id: Id
    weight: Annotated[int, Meta(ge=1)]
    sample: Annotated[
        str,
        Meta(
            description="The text as the first recipient would get it, with links as long as "
            "real ones; for roles without personal data (viewer, analyst), the contact's "
            "columns are left as their placeholders (`{first_name}`), the figures the same."
        ),
    ]
    encoding: SmsEncoding
    units: Annotated[Count, Meta(description="Its length in GSM-7 septets or UCS-2 units.")]
    parts: Annotated[int, Meta(ge=1)]
    recipients: Annotated[Count, Meta(description="Recipients the ratio gives it.")]
    cost: Money


class PrefixAudience(Answer, kw_only=True):
    """The recipients of one priced destination prefix."""

    prefix: Annotated[str, Meta(description="Digits after `+`; empty for the default price.")]
    recipients: Count
    price_per_part: Money


class LinkDomains(Answer, kw_only=True):
    """The domains the sample links use: the first usable one of each link, else the first
    named; null when the texts do not use the link or it names none."""

    short: DomainName | None
    optout: DomainName | None


class Estimate(Answer, kw_only=True):
    """The wizard's Summary: recipients, parts and estimated cost."""

    campaign_id: Id
    recipients: Annotated[
        Count, Meta(description="After merging lists and removing opted-out numbers.")
    ]
    parts: Annotated[Count, Meta(description="SMS parts in all.")]
    cost: Money
    cost_per_message: Money | None
    variants: list[VariantEstimate]
    by_prefix: Annotated[
        list[PrefixAudience], Meta(description="The audience per priced destination prefix.")
    ]
    link_domains: LinkDomains
    problems: Annotated[
        list[str], Meta(description="Content that preparation would reject; empty when none.")
    ]


ACTIVITY_ANSWERS: tuple[type[Answer], ...] = (
    CampaignStats,
    MessagePage,
    DisclosurePage,
    Estimate,
)
