"""Disclosures of personal data over HTTP: an answer that shows recipients' full numbers,
working links or contact columns is written down (projections.disclosures) before it leaves,
and the audit trail lists them at `GET /api/campaigns/{id}/disclosures`.

Only the roles of `domain.roles.PERSONAL_DATA` get such answers; the others get numbers
masked, no links and no contact columns, which discloses nothing and is not written down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from domain.application import parse_id
from domain.roles import PERSONAL_DATA
from gateway.api import call, platform_of, wants_csv
from gateway.auth import Principal
from gateway.schemas import activity_answers as answers
from gateway.schemas.answers import answer
from gateway.schemas.moments import as_time
from gateway.schemas.queries import DisclosuresQuery, read_query
from projections.disclosures import Disclosure, DisclosureFilter, csv_lines

REPEAT_SECONDS = 60.0  # the same read again by the same actor within this: written once
REMEMBERED = 10_000  # reads remembered for that, per gateway process


class DisclosureRecorder:
    """Writes each disclosure down, but a repeat once: the same actor reading the same page
    of the same campaign from the same address within REPEAT_SECONDS (per gateway process).
    A write that fails raises, so the answer it was for never leaves."""

    def __init__(
        self, write: Callable[[Disclosure], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.write = write
        self.clock = clock
        self.recent: dict[Hashable, float] = {}
        self.lock = threading.Lock()

    def record(self, disclosure: Disclosure) -> bool:
        """Whether it was written (False: a repeat, written already)."""
        key = (
            disclosure.actor,
            disclosure.address,
            disclosure.campaign_id,
            disclosure.resource,
            disclosure.page,
            disclosure.per_page,
        )
        now = self.clock()
        with self.lock:
            last = self.recent.get(key)
            if last is not None and now - last < REPEAT_SECONDS:
                return False
        self.write(disclosure)
        with self.lock:
            self.recent.pop(key, None)
            self.recent[key] = now
            while len(self.recent) > REMEMBERED:
                del self.recent[next(iter(self.recent))]
        return True


def personal_reader(request: Request) -> Principal | None:
    """The caller, when its role reads personal data; None for every other caller."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None and principal.role in PERSONAL_DATA else None


def address_of(request: Request) -> str:
    """Where the request came from (behind trusted proxies, the visitor's address)."""
    return request.client.host if request.client else "unknown"


async def disclose(
    request: Request,
    reader: Principal,
    campaign_id: str,
    resource: str,
    row_count: int,
    page: int | None = None,
    per_page: int | None = None,
) -> None:
    """Writes down that the answer about to leave shows `reader` personal data."""
    recorder: DisclosureRecorder = request.app.state.disclosures
    disclosure = Disclosure.of(
        datetime.now(UTC),
        reader.actor,
        reader.role,
        address_of(request),
        campaign_id,
        resource,
        row_count,
        page,
        per_page,
    )
    await call(recorder.record, disclosure)


# The audit trail's list of them.


def disclosure_filter(query: DisclosuresQuery) -> DisclosureFilter:
    return DisclosureFilter(
        actor=query.actor,
        since=as_time(query.since, "from"),
        until=as_time(query.until, "to", end_of_day=True),
    )


async def campaign_disclosures(request: Request) -> Response:
    campaign_id = parse_id(request.path_params["id"], "campaign")
    query = read_query(request.query_params, DisclosuresQuery)
    filters, as_csv = disclosure_filter(query), wants_csv(request, query.format)
    page, per_page = query.page, query.per_page
    platform = platform_of(request)
    await call(platform.app.get_campaign, campaign_id)  # 404 for an unknown campaign
    log = platform.disclosures
    if as_csv:
        return StreamingResponse(
            csv_lines(log.every(str(campaign_id), filters)),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="disclosures-{campaign_id}.csv"'
            },
        )
    found, total = await call(log.page, str(campaign_id), filters, page, per_page)
    items = [answers.Disclosure(**disclosure.to_json()) for disclosure in found]
    return answer(answers.DisclosurePage(items=items, total=total, page=page, per_page=per_page))


routes = [
    Route("/api/campaigns/{id}/disclosures", campaign_disclosures, methods=["GET"]),
]
