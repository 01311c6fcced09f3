"""The admin token the test suites start their servers with (CAMPAIGNS_BOOTSTRAP_TOKEN) and
send with every request."""

from __future__ import annotations

ADMIN_TOKEN = "cmp_test-admin-token-0123456789abcdef"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
