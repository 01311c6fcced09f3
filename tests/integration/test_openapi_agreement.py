"""The served OpenAPI document and the server agree both ways, for every operation.

Schemathesis reads `/openapi.json` from the application itself (in process, no network) and
draws requests from it: schema-valid ones (body, query, path) must never be refused as
invalid (400 or 422), schema-invalid ones must be refused with a 4xx (with an error code and
`details` under /api), and a method the document does not list for a path is answered 405
with an `Allow` header naming exactly the documented methods. Every answer has a status,
a media type and a body the document gives for the operation.

The few rules the document states in words because JSON Schema cannot say them (rules
between fields, or on what is stored) are written below as `PROSE_RULES`: a schema-valid
request that breaks one of them is answered as the document says in words, so it is only
checked for server errors.

The requests drawn are the same in every run, so a failure here is one the last change
brought. `CAMPAIGNS_FUZZ_RANDOM=1` draws afresh each run (with pytest's `--hypothesis-seed=N`
to repeat one) to look further.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import negated_parameters
from starlette.applications import Starlette
from starlette.testclient import TestClient

from domain.contact_import import parse_header
from domain.errors import ValidationFailed
from domain.phone import BadNumber, normalise
from domain.roles import check_token_name
from gateway.app import create_app
from gateway.openapi import openapi_document
from infra.bootstrap import build
from infra.settings import Settings
from projections.tokens import RESERVED_NAMES, is_own_name
from tests.credentials import ADMIN_HEADERS, ADMIN_TOKEN

EXAMPLES_PER_OPERATION = 30
DRAWN_AFRESH = os.environ.get("CAMPAIGNS_FUZZ_RANDOM") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
    unsupported_method,
    allow_header_conformance,
]
PROSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
]
Body = dict[str, Any]
Schema = dict[str, Any]


# The rules the document states in words, as checks of a drawn request.


def whole_numbers_without_fractions(value: Any) -> Any:
    """The document's convention: whole numbers are written without a fraction (`3`, not
    `3.0`), which JSON Schema cannot tell apart."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers_without_fractions(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers_without_fractions(item) for item in value]
    return value


def campaign_fields_agree(body: Body) -> bool:
    """Fields whose rules relate them to each other or to what is stored: the stream and
    link domains and pools must exist, variants named by id must be the campaign's."""
    indicators = body.get("ctr_indicators")
    if indicators and indicators["red_below"] > indicators["green_from"]:
        return False
    schedule = body.get("sending_schedule")
    if schedule and schedule["from"] == schedule["to"]:
        return False
    if body.get("stream") not in (None, "demo"):
        return False
    links = body.get("links") or {}
    if any(link and (link.get("pool") or link.get("domains")) for link in links.values()):
        return False
    return not any("id" in variant for variant in body.get("variants") or [])


def pool_fields_agree(body: Body) -> bool:
    """A pool's domains must have been added first."""
    return not any(body.get(key) for key in ("domains", "add_domains", "remove_domains"))


def prices_agree(body: Body) -> bool:
    """Prices given as numbers have at most 4 decimals."""
    for price in body.get("prices", {}).values():
        try:
            if isinstance(price, float) and Decimal(str(price)).as_tuple().exponent < -4:  # type: ignore[operator]
                return False
        except InvalidOperation:
            return False
    return True


def is_phone_number(body: Body) -> bool:
    try:
        normalise(body["from"])
    except BadNumber:
        return False
    return True


def is_usable_token_name(body: Body) -> bool:
    try:
        name = check_token_name(body["name"])
    except ValidationFailed:
        return False
    return is_own_name(name) and name.casefold() not in RESERVED_NAMES


def outcomes_sum_to_one(body: Body) -> bool:
    """The demo carrier's outcome shares, where given, sum to 1."""
    settings = body.get("settings")
    for outcomes in (body.get("outcomes"), isinstance(settings, dict) and settings.get("outcomes")):
        if isinstance(outcomes, dict) and abs(sum(outcomes.values()) - 1) > 1e-9:
            return False
    return True


def stream_is_new(body: Body) -> bool:
    """A new stream's name is not in use (what is stored: the server's own platform)."""
    assert SERVED.app is not None
    known = SERVED.app.state.platform.app.find_stream(body["name"])
    return known is None and outcomes_sum_to_one(body)


def has_a_header(body: Any) -> bool:
    """A contact list's CSV starts with its header: `phone`, then placeholder names."""
    text = body.get("file") if isinstance(body, dict) else body
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return True
    try:
        first = next(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")), None)
        if not first:
            return False
        parse_header(first)
    except (csv.Error, ValidationFailed):
        return False
    return True


def query_agrees(query: dict[str, Any]) -> bool:
    """`version` and `as_of` are not given together."""
    return not ("version" in query and "as_of" in query)


TIME_PARAMETERS = ("created_from", "created_to", "from", "to", "as_of", "known_at", "a_at", "b_at")


def is_a_real_moment(text: str) -> bool:
    """A date the calendar has, and a time UTC can hold (the pattern checks the form)."""
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return False
    return True


def times_agree(query: dict[str, Any]) -> bool:
    values = [query.get(name) for name in TIME_PARAMETERS]
    return all(is_a_real_moment(value) for value in values if isinstance(value, str) and value)


CARRIER_SETTINGS = {
    "demo": "DemoSettingsChange",
    "smpp": "SmppSettingsChange",
    "http": "HttpSettingsChange",
}
STREAM_CHANGE_FIELDS = {"reason", "expected_version", "command_id", "rate", "enabled", "settings"}


def settings_fit_the_carrier(case: Any) -> bool:
    """A stream's settings are its own carrier's, and the demo's options at the top level
    are for demo streams (what is stored: the stream's carrier)."""
    assert SERVED.app is not None
    body = case.body
    stream = SERVED.app.state.platform.app.find_stream(case.path_parameters["name"])
    if not isinstance(body, dict) or stream is None:
        return True  # an unknown stream is 404 whatever the body holds
    settings = body.get("settings")
    own = {
        "$ref": f"#/components/schemas/{CARRIER_SETTINGS[stream.carrier]}",
        "components": openapi_document()["components"],
    }
    if isinstance(settings, dict) and not jsonschema_rs.validator_for(own).is_valid(settings):
        return False
    return stream.carrier == "demo" or not set(body) - STREAM_CHANGE_FIELDS


PROSE_RULES: dict[tuple[str, str], Callable[[Body], bool]] = {
    ("POST", "/api/campaigns"): campaign_fields_agree,
    ("PATCH", "/api/campaigns/{id}"): campaign_fields_agree,
    ("POST", "/api/domain-pools"): pool_fields_agree,
    ("PATCH", "/api/domain-pools/{id}"): pool_fields_agree,
    ("PUT", "/api/settings/prices"): prices_agree,
    ("POST", "/api/inbound"): is_phone_number,
    ("POST", "/api/tokens"): is_usable_token_name,
    ("POST", "/api/streams"): stream_is_new,
    ("PATCH", "/api/streams/{name}"): outcomes_sum_to_one,
    ("POST", "/api/contact-lists"): has_a_header,
}
CASE_RULES: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("PATCH", "/api/streams/{name}"): settings_fit_the_carrier,
}
QUERY_RULES: dict[tuple[str, str], Callable[[dict[str, Any]], bool]] = {
    ("GET", "/api/campaigns/{id}"): query_agrees,
}


def text_fits(text: str, schema: Schema) -> bool:
    """Whether a query value, as text, is one its schema allows: a whole number's form is
    the text's own digits."""
    candidates: list[Any] = [text]
    if re.fullmatch(r"-?[0-9]+", text):
        candidates.append(int(text))
    return any(jsonschema_rs.Draft202012Validator(schema).is_valid(value) for value in candidates)


def sent_query_fits(case: Any, url: str) -> bool:
    """Whether the query a request carried, read as the server reads it (text values, each
    parameter's list of them), is one the document allows. A query drawn to break its
    schema can come out valid once written: a number sent where text is due is text."""
    operation = openapi_document()["paths"][case.path][case.method.lower()]
    declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    sent = parse_qs(urlsplit(url).query, keep_blank_values=True)
    for name, values in sent.items():
        parameter = declared.get(name)
        if parameter is None:
            continue  # a parameter the document does not name is ignored
        schema = parameter["schema"]
        if schema.get("type") == "array":
            if not all(text_fits(value, schema["items"]) for value in values):
                return False
        elif len(values) > 1 or not text_fits(values[0], schema):
            return False
    return all(name in sent for name, p in declared.items() if p.get("required"))


def drawn_to_break(case: Any, response: Any) -> bool:
    """Whether a request drawn to break the document does: headers drawn where the test
    sends its own (the admin's token) were not sent, and a request whose only broken part
    is its query is judged by the query it sent."""
    if case.meta is None or case.meta.generation.mode.is_positive:
        return False
    broken = {location for location, info in case.meta.components.items() if info.mode.is_negative}
    own = {name.lower() for name in ADMIN_HEADERS}
    mutated = {
        name.lower()
        for name, location in negated_parameters(case.meta)
        if location == ParameterLocation.HEADER
    }
    if (mutated or {name.lower() for name in case.headers or {}}) <= own:
        broken.discard(ParameterLocation.HEADER)
    if not broken:
        return False
    if broken != {ParameterLocation.QUERY}:
        return True
    return not sent_query_fits(case, response.request.url)


def keeps_prose_rules(case: Any) -> bool:
    """Whether a drawn request keeps the rules the document states in words (a request
    drawn to break the schema is refused whatever it holds)."""
    if case.meta is not None and not case.meta.generation.mode.is_positive:
        # Any text is a CSV body: one "of another type" is still text, judged by its lines.
        return case.media_type != "text/csv"
    return breaks_no_prose_rule(case, case.query)


def breaks_no_prose_rule(case: Any, query: dict[str, Any] | None) -> bool:
    """Whether a request's body and the given query keep the rules stated in words."""
    key = (case.method.upper(), case.path)
    body_rule, query_rule = PROSE_RULES.get(key), QUERY_RULES.get(key)
    checked = isinstance(case.body, dict) or body_rule is has_a_header
    if body_rule is not None and checked and not body_rule(case.body):
        return False
    case_rule = CASE_RULES.get(key)
    if case_rule is not None and not case_rule(case):
        return False
    if query and not times_agree(query):
        return False
    return not (query_rule is not None and query and not query_rule(query))


# The application, its document, and the run.


class Served:
    """The ASGI application the drawn requests go to, set once the module's fixture built it
    (the requests are drawn when the tests are collected, before any fixture runs)."""

    app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the app fixture sets the application first"
        await self.app(scope, receive, send)


SERVED = Served()
# Drawn from the document the server serves (a test checks they are the same).
schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = SERVED
schema.location = "/openapi.json"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """The application over a started platform: each request drawn runs it in a client of
    its own, which starts and stops the app (not the platform) around it."""
    store = Settings(
        data_dir=Path(tmp_path_factory.mktemp("agreement")),
        sending=False,
        bootstrap_token=ADMIN_TOKEN,
    )
    platform = build(store)
    platform.start()
    try:
        yield create_app(platform)
    finally:
        platform.close()


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, headers=ADMIN_HEADERS, raise_server_exceptions=False) as client:
        yield client


@schema.hook
def map_body(_context: Any, body: Any) -> Any:
    return whole_numbers_without_fractions(body)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=not DRAWN_AFRESH,
    suppress_health_check=list(HealthCheck),
)
def test_the_server_does_what_its_document_says(app: Starlette, case: Any) -> None:
    SERVED.app = app
    body, query = (
        whole_numbers_without_fractions(case.body),
        whole_numbers_without_fractions(case.query),
    )
    # Set only when changed (repr tells 2 from 2.0): setting a part marks the case as edited.
    if repr(body) != repr(case.body):
        case.body = body
    if repr(query) != repr(case.query):
        case.query = query
    response = case.call(headers=dict(ADMIN_HEADERS))
    negative = case.meta is not None and not case.meta.generation.mode.is_positive
    if negative and not drawn_to_break(case, response):
        # Valid as sent: past validation unless it breaks a rule stated in words.
        sent = {k: v[-1] for k, v in parse_qs(urlsplit(response.request.url).query).items()}
        if breaks_no_prose_rule(case, sent):
            assert response.status_code not in (400, 422), response.text[:300]
        checks = PROSE_CHECKS
    elif keeps_prose_rules(case):
        checks = CHECKS
    else:  # the document says in words how it is answered
        checks = PROSE_CHECKS
    headers = dict(ADMIN_HEADERS)
    case.validate_response(
        response, checks=checks, headers=headers, transport_kwargs={"headers": dict(headers)}
    )
    if 400 <= response.status_code < 500 and case.path.startswith("/api/"):
        error = response.json()["error"]
        assert error["code"], response.text[:300]
        if error["code"] == "validation_failed":
            assert error["details"], response.text[:300]


def test_the_served_document_is_the_one_the_requests_are_drawn_from(client: TestClient) -> None:
    assert client.get("/openapi.json").json() == openapi_document()


def test_every_405_names_exactly_the_documented_methods(client: TestClient) -> None:
    document = openapi_document()
    methods = {"GET", "POST", "PUT", "PATCH", "DELETE"}
    wrong = []
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item if method.upper() in methods}
        url = re.sub(r"\{[^}]+\}", "2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a", path)
        for method in sorted(methods - documented):
            response = client.request(method, url, follow_redirects=False)
            if response.status_code == 404:
                continue  # a template with a parameter takes it: POST /{id}/{command}
            if response.status_code != 405:
                wrong.append(f"{method} {path}: {response.status_code}, not 405")
                continue
            allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
            if allowed != documented:
                wrong.append(f"{method} {path}: Allow {sorted(allowed)}, not {sorted(documented)}")
    assert not wrong, "\n".join(wrong)
