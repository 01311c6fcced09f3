"""The pages' Jinja2 environment (autoescaping every value) and their shared labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from domain.fields import LINK_LABELS, LINK_PLACEHOLDERS
from gateway.pages.page_access import page_access

# The templates and static assets stay in the top-level `web/` folder, beside this package.
WEB = Path(__file__).resolve().parents[2] / "web"
templates = Environment(
    loader=FileSystemLoader(WEB / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

TYPE_LABELS = {
    "outbound": "Outbound only",
    "two_way": "Inbound & outbound",
    "transactional": "Transactional",
}

# Each link's kind, label and placeholder, in order, for the templates and (through
# base.html) the scripts.
LINK_KINDS = [
    {"kind": kind, "label": LINK_LABELS[kind], "placeholder": placeholder}
    for placeholder, kind in LINK_PLACEHOLDERS.items()
]


def render(name: str, request: Request | None = None, **context: Any) -> HTMLResponse:
    """The page; with the request, its nav shows who is signed in (and the sign-out), and
    it shows only the controls the role may use (`may`)."""
    if request is not None:
        context.setdefault("principal", request.scope.get("state", {}).get("principal"))
    context.setdefault("may", page_access(context.get("principal")))
    context.setdefault("link_kinds", LINK_KINDS)
    return HTMLResponse(templates.get_template(name).render(**context))
