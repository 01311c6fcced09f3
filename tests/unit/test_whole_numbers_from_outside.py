"""Review finding 9: `isdigit()` then `int()` crashed on `²` (a digit to `isdigit`, not to
`int`) and on 5,000-digit numbers (`int` refuses over 4,300 digits): the time travel page
answered 500 and the realtime socket closed with 1011. One parser, `parse_whole_number`,
reads every whole number that comes from outside: ASCII digits only, its length bounded
before `int` sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import domain.fields
from domain.fields import Invalid
from gateway import realtime, replay
from gateway.contact_lists import refuse_declared_oversize
from gateway.errors import ApiError
from gateway.inputs import query_int, read_body
from gateway.pages.history import pick_moment
from gateway.pages.wizard import chosen_step
from gateway.realtime import Hub, parse_after
from projections.carrier_log import id_forms
from projections.wall import FilterError

T = TypeVar("T")

SUPERSCRIPT_TWO = "²"  # `"²".isdigit()` is true; `int("²")` raises
HUGE = "9" * 5000  # `int` refuses it (over 4,300 digits)
NOT_WHOLE_NUMBERS = [
    SUPERSCRIPT_TWO,
    "١٢",  # Arabic-Indic digits: `int` reads them, nobody types them in an address
    HUGE,
    "",
    " 7",
    "7 ",
    "+7",
    "-7",
    "7_0",
    "7.0",
    "0x7",
]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """On a loop of its own thread: the browser journeys keep one running on the main one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def request_with(query: str = "", headers: dict[str, str] | None = None) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query.encode("ascii"),
        "headers": [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ],
    }
    return Request(scope, receive)


# The parser.


@pytest.mark.parametrize("text", ["0", "7", "007", "1000000"])
def test_ascii_digits_within_the_bounds_are_a_whole_number(text: str) -> None:
    assert domain.fields.parse_whole_number(text, 0, 1_000_000) == int(text)


@pytest.mark.parametrize("text", NOT_WHOLE_NUMBERS)
def test_anything_but_ascii_digits_is_not_a_whole_number(text: str) -> None:
    with pytest.raises(Invalid, match="must be a whole number from 0 to 1000000"):
        domain.fields.parse_whole_number(text, 0, 1_000_000)


def test_a_5000_digit_number_is_refused_with_a_clear_error() -> None:
    with pytest.raises(Invalid) as refused:
        domain.fields.parse_whole_number(HUGE, 1, 100)
    assert str(refused.value) == "must be a whole number from 1 to 100"


@pytest.mark.parametrize("text", ["0", "101"])
def test_a_whole_number_outside_the_bounds_is_refused(text: str) -> None:
    with pytest.raises(Invalid, match="from 1 to 100"):
        domain.fields.parse_whole_number(text, 1, 100)


# Query parameters of the API and the pages.


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, "١٢", HUGE, "+7", " 7"])
def test_a_query_number_not_in_ascii_digits_is_refused_naming_its_parameter(text: str) -> None:
    request = request_with(urlencode({"page": text}))
    with pytest.raises(ApiError) as refused:
        query_int(request, "page", 1, 1, 1_000_000)
    assert refused.value.code == "validation_failed"
    assert refused.value.message == "page must be a whole number from 1 to 1000000"


def test_a_query_number_in_ascii_digits_is_read() -> None:
    assert query_int(request_with("page=12"), "page", 1, 1, 1_000_000) == 12
    assert query_int(request_with("page="), "page", 1, 1, 1_000_000) == 1


@pytest.mark.parametrize("query", ["a=%C2%B2", f"a={HUGE}"])
def test_a_time_travel_version_not_in_ascii_digits_is_refused_not_a_crash(query: str) -> None:
    versions = [{"version": 1}, {"version": 2}]
    with pytest.raises(ApiError, match="a must be a whole number"):
        pick_moment(request_with(query), "a", versions, 1)


def test_a_time_travel_version_past_the_last_is_the_last() -> None:
    versions = [{"version": 1}, {"version": 2}]
    assert pick_moment(request_with("b=9"), "b", versions, 2) == (2, None)
    assert pick_moment(request_with(""), "b", versions, 2) == (2, None)


@pytest.mark.parametrize("query", ["step=%C2%B2", f"step={HUGE}", "step=x", "step=0", "step=6"])
def test_a_wizard_step_that_names_no_step_opens_the_first_step(query: str) -> None:
    assert chosen_step(request_with(query), has_campaign=True) == 1


def test_a_wizard_step_in_ascii_digits_opens_that_step() -> None:
    assert chosen_step(request_with("step=3"), has_campaign=True) == 3
    assert chosen_step(request_with("step=3"), has_campaign=False) == 1


# Declared body sizes.


@pytest.mark.parametrize("declared", [SUPERSCRIPT_TWO, HUGE])
def test_a_declared_length_not_in_ascii_digits_is_not_a_crash(declared: str) -> None:
    request = request_with(headers={"content-length": declared})
    assert run(read_body(request)) == b""  # the body is counted as it arrives instead
    refuse_declared_oversize(request_with(headers={"content-length": declared}))


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(ApiError) as refused:
        run(read_body(request_with(headers={"content-length": "2000"}), limit=1000))
    assert refused.value.code == "payload_too_large"


# A carrier's message ids.


def test_a_carrier_id_of_other_digits_has_no_other_form() -> None:
    assert id_forms(SUPERSCRIPT_TWO) == [SUPERSCRIPT_TWO]
    assert id_forms("١٢٣") == ["١٢٣"]
    assert id_forms("255") == ["ff", "597", "255"]


# The realtime and replay sockets.


class QuietFeed:
    def start(self, deliver: Any, reset: Any) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.mark.parametrize("text", ["", "0", "12"])
def test_a_realtime_position_in_ascii_digits_is_read(text: str) -> None:
    assert parse_after(text) == (int(text) if text else None)


@pytest.mark.parametrize("text", [SUPERSCRIPT_TWO, HUGE, "-1"])
def test_a_realtime_position_not_in_ascii_digits_is_a_filter_error(text: str) -> None:
    with pytest.raises(FilterError, match="after must be a position"):
        parse_after(text)


def refusal(client: TestClient, path: str) -> tuple[dict[str, Any], int]:
    """The error message a socket sends, and the code it then closes with."""
    with client.websocket_connect(path) as socket:
        message = socket.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    return message, closed.value.code


@pytest.mark.parametrize("after", ["%C2%B2", HUGE])
def test_the_realtime_socket_refuses_a_bad_position_without_a_1011_close(after: str) -> None:
    app = Starlette(routes=realtime.routes)
    app.state.hub = Hub(QuietFeed())
    with TestClient(app) as client:
        message, code = refusal(client, f"/ws/realtime?after={after}")
    assert message["error"]["code"] == "validation_failed"
    assert message["error"]["message"].startswith("after must be a position")
    assert code == 1008


@pytest.mark.parametrize(
    "query",
    [
        "from=0001-01-01T00:00:00%2B01:00&to=2026-01-01T00:00:00Z",  # before the first UTC time
        "from=2026-01-01T00:00:00Z&to=9999-12-31T23:59:59-01:00",  # after the last
        "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&speed=%C2%B2",
        f"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&speed={HUGE}",
    ],
)
def test_the_replay_socket_refuses_bad_params_without_a_1011_close(query: str) -> None:
    with TestClient(Starlette(routes=replay.routes)) as client:
        message, code = refusal(client, f"/ws/replay?{query}")
    assert message["error"]["code"] == "validation_failed"
    assert code == 1008
