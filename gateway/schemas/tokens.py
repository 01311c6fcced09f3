"""The body that makes an access token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

from msgspec import Meta

from domain.roles import MAX_TOKEN_NAME, ROLES
from gateway.schemas.fields import NOT_ONLY_SPACES, Body, one_of

if TYPE_CHECKING:
    Role: TypeAlias = str
else:
    Role = one_of(ROLES)


class TokenCreate(Body, kw_only=True, forbid_unknown_fields=True):
    """A new token's name and role. The name is trimmed and must be printable; `system`,
    `demo`, `anonymous`, `bootstrap` (in any case), names with `#` and sending processes'
    names (`role@host:pid:xxxx`) are refused with 422; one a live token has, with 409."""

    name: Annotated[str, Meta(min_length=1, max_length=MAX_TOKEN_NAME, pattern=NOT_ONLY_SPACES)]
    role: Role
