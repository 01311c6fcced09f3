"""The admin token the benchmarks start their servers with and send with every request."""

from __future__ import annotations

TOKEN = "cmp_benchmark-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SERVER_ENV = {"CAMPAIGNS_BOOTSTRAP_TOKEN": TOKEN}  # for servers started as `campaigns ...`
