"""Signing in and out of the pages: a token typed once, then a session cookie.

The session cookie is HttpOnly and SameSite=Lax (Secure over https); it holds a random
secret whose digest the token store keeps. The CSRF cookie is readable by our scripts,
which send it back in `X-CSRF-Token`; the forms here send it as a hidden field. Failed
sign-ins from one address are slowed down: after a few, each attempt must wait longer, at
every gateway (the count is kept in the read-model database).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from domain.roles import PEOPLE
from gateway.auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator, Principal
from gateway.inputs import read_body
from gateway.pages.rendering import render
from gateway.services import Services
from projections.tokens import SESSION_DAYS

MAX_FORM = 16 * 1024  # bytes: a token, a path and a CSRF token; anyone may post these forms


def safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `https://...`, `/\\evil`)."""
    target = target or "/campaigns"
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/campaigns"
    if parts.scheme or parts.netloc or target.startswith("/sign-"):
        return "/campaigns"
    return target


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    return request.url.scheme in ("https", "wss")


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields (URL-encoded, as our forms send them), read with a small
    limit: these forms are open to anyone, so a huge body must not be buffered."""
    body = await read_body(request, MAX_FORM)
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:  # more fields than any of our forms has: none of them is read
        return {}
    return {key: values[-1] for key, values in fields.items()}


def principal_of(request: Request) -> Principal | None:
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


def form_page(
    request: Request, csrf: str, *, next_path: str, error: str = "", status: int = 200
) -> Response:
    page = render(
        "sign_in.html",
        request,
        principal=None,
        csrf=csrf,
        next_path=next_path,
        error=error,
    )
    page.status_code = status
    page.set_cookie(CSRF_COOKIE, csrf, samesite="lax", secure=is_https(request), path="/")
    page.headers["Cache-Control"] = "no-store"
    return page


async def sign_in_page(request: Request) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return form_page(request, csrf, next_path=safe_next(request.query_params.get("next")))


async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    cookie_csrf = request.cookies.get(CSRF_COOKIE, "")
    fresh_csrf = cookie_csrf or secrets.token_urlsafe(32)
    offered = form.get("csrf_token", "")
    if not cookie_csrf or not hmac.compare_digest(offered.encode(), cookie_csrf.encode()):
        message = "The form had expired; please sign in again."
        return form_page(request, fresh_csrf, next_path=next_path, error=message, status=403)
    platform: Services = request.app.state.platform
    throttle = platform.sign_in_failures
    address = client_address(request)  # the visitor's, behind a proxy the server trusts
    wait = await run_in_threadpool(throttle.wait, address)
    if wait:
        message = f"Too many failed sign-ins: try again in {wait} s."
        page = form_page(request, fresh_csrf, next_path=next_path, error=message, status=429)
        page.headers["Retry-After"] = str(wait)
        return page
    secret = form.get("token", "").strip()
    token = await run_in_threadpool(platform.tokens.find, secret) if secret else None
    if token is None or token.role not in PEOPLE:
        await run_in_threadpool(throttle.failed, address)
        message = "Unknown token." if token is None else "This token is for machines only."
        return form_page(request, fresh_csrf, next_path=next_path, error=message, status=401)
    await run_in_threadpool(throttle.succeeded, address)
    session, csrf = await run_in_threadpool(platform.tokens.open_session, token)
    response = RedirectResponse(next_path, status_code=303)
    secure = is_https(request)
    age = SESSION_DAYS * 86400
    response.set_cookie(
        SESSION_COOKIE, session, max_age=age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, samesite="lax", secure=secure)
    return response


async def sign_out(request: Request) -> Response:
    """Ends the cookie's session (a signed-out browser just lands on the sign-in page)."""
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        offered = (await read_form(request)).get("csrf_token", "")
        if not principal.csrf or not hmac.compare_digest(offered.encode(), principal.csrf.encode()):
            return RedirectResponse("/campaigns", status_code=303)  # a forged form: ignored
        platform: Services = request.app.state.platform
        await run_in_threadpool(platform.tokens.close_session, principal.session)
        authenticator: Authenticator = request.app.state.authenticator
        authenticator.forget()
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, samesite="lax")
    return response


sign_in_routes = [
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
