"""Every answer confines the browser: no inline scripts, no framing, no sniffing."""

from __future__ import annotations

from starlette.testclient import TestClient

from gateway.app import create_app
from infra.bootstrap import Platform
from tests.credentials import ADMIN_HEADERS


def test_answers_carry_security_headers(client: TestClient) -> None:
    """Finding 11: a Content-Security-Policy without inline scripts, no framing (the
    opt-out page least of all), nosniff and a referrer policy, on pages and the API."""
    for path in ("/api/campaigns", "/campaigns", "/o/unknown-code", "/healthz", "/sign-in"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        script = next(p for p in policy.split("; ") if p.startswith("script-src"))
        assert script == "script-src 'self'"
        assert "frame-ancestors 'none'" in policy
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain http: no HSTS


def test_https_answers_ask_to_stay_on_https(platform: Platform) -> None:
    app = create_app(platform, own_platform=True)
    with TestClient(app, base_url="https://testserver", headers=ADMIN_HEADERS) as secure:
        assert secure.get("/healthz").headers["strict-transport-security"].startswith("max-age=")
