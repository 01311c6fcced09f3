"""Tokens over the API (admin), and who the caller is (`GET /api/me`)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api import call, platform_of
from gateway.auth import Authenticator, Principal
from gateway.errors import ApiError
from gateway.schemas.answers import Me, NewToken, Token, Tokens, answer
from gateway.schemas.decoding import read_as
from gateway.schemas.tokens import TokenCreate
from projections.tokens import AccessToken


def token_answer(token: AccessToken) -> Token:
    return Token(
        id=token.id,
        name=token.name,
        role=token.role,
        created_at=token.created_at,
        revoked_at=token.revoked_at,
    )


async def list_tokens(request: Request) -> Response:
    platform = platform_of(request)
    tokens = await call(platform.tokens.list_tokens)
    return answer(Tokens(items=[token_answer(token) for token in tokens]))


async def create_token(request: Request) -> Response:
    body = await read_as(request, TokenCreate)
    platform = platform_of(request)
    token, secret = await call(platform.tokens.create, body.name, body.role)
    # The only time the secret is shown: it is not kept.
    new = NewToken(token=secret, **msgspec.structs.asdict(token_answer(token)))
    return answer(new, status_code=201)


async def revoke_token(request: Request) -> Response:
    platform = platform_of(request)
    revoked = await call(platform.tokens.revoke, request.path_params["id"])
    if not revoked:
        raise ApiError("not_found", "no live token has this id or name")
    authenticator: Authenticator = request.app.state.authenticator
    authenticator.forget()
    return answer(token_answer(revoked[0]))


async def who_am_i(request: Request) -> Response:
    principal: Principal = request.state.principal
    return answer(Me(name=principal.name, role=principal.role, signed_in=principal.by_cookie))


routes = [
    Route("/api/tokens", list_tokens, methods=["GET"]),
    Route("/api/tokens", create_token, methods=["POST"]),
    Route("/api/tokens/{id}", revoke_token, methods=["DELETE"]),
    Route("/api/me", who_am_i, methods=["GET"]),
]
