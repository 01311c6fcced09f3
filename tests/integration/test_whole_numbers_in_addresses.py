"""Review finding 9 over the real gateway: a whole number in an address written with `²`
(a digit to `str.isdigit`, not to `int`) or with 5,000 digits is refused in the page's or
the API's usual way, never with a 500; a replay up to the last time that can be stored ends
instead of closing with 1011."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.integration.scenarios import create

SUPERSCRIPT_TWO = "%C2%B2"
HUGE = "9" * 5000


def test_a_time_travel_version_written_with_a_superscript_digit_is_refused_not_a_500(
    client: TestClient,
) -> None:
    campaign = create(client, name="Travelling")["id"]
    for version in (SUPERSCRIPT_TWO, HUGE):
        answer = client.get(f"/campaigns/{campaign}/at?a={version}", follow_redirects=False)
        # The page's way with a malformed address: start over, saying what was wrong.
        assert answer.status_code == 302, answer.text
        problem = parse_qs(urlsplit(answer.headers["location"]).query)["problem"]
        assert problem == ["a must be a whole number from 1 to 1000000000"]
        page = client.get(answer.headers["location"])
        assert page.status_code == 200
        assert "a must be a whole number from 1 to 1000000000" in page.text


def test_a_wizard_step_written_with_a_superscript_digit_opens_the_first_step(
    client: TestClient,
) -> None:
    campaign = create(client, name="Drafted")["id"]
    for step in (SUPERSCRIPT_TWO, HUGE):
        assert client.get(f"/campaigns/{campaign}/wizard?step={step}").status_code == 200
        assert client.get(f"/campaigns/new?step={step}").status_code == 200


def test_a_page_number_of_5000_digits_is_refused_with_a_clear_error(client: TestClient) -> None:
    for page in (SUPERSCRIPT_TWO, HUGE):
        answer = client.get(f"/api/campaigns?page={page}")
        assert answer.status_code == 422
        assert answer.json()["error"]["message"] == "page must be a whole number from 1 to 1000000"


def test_the_realtime_socket_refuses_a_superscript_position_without_a_1011_close(
    client: TestClient,
) -> None:
    with client.websocket_connect(f"/ws/realtime?after={SUPERSCRIPT_TWO}") as socket:
        message = socket.receive_json()
        assert message["error"]["code"] == "validation_failed"
        try:
            socket.receive_json()
        except WebSocketDisconnect as closed:
            assert closed.code == 1008
        else:
            raise AssertionError("the socket stayed open")


def test_a_replay_up_to_the_last_storable_time_ends_without_a_1011_close(
    client: TestClient,
) -> None:
    query = "from=9999-12-31T23:00:00Z&to=9999-12-31T23:59:59.999999Z&speed=100000"
    messages = []
    with client.websocket_connect(f"/ws/replay?{query}") as socket:
        try:
            while True:
                messages.append(socket.receive_json())
        except WebSocketDisconnect as closed:
            assert closed.code == 1000
    assert messages[0]["type"] == "snapshot"
    assert messages[-1]["type"] == "end"
