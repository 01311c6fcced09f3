"""The bodies of the domains', pools' and settings' commands."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from msgspec import UNSET, Meta, UnsetType

from domain.fields import MAX_DESCRIPTION, MAX_DOMAINS, MAX_NAME
from domain.pricing import MAX_PREFIXES
from gateway.schemas.fields import NOT_ONLY_SPACES, CommandOptions, DomainName, Text

Domains = Annotated[list[DomainName], Meta(max_length=MAX_DOMAINS)]
PoolName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_NAME,
        pattern=NOT_ONLY_SPACES,
        description=f"1 to {MAX_NAME} characters, not only spaces.",
    ),
]
Prefix = Annotated[str, Meta(pattern="^[0-9]{0,7}$(?!\\n)")]
MAX_PRICE = 10**12  # a price per part no carrier reaches; Decimal keeps its 4 places exact
MAX_DOMAIN_LIMIT = 10**9
Price = (
    Annotated[str, Meta(pattern="^[0-9]{1,12}(\\.[0-9]{1,4})?$(?!\\n)")]
    | Annotated[float, Meta(ge=0, le=MAX_PRICE)]
)


class DomainsAdd(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """Domain names to add; duplicates are dropped, and names added already are answered as
    they are."""

    names: Annotated[
        list[DomainName],
        Meta(min_length=1, max_length=MAX_DOMAINS, description="Duplicates are dropped."),
    ]


class DomainCommand(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """A domain command's options; `expected_version` has no effect here."""


class PricesChange(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """The price table."""

    schema: ClassVar[dict[str, Any]] = {
        "properties": {
            "prices": {
                "required": [""],
                "examples": [{"": "0.0500", "44": "0.0400", "447": "0.0380"}],
            }
        }
    }
    prices: Annotated[
        dict[Prefix, Price],
        Meta(
            max_length=MAX_PREFIXES,
            description="Price per SMS part by destination prefix (up to 7 digits, the longest "
            "matching prefix wins); the empty prefix is the default and is required. Prices "
            "are decimals at least 0 with at most 4 places, as strings or numbers (a number "
            "with more places is refused with 422).",
        ),
    ]


class DomainLimitChange(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """The global domain limit."""

    limit: Annotated[
        int,
        Meta(ge=1, le=MAX_DOMAIN_LIMIT, description="Messages per domain, at least 1."),
    ]


class PoolFields(CommandOptions, kw_only=True, forbid_unknown_fields=True):
    """A pool's fields."""

    description: Annotated[Text, Meta(max_length=MAX_DESCRIPTION)] | UnsetType | None = UNSET
    domains: Domains | UnsetType = UNSET
    add_domains: Domains | UnsetType = UNSET
    remove_domains: Domains | UnsetType = UNSET


class PoolCreate(PoolFields, kw_only=True, forbid_unknown_fields=True):
    """`domains` and `add_domains` together make the pool's domains; each must have been
    added first (422 names one that was not)."""

    name: PoolName


class PoolEdit(PoolFields, kw_only=True, forbid_unknown_fields=True):
    """`domains` replaces the list; then `remove_domains` are taken out and `add_domains`
    appended. Named domains must have been added first (422 otherwise)."""

    name: PoolName | UnsetType = UNSET
