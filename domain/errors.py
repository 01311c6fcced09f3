"""Errors the domain raises; the gateway maps each to its HTTP answer."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused. `code` is the contract's snake_case error code."""

    code = "domain_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "validation_failed"

    @classmethod
    def of(cls, problems: list[FieldProblem]) -> ValidationFailed:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(
            f"{first.field}: {first.message}{more}",
            details=[{"field": p.field, "message": p.message} for p in problems],
        )


class FieldProblem:
    """One invalid field, named by its path (`variants[1].weight`)."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class IllegalTransition(DomainError):
    code = "illegal_transition"


class VersionConflict(DomainError):
    code = "version_conflict"
