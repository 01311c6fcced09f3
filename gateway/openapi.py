"""The OpenAPI document the server serves at /openapi.json."""

from __future__ import annotations

from typing import Any


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Campaigns", "version": "0.1.0"},
        "paths": {},
    }
