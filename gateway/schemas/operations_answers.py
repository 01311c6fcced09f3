"""Answer bodies of the service itself: health, readiness, and the error format every
refusal has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from msgspec import UNSET, Meta, UnsetType

from gateway.errors import STATUS_OF_CODE
from gateway.schemas.answers import Answer
from gateway.schemas.fields import one_of

if TYPE_CHECKING:
    Up: TypeAlias = str
    ReadyOrNot: TypeAlias = str
else:
    Up = one_of(("ok",))
    ReadyOrNot = one_of(("ready", "not ready"))


class Health(Answer, kw_only=True):
    """The process is up."""

    status: Up


class ReadinessCheck(Answer, kw_only=True):
    """One part's check."""

    ok: bool
    position: int | UnsetType = UNSET
    error: str | UnsetType = UNSET
    details: str | UnsetType = UNSET


class Readiness(Answer, kw_only=True):
    """Whether the store, the read models and Kafka (where configured) answer."""

    status: ReadyOrNot
    checks: Annotated[
        dict[str, ReadinessCheck],
        Meta(
            description="`store`, `read_models` and, where Kafka is configured, `kafka` (the "
            "relay's `position`): each `ok`, with its `position` or, when it failed, which "
            "part did not answer (`error`) and, for admins only, the driver's own message "
            "(`details`: it names hosts and users)."
        ),
    ]


class FieldProblem(Answer, kw_only=True):
    """What is wrong with one field or query parameter."""

    field: str
    message: str


class ErrorBody(Answer, kw_only=True):
    """What went wrong."""

    code: Annotated[str, Meta(description="snake_case", examples=sorted(STATUS_OF_CODE))]
    message: Annotated[str, Meta(description="For a person.")]
    details: (
        Annotated[
            list[FieldProblem] | dict[str, Any],
            Meta(
                description="`validation_failed`: the problem of each field; conflicts: the "
                "status, or the expected and actual versions."
            ),
        ]
        | UnsetType
    ) = UNSET


class Error(Answer, kw_only=True):
    """A refusal: a 4xx status and this body (a 500 is a fault on the server's side)."""

    error: ErrorBody


OPERATIONS_ANSWERS: tuple[type[Answer], ...] = (Health, Readiness, Error)
