"""The contract's error format: `{"error": {"code", "message", "details"?}}`, never a 500 for
bad input."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.errors import DomainError

log = logging.getLogger(__name__)

STATUS_OF_CODE = {
    "validation_failed": 422,
    "not_found": 404,
    "illegal_transition": 409,
    "version_conflict": 409,
    "already_exists": 409,
    "malformed_json": 400,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "unauthorized": 401,
    "forbidden": 403,
    "method_not_allowed": 405,
}


class ApiError(DomainError):
    """An error found at the edge (the body, the query), before the domain is asked."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, details)
        self.code = code


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


async def domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_response(STATUS_OF_CODE.get(exc.code, 400), exc.code, exc.message, exc.details)


def allowed_methods(request: Request) -> list[str]:
    """Every method the resource at the request's path is served with.

    Starlette's own 405 names only the first route that matched the path, while a path here
    is often served by one route per method (GET and POST /api/campaigns). Of the templates
    that match, the resource is the one with the fewest parameters: `/api/campaigns/{id}/stats`
    rather than `/api/campaigns/{id}/{command}`.
    """
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    matching = [
        route
        for route in getattr(request.app, "routes", ())
        if isinstance(route, Route) and route.methods and route.path_regex.match(path)
    ]
    if not matching:
        return []
    fewest = min(len(route.param_convertors) for route in matching)
    methods: set[str] = set()
    for route in matching:
        if len(route.param_convertors) == fewest:
            methods |= route.methods or set()
    return sorted(methods)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    message = {404: "no such resource", 405: "method not allowed here"}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
    return error_response(exc.status_code, code, message, headers=headers)


async def unexpected_error(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side")


EXCEPTION_HANDLERS = {
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
