"""The access part of the OpenAPI document: the security schemes, each operation's rule
(`x-roles` and a sentence in its description, from gateway.access), and the operations of
tokens and signing in."""

from __future__ import annotations

from typing import Any

from gateway.access import RULES, WEBSOCKET, Rule
from gateway.auth import CSRF_COOKIE, SESSION_COOKIE

Schema = dict[str, Any]
JSON = "application/json"
HTML = {"text/html": {"schema": {"type": "string"}}}
METHODS = ("get", "put", "post", "delete", "patch")

DESCRIPTION = f"""\
## Access

Every request but the public ones (health, readiness, metrics, this document, the links in
messages `/s/{{code}}` and `/o/{{code}}`, the sign-in page, static files) needs a token:
`Authorization: Bearer <token>` (scripts, kiosks, carriers; the pages and the WebSocket take
it too), or the `{SESSION_COOKIE}` cookie of a sign-in at `/sign-in` (browsers). Without one,
or with an unknown or revoked token: 401 `unauthorized` (a page redirects to
`/sign-in?next=...` instead). With a token whose role may not: 403 `forbidden` (a page asked
for with the sign-in cookie: an HTML page saying so). Each operation names the roles it
allows in `x-roles` and in its description.

Roles: `viewer` (the wall and every read), `analyst` (reads, the audit trail, the event
history for export and replay), `support` (reads, the audit trail), `manager` (every
campaign, domain, pool, stream, settings and contact-list command), `admin` (everything, and
the tokens); `carrier` is for machines: delivery receipts and inbound replies only.

Requests authenticated by the cookie with a method other than GET, HEAD or OPTIONS must send
the session's CSRF token (the `{CSRF_COOKIE}` cookie's value) in `X-CSRF-Token`, else 403
`forbidden`; bearer requests need none. The WebSocket with the cookie needs an `Origin` of
this site. The token's name is the `actor` recorded in every event a request causes, with
`#` and the start of its id when an earlier token had the same name (`Ann#1a2b3c4d`).
`CAMPAIGNS_BOOTSTRAP_TOKEN` makes its value an admin token named `bootstrap`; `campaigns
token create --role R --name N` makes others.
"""

SECURITY_SCHEMES: Schema = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `campaigns token create` or `POST /api/tokens`.",
    },
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session of a sign-in at /sign-in; unsafe methods also need "
        f"`X-CSRF-Token` equal to the `{CSRF_COOKIE}` cookie.",
    },
}


def apply_rule(operation: Schema, rule: Rule) -> Schema:
    """The operation with its rule: who may call it, and the 401 and 403 it may answer."""
    described = operation.get("description", "")
    result = {
        **operation,
        "description": (described + "\n\n" if described else "") + rule.sentence,
        "x-roles": list(rule.roles),
    }
    if rule.public:
        result["security"] = []
        return result
    result["responses"] = {
        **operation.get("responses", {}),
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
    }
    return result


def with_access_rules(paths: dict[str, Schema]) -> dict[str, Schema]:
    """Every operation of the paths with its rule (gateway.access)."""
    ruled: dict[str, Schema] = {}
    for path, item in paths.items():
        ruled[path] = dict(item)
        for method in METHODS:
            if method in item:
                rule = RULES.get((method.upper(), path))
                if rule is not None:
                    ruled[path][method] = apply_rule(item[method], rule)
        if "x-websocket" in item and (WEBSOCKET, path) in RULES:
            rule = RULES[(WEBSOCKET, path)]
            ruled[path]["x-roles"] = list(rule.roles)
            ruled[path]["description"] = item["description"] + "\n\n" + rule.sentence
    return ruled


def answer(description: str, schema: str) -> Schema:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def error(status: str) -> Schema:
    names = {
        "400": "MalformedJson",
        "404": "NotFound",
        "413": "PayloadTooLarge",
        "422": "ValidationFailed",
    }
    return {"$ref": f"#/components/responses/{names[status]}"}


def token_paths() -> dict[str, Schema]:
    token_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 200},
        "description": "The token's id (or its name).",
    }
    return {
        "/api/tokens": {
            "get": {
                "operationId": "listTokens",
                "summary": "The live tokens (never their secrets)",
                "tags": ["access"],
                "responses": {"200": answer("The tokens.", "Tokens")},
            },
            "post": {
                "operationId": "createToken",
                "summary": "Make a token",
                "tags": ["access"],
                "description": "The secret is in the answer's `token`, this once: only its "
                "SHA-256 digest is kept. A live token with the same name is 409 `already_exists`.",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/TokenCreate"}}},
                },
                "responses": {
                    "201": answer("The new token, with its secret.", "NewToken"),
                    "400": error("400"),
                    "413": error("413"),
                    "409": {
                        "description": "A live token has this name: `already_exists`.",
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                    "422": error("422"),
                },
            },
        },
        "/api/tokens/{id}": {
            "delete": {
                "operationId": "revokeToken",
                "summary": "Revoke a token",
                "tags": ["access"],
                "description": "It stops working at once on this gateway and within 5 s on "
                "the others; its sign-ins end.",
                "parameters": [token_id],
                "responses": {"200": answer("The revoked token.", "Token"), "404": error("404")},
            }
        },
        "/api/me": {
            "get": {
                "operationId": "me",
                "summary": "Who the caller is: the token's name and role",
                "tags": ["access"],
                "responses": {"200": answer("The caller.", "Me")},
            }
        },
    }


def sign_in_paths() -> dict[str, Schema]:
    form = {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "token": {"type": "string"},
                    "csrf_token": {"type": "string"},
                    "next": {"type": "string"},
                },
            }
        }
    }
    back = {"description": "The form again, with the reason.", "content": HTML}
    return {
        "/sign-in": {
            "get": {
                "operationId": "signInPage",
                "summary": "The sign-in form",
                "tags": ["access"],
                "parameters": [
                    {
                        "name": "next",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "A path of this site to go to afterwards.",
                    }
                ],
                "responses": {"200": {"description": "The form.", "content": HTML}},
            },
            "post": {
                "operationId": "signIn",
                "summary": "Sign in with a token",
                "tags": ["access"],
                "description": f"The form's `csrf_token` must equal the `{CSRF_COOKIE}` "
                "cookie the form was served with. On success, a session cookie (HttpOnly, "
                "SameSite=Lax, Secure over https) and a new CSRF cookie, and a redirect to "
                "`next`. After 5 failures from one address, each attempt waits: 15 s, then "
                "twice as long after each further failure (429 with `Retry-After`).",
                "requestBody": {"required": True, "content": form},
                "responses": {
                    "303": {"description": "Signed in: to `next`."},
                    "401": back,
                    "403": back,
                    "429": {**back, "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                },
            },
        },
        "/sign-out": {
            "post": {
                "operationId": "signOut",
                "summary": "Sign out",
                "tags": ["access"],
                "description": "Ends the cookie's session (the form's `csrf_token` must be "
                "the session's) and clears the cookies.",
                "responses": {"303": {"description": "To the sign-in page."}},
            }
        },
    }
