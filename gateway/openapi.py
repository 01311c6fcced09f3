"""The OpenAPI 3.1 document the server serves at /openapi.json.

Its operations are written here with the domain's own constants (statuses, commands,
limits); the schemas of the bodies they take and answer are generated from their
declarations (gateway.schemas). `tests/unit/test_openapi.py` checks that every route the
server has is described here.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from domain.application import LIFECYCLE_COMMANDS
from domain.clicks import PREVIEW_AGENTS
from domain.contact_import import MAX_LINE, MAX_VALUE
from domain.fields import (
    MAX_NAME,
)
from domain.link_domain import DOMAIN_TRANSITIONS, DomainStatus
from domain.status import TRANSITIONS, Status, sorted_statuses
from gateway.carrier import MAX_RECEIPTS_BODY
from gateway.contact_lists import MAX_UPLOAD
from gateway.inputs import MAX_BODY
from gateway.openapi_access import DESCRIPTION as ACCESS_DESCRIPTION
from gateway.openapi_access import (
    SECURITY_SCHEMES,
    sign_in_paths,
    token_paths,
    with_access_rules,
)
from gateway.openapi_realtime import realtime_paths
from gateway.openapi_streams import RECEIPTS_DESCRIPTION, stream_schemas
from gateway.schemas.carrier import MAX_RECEIPTS
from gateway.schemas.document import declared_components, query_parameters
from gateway.schemas.fields import NOT_ONLY_SPACES
from gateway.schemas.moments import date_or_time
from gateway.schemas.queries import (
    CampaignListQuery,
    CampaignQuery,
    ContactImportQuery,
    DisclosuresQuery,
    EventsQuery,
    HistoryQuery,
    PageQuery,
    StatsQuery,
)
from projections.audit_trail import CSV_COLUMNS
from projections.disclosures import CSV_COLUMNS as DISCLOSURE_COLUMNS

Schema = dict[str, Any]

API_VERSION = "0.1.0"
JSON = "application/json"
DOMAIN_COMMANDS = tuple(DOMAIN_TRANSITIONS)
TIME_EXAMPLE = "2026-03-01T09:00:00.000000Z"

# Status, component name, summary and the codes each error response carries.
ERRORS: dict[int, tuple[str, str, tuple[str, ...]]] = {
    400: ("MalformedJson", "The body is not valid JSON.", ("malformed_json",)),
    401: (
        "Unauthorized",
        "No token, or an unknown or revoked one (pages redirect to /sign-in instead).",
        ("unauthorized",),
    ),
    403: (
        "Forbidden",
        "The token's role may not call this, or a cookie request lacks its CSRF token (a page "
        "asked for with the sign-in cookie is an HTML page saying so).",
        ("forbidden",),
    ),
    404: ("NotFound", "No such resource (or command).", ("not_found",)),
    405: (
        "MethodNotAllowed",
        "The path exists, but not with this method.",
        ("method_not_allowed",),
    ),
    409: (
        "Conflict",
        "The command is not allowed in the resource's current state, or the resource is not at "
        "the expected version.",
        ("illegal_transition", "version_conflict"),
    ),
    413: ("PayloadTooLarge", "The body is over 1 MiB.", ("payload_too_large",)),
    422: (
        "ValidationFailed",
        "A field or query parameter is not acceptable; `details` names each one.",
        ("validation_failed",),
    ),
}

DESCRIPTION = f"""\
The SMS campaign platform: JSON in and out under `/api`, the operational endpoints, and the
campaigns page.

Every operation but a few public ones needs a token; see Access below.

## Conventions

- **Times** are ISO 8601 in UTC with a `Z`, at microsecond precision (`{TIME_EXAMPLE}`), so
  they sort as text. Times sent in a body must carry a zone (`Z` or an offset); they are
  stored in UTC. Time query parameters take a date (`2026-03-01`) or a time; a time without a
  zone is UTC, and a date in an upper bound (`created_to`, `to`) means through the end of that
  day; the date must be one the calendar has. An empty query parameter is one not given.
- **Whole numbers** are written without a fraction or an exponent (`3`, not `3.0` or `3e0`):
  a field of type `integer` refuses `3.0` with 422.
- **Ids** are UUID strings. A path id that is not a UUID names nothing: 404 `not_found`.
- **Money** is a decimal string with four decimals (`"12.3400"`), never a number.
- **Bodies** are JSON objects of at most 1 MiB ({MAX_BODY} bytes). A larger body is 413
  `payload_too_large`; a body that is not JSON is 400 `malformed_json`; one that is not an
  object, or a missing body where one is required, is 422 `validation_failed`. Fields a
  schema does not list (`additionalProperties: false`) are refused with 422. Texts never
  hold NUL (`\\u0000`). Rules a schema cannot state (fields that relate, things that must
  exist already) are in the descriptions of the schemas and operations they belong to.
- **Errors** are a 4xx status and `{{"error": {{"code", "message", "details"?}}}}`: 400
  `malformed_json`, 401 `unauthorized`, 403 `forbidden`, 404 `not_found`, 405
  `method_not_allowed`, 409 `illegal_transition`, 409 `version_conflict`, 413
  `payload_too_large`, 422 `validation_failed` (its `details` is a list of
  `{{"field", "message"}}`, every problem at once). Bad input never gets a 500; a 500
  `internal_error` is a fault on the server's side.
- **`command_id`** (1 to 200 characters, optional on every command): a repeat of a command
  with the same id returns the first answer and changes nothing. For creations (campaigns,
  pools, duplicates) the id also fixes the new resource's id, so a retried creation answers
  with the same resource. Adding domains is idempotent by name instead (see that operation).
- **`expected_version`** (optional, from 1) on campaign edits, lifecycle commands and pool
  edits: when the resource is at another version the command is refused with 409
  `version_conflict` (`details`: `expected_version`, `version`) and nothing changes. Every
  answer carries the resource's `version`.
- **`reason`** (optional, at most 1000 characters) is recorded in the history.
- Campaign statuses: {", ".join(s.value for s in Status)}. Domain statuses:
  {", ".join(s.value for s in DomainStatus)}.
"""


# Schema helpers.


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def documented(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description} if description else schema


def string(description: str = "", **keywords: Any) -> Schema:
    return documented({"type": "string", **keywords}, description)


def integer(description: str = "", **keywords: Any) -> Schema:
    return documented({"type": "integer", **keywords}, description)


def array(items: Schema, description: str = "", **keywords: Any) -> Schema:
    return documented({"type": "array", "items": items, **keywords}, description)


def enum(values: Any, description: str = "") -> Schema:
    return string(description, enum=[str(value) for value in values])


def field_schemas() -> dict[str, Schema]:
    """The schemas of path parameters: an id, and a domain name (an invalid one names no
    domain: 404)."""
    return {
        "Uuid": string(format="uuid", examples=["2b1f0c4e-9a57-4a0e-8d8c-1f2e3d4c5b6a"]),
        "DomainName": string(
            "A host name of at least two labels (letters, digits and inner hyphens, 1 to 63 "
            "each; the last not all digits), at most 253 characters. It is stored in lower "
            "case without a trailing dot.",
            examples=["go.example.com"],
        ),
    }


# Parameters, bodies and responses.


def query(name: str, schema: Schema, description: str, *, repeatable: bool = False) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "description": description}
    if repeatable:
        return {**parameter, "schema": array(schema), "style": "form", "explode": True}
    if schema.get("type") == "integer":  # empty: not given, so its default
        schema = {"anyOf": [schema, {"type": "string", "maxLength": 0}]}
    return {**parameter, "schema": schema}


def path_parameter(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def body(schema_name: str, *, required: bool = True) -> Schema:
    return {"required": required, "content": {JSON: {"schema": ref(schema_name)}}}


def answer(description: str, schema_name: str | None = None, media: str = JSON) -> Schema:
    response: Schema = {"description": description}
    if schema_name is not None:
        response["content"] = {media: {"schema": ref(schema_name)}}
    return response


def error_response(status: int) -> Schema:
    _name, summary, codes = ERRORS[status]
    examples = {code: {"value": {"error": {"code": code, "message": "…"}}} for code in codes}
    return {
        "description": f"{summary} Codes: {', '.join(f'`{c}`' for c in codes)}.",
        "content": {JSON: {"schema": ref("Error"), "examples": examples}},
    }


def operation(
    operation_id: str,
    summary: str,
    *,
    tag: str,
    responses: dict[str, Schema],
    description: str = "",
    parameters: tuple[Schema, ...] = (),
    request: Schema | None = None,
    errors: tuple[int, ...] = (),
) -> Schema:
    """One operation; a body brings the errors of reading one (400, 413, 422)."""
    statuses = set(errors) | ({400, 413, 422} if request is not None else set())
    result: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        result["description"] = description
    if parameters:
        result["parameters"] = list(parameters)
    if request is not None:
        result["requestBody"] = request
    result["responses"] = {
        **responses,
        **{str(s): {"$ref": f"#/components/responses/{ERRORS[s][0]}"} for s in sorted(statuses)},
    }
    return result


def transitions_text() -> str:
    lines = []
    for command in LIFECYCLE_COMMANDS:
        sources, target = TRANSITIONS[command]
        lines.append(
            f"- `{command}`: from {', '.join(sorted_statuses(sources))}"
            + (f" to {target.value}" if target else "")
        )
    return "\n".join(lines)


def domain_transitions_text() -> str:
    order = list(DomainStatus)
    return "\n".join(
        f"- `{command}`: from "
        + ", ".join(s.value for s in sorted(DOMAIN_TRANSITIONS[command], key=order.index))
        for command in DOMAIN_COMMANDS
    )


# Paths.


def operations_paths() -> dict[str, Schema]:
    return {
        "/healthz": {
            "get": operation(
                "healthz",
                "The process is up",
                tag="operations",
                responses={"200": answer("Up.", "Health")},
            )
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "The store and the read models are reachable",
                tag="operations",
                responses={
                    "200": answer("Ready.", "Readiness"),
                    "503": answer("Not ready; `checks` says what failed.", "Readiness"),
                },
            )
        },
        "/metrics": {
            "get": operation(
                "metrics",
                "Prometheus metrics: pipeline positions and lags, messages per stream, "
                "WebSocket clients, request latencies",
                tag="operations",
                responses={
                    "200": {
                        "description": "Prometheus text format 0.0.4.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/openapi.json": {
            "get": operation(
                "openapi",
                "This document",
                tag="operations",
                responses={
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            )
        },
    }


def campaign_paths() -> dict[str, Schema]:
    campaign_id = path_parameter("id", ref("Uuid"), "The campaign's id.")
    one = {"200": answer("The campaign.", "Campaign")}
    return {
        "/api/campaigns": {
            "post": operation(
                "createCampaign",
                "Create a Draft",
                tag="campaigns",
                request=body("CampaignCreate"),
                responses={"201": answer("The new Draft.", "Campaign")},
            ),
            "get": operation(
                "listCampaigns",
                "The campaigns list",
                tag="campaigns",
                description="Filters combine with AND; the repeatable ones match any of their "
                "values. Newest first. An unknown status or type is 422.",
                parameters=tuple(query_parameters(CampaignListQuery)),
                responses={"200": answer("One page.", "ListPage")},
                errors=(422,),
            ),
        },
        "/api/campaigns/{id}": {
            "get": operation(
                "getCampaign",
                "One campaign, now or as it was",
                tag="campaigns",
                parameters=(campaign_id, *query_parameters(CampaignQuery)),
                responses=one,
                errors=(404, 422),
            ),
            "patch": operation(
                "editCampaign",
                "Edit a campaign",
                tag="campaigns",
                description="Fields the campaign's status does not allow to change are refused "
                "with 409 `illegal_transition`, which names those that are editable.",
                parameters=(campaign_id,),
                request=body("CampaignEdit"),
                responses=one,
                errors=(404, 409),
            ),
        },
        "/api/campaigns/{id}/duplicate": {
            "post": operation(
                "duplicateCampaign",
                "Copy a campaign into a new Draft",
                tag="campaigns",
                description="Every field but the start time, with a fresh name and new variant "
                "ids.",
                parameters=(campaign_id,),
                request=body("DuplicateCommand", required=False),
                responses={"201": answer("The new Draft.", "Campaign")},
                errors=(404,),
            )
        },
        "/api/campaigns/{id}/history": {
            "get": operation(
                "campaignHistory",
                "The audit trail",
                tag="campaigns",
                description="Every event of the campaign, oldest first.",
                parameters=(campaign_id, *query_parameters(HistoryQuery)),
                responses={
                    "200": {
                        "description": "The entries. As CSV: a header line, then one line "
                        "per entry with the columns " + ", ".join(CSV_COLUMNS) + " (free text "
                        "that a spreadsheet would run as a formula starts with `'`).",
                        "content": {
                            JSON: {"schema": array(ref("HistoryEntry"))},
                            "text/csv": {"schema": string()},
                        },
                    }
                },
                errors=(404, 422),
            )
        },
        "/api/campaigns/{id}/{command}": {
            "post": operation(
                "campaignCommand",
                "A lifecycle command",
                tag="campaigns",
                description="Allowed from these statuses; from others 409 "
                "`illegal_transition`. `launch` also needs a complete Draft (see "
                "`missing_steps`); a Suspended campaign resumes only once its cause is gone.\n\n"
                + transitions_text(),
                parameters=(
                    campaign_id,
                    path_parameter("command", enum(LIFECYCLE_COMMANDS), "An unknown one is 404."),
                ),
                request=body("CampaignCommand", required=False),
                responses={"200": answer("The campaign after the command.", "Campaign")},
                errors=(404, 409),
            )
        },
    }


def domain_paths() -> dict[str, Schema]:
    return {
        "/api/domains": {
            "post": operation(
                "addDomains",
                "Add link domains",
                tag="domains",
                description="New names start Pending. Idempotent by name: names already known "
                "are answered under `existing` and left unchanged.",
                request=body("DomainsAdd"),
                responses={
                    "201": answer("At least one name was new.", "DomainsAdded"),
                    "200": answer("Every name was known already.", "DomainsAdded"),
                },
            ),
            "get": operation(
                "listDomains",
                "Every link domain",
                tag="domains",
                responses={"200": answer("The domains and the limit.", "DomainList")},
            ),
        },
        "/api/domains/{name}/{command}": {
            "post": operation(
                "domainCommand",
                "Change a domain's status",
                tag="domains",
                description="Allowed from these statuses; from others 409 "
                "`illegal_transition`. A domain already in the target status is left as it "
                "is.\n\n" + domain_transitions_text(),
                parameters=(
                    path_parameter("name", ref("DomainName"), "An unknown or invalid name is 404."),
                    path_parameter("command", enum(DOMAIN_COMMANDS), "An unknown one is 404."),
                ),
                request=body("DomainCommand", required=False),
                responses={"200": answer("The domain.", "Domain")},
                errors=(404, 409),
            )
        },
        "/api/settings": {
            "get": operation(
                "getSettings",
                "Platform settings",
                tag="settings",
                responses={"200": answer("The settings.", "Settings")},
            )
        },
        "/api/settings/domain-limit": {
            "put": operation(
                "setDomainLimit",
                "Set the per-domain message limit",
                tag="settings",
                request=body("DomainLimitChange"),
                responses={"200": answer("The limit now.", "DomainLimit")},
            )
        },
        "/api/settings/prices": {
            "put": operation(
                "setPrices",
                "Set the price table (F18): price per SMS part by destination prefix",
                tag="settings",
                request=body("PricesChange"),
                responses={"200": answer("The price table now.", "PriceTable")},
            )
        },
    }


def pool_and_stream_paths() -> dict[str, Schema]:
    pool_id = path_parameter("id", ref("Uuid"), "The pool's id.")
    stream_name = path_parameter("name", string(), "The stream's name, e.g. `demo`.")
    return {
        "/api/domain-pools": {
            "post": operation(
                "createPool",
                "Create a domain pool",
                tag="pools",
                request=body("PoolCreate"),
                responses={"201": answer("The new pool.", "Pool")},
            ),
            "get": operation(
                "listPools",
                "Every domain pool",
                tag="pools",
                responses={"200": answer("The pools.", "PoolList")},
            ),
        },
        "/api/domain-pools/{id}": {
            "get": operation(
                "getPool",
                "One domain pool",
                tag="pools",
                parameters=(pool_id,),
                responses={"200": answer("The pool.", "Pool")},
                errors=(404,),
            ),
            "patch": operation(
                "editPool",
                "Edit a domain pool",
                tag="pools",
                parameters=(pool_id,),
                request=body("PoolEdit"),
                responses={"200": answer("The pool.", "Pool")},
                errors=(404, 409),
            ),
        },
        "/api/streams": {
            "get": operation(
                "listStreams",
                "Every sending stream",
                tag="streams",
                description="A stream named `demo` exists from the start. Each shows its "
                "settings (never its secrets: `secrets` names those set), the sending process "
                "that owns it now (`owner`), if any, and its carrier link (`link`).",
                responses={"200": answer("The streams.", "StreamList")},
            ),
            "post": operation(
                "createStream",
                "Add a sending stream",
                tag="streams",
                description="A stream on a carrier, with its rate and the carrier's settings. "
                "A sending process takes it within a second or so. Secrets in the settings "
                "are kept by the sending tier; the stream's `Changed` event records their "
                "names (`secrets set: ...`), never their values.",
                request=body("StreamCreate"),
                responses={"201": answer("The stream.", "Stream")},
                errors=(422,),
            ),
        },
        "/api/streams/{name}": {
            "patch": operation(
                "changeStream",
                "Change a stream's rate, state or settings",
                tag="streams",
                description="A secret given in `settings` is set and the event records who "
                "changed which secret (`secrets changed: ...`), never its value.",
                parameters=(stream_name,),
                request=body("StreamChange"),
                responses={"200": answer("The stream.", "Stream")},
                errors=(404, 409),
            )
        },
        "/api/events": {
            "get": operation(
                "streamEvents",
                "Stored events as NDJSON",
                tag="events",
                description="One `EventMessage` per line, in store order, streamed as the "
                "store is read (a page at a time, so any length costs the same memory). To "
                "read on, ask again with `after` set to the last line's `position`; "
                "`campaigns export` writes the same lines to a file. With `type`, one request "
                "reads at most 50,000 positions after `after`, however few events match: when "
                "the store goes on past them, the `X-Next-After` response header is the "
                "position the request read up to, and an answer with fewer than `limit` lines "
                "reads on from there (`after` set to it). Without that header, an answer with "
                "fewer than `limit` lines reached the end of the store.",
                parameters=tuple(query_parameters(EventsQuery)),
                responses={"200": answer("The events.", "EventMessage", "application/x-ndjson")},
                errors=(422,),
            )
        },
    }


def page_paths() -> dict[str, Schema]:
    html = {"text/html": {"schema": string()}}
    filters = ("name", "status", "tag", "type", "stream", "created_from", "created_to", "page")
    return {
        "/": {
            "get": operation(
                "home",
                "Redirect to the campaigns page",
                tag="pages",
                responses={
                    "302": {
                        "description": "To `/campaigns`.",
                        "headers": {"Location": {"schema": string(examples=["/campaigns"])}},
                    }
                },
            )
        },
        "/campaigns": {
            "get": operation(
                "campaignsPage",
                "The campaigns page",
                tag="pages",
                description="The campaigns list as HTML, 20 a page, with the list's filters. "
                "Filters it cannot use are shown as a message on the page, not as an error.",
                parameters=tuple(
                    query(
                        name,
                        string(),
                        f"As `{name}` of `GET /api/campaigns`; a value it cannot use is shown "
                        "as a message.",
                        repeatable=name in ("status", "tag"),
                    )
                    for name in filters
                ),
                responses={"200": {"description": "The page.", "content": html}},
            )
        },
        **simple_pages(html),
    }


AUDIT_FILTERS = (
    ("actor", "Only this actor's events."),
    ("type", "Only this event type."),
    ("from", "At or after this date or time."),
    ("to", "At or before this time; a date means through its end."),
)


def simple_pages(html: Schema) -> dict[str, Schema]:
    """The dashboard's other pages: HTML that calls the JSON API from the browser."""
    campaign_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    step = {
        "name": "step",
        "in": "query",
        "schema": {"type": "string"},
        "description": "1 to 5; any other value opens the first step.",
    }
    pages = {
        "/campaigns/new": ("newCampaignPage", "The create wizard, step 1", ()),
        "/campaigns/{id}/wizard": (
            "wizardPage",
            "The create wizard for a Draft, at a step (1-5)",
            (
                {
                    **campaign_id,
                    "schema": string(),
                    "description": "A Draft's id; anything else leads to `/campaigns/new`.",
                },
                step,
            ),
        ),
        "/domains": ("domainsPage", "Link domains and the messaging limit", ()),
        "/pools": ("poolsPage", "Domain pools", ()),
        "/contact-lists": ("contactListsPage", "Contact lists and the CSV upload", ()),
        "/streams": ("streamsPage", "Sending streams, their carrier links and settings", ()),
    }
    paths: dict[str, Schema] = {
        path: {
            "get": operation(
                name,
                summary,
                tag="pages",
                parameters=parameters,
                responses={"200": {"description": "The page.", "content": html}},
            )
        }
        for path, (name, summary, parameters) in pages.items()
    }
    paths["/campaigns/{id}/audit"] = {
        "get": operation(
            "auditPage",
            "A campaign's audit trail as a page",
            tag="pages",
            description="Every event with time, actor, status before and after, reason and "
            "facts; filters as `GET /api/campaigns/{id}/history`, a CSV link with them.",
            parameters=(
                campaign_id,
                *(
                    query(name, date_or_time() if name in ("from", "to") else string(), text)
                    for name, text in AUDIT_FILTERS
                ),
            ),
            responses={
                "200": {"description": "The page.", "content": html},
                "404": {"description": "No such campaign.", "content": html},
            },
        )
    }
    paths["/campaigns/{id}/at"] = {
        "get": operation(
            "timeTravelPage",
            "A campaign at two moments, side by side",
            tag="pages",
            description="Its settings and stats at two versions or moments (each chosen by "
            "a slider over its versions or a time); the fields that differ are highlighted.",
            parameters=(
                campaign_id,
                query("a", integer(minimum=1, default=1), "Moment A's version."),
                query("b", integer(minimum=1), "Moment B's version (default: the latest)."),
                query(
                    "a_at",
                    string(),
                    "Moment A as a time (UTC unless it says); wins over `a`.",
                ),
                query("b_at", string(), "Moment B as a time; wins over `b`."),
            ),
            responses={
                "200": {"description": "The page.", "content": html},
                "302": {"description": "A malformed time: the page again, saying so."},
                "404": {"description": "No such campaign.", "content": html},
            },
        )
    }
    paths["/campaigns/{id}"] = {
        "get": operation(
            "campaignPage",
            "A campaign's side panel over the list",
            tag="pages",
            parameters=(
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": string(),
                    "description": "The campaign's id; anything else leads to the list.",
                },
            ),
            responses={
                "302": {
                    "description": "To `/campaigns?open={id}`, or to `/campaigns` for a path "
                    "that names no campaign.",
                    "headers": {"Location": {"schema": string()}},
                }
            },
        )
    }
    return paths


CONTACT_UPLOAD = f"""\
The CSV, at most {MAX_UPLOAD // (1024 * 1024)} MiB, as the raw body (`text/csv`; also
`application/csv`, `text/plain`, `application/octet-stream`) or as the `file` part of
`multipart/form-data` (with an optional `name` part). UTF-8, with or without a BOM; CRLF or LF;
fields may be quoted.

The first line is the header: `phone` first (any case), then the placeholder names (letters
a-z, digits and `_`, lower-cased; not `short_url` or `optout_url`, no repeats). A bad header
refuses the whole file with 422 `validation_failed`, naming each bad column.

Each further line is one contact. Numbers are stored in E.164 (`+4915112345678`): written with
`+` or `00` and their country code; spaces, dashes, dots and parentheses are ignored. Blank
lines are skipped. A line is rejected, with its line number and reason, when its number is not
usable, when it has more or fewer columns than the header, when a field is over
{MAX_VALUE} characters or the line over {MAX_LINE}, when it is not UTF-8 or holds NUL; a
number already on an earlier line is a duplicate (counted, and listed among the rejected).

Nothing is half-imported: the contacts are written in one transaction and the list exists
once its `ContactList.Imported` event is stored; any failure leaves neither. A file without
a single usable contact makes no list: 422 `validation_failed`, with each rejected line in
`details` (`field` is `line <n>`).
"""


def contact_list_paths() -> dict[str, Schema]:
    upload = operation(
        "importContactList",
        "Import a contact list from a CSV",
        tag="contact lists",
        description=CONTACT_UPLOAD,
        parameters=tuple(query_parameters(ContactImportQuery)),
        responses={"201": answer("The new list and what the import found.", "ContactListImport")},
        errors=(400, 422),
    )
    upload["requestBody"] = {
        "required": True,
        "content": {
            "text/csv": {
                "schema": string(
                    "The first line is the header: `phone`, then the placeholders' names "
                    "(lower-case letters, digits and `_`, distinct, not `short_url` or "
                    "`optout_url`); a file without one is refused (422).",
                    examples=["phone,first_name\n+4915112345678,Ann\n"],
                )
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": string("The CSV file.", format="binary"),
                        "name": string(maxLength=MAX_NAME, pattern=f"^$|{NOT_ONLY_SPACES}"),
                    },
                    "required": ["file"],
                }
            },
        },
    }
    upload["responses"]["413"] = {
        "description": f"The body is over {MAX_UPLOAD // (1024 * 1024)} MiB. Code: "
        "`payload_too_large`.",
        "content": {JSON: {"schema": ref("Error")}},
    }
    upload["responses"]["415"] = {
        "description": "Neither CSV nor multipart. Code: `unsupported_media_type`.",
        "content": {JSON: {"schema": ref("Error")}},
    }
    list_id = path_parameter("id", ref("Uuid"), "The contact list's id.")
    return {
        "/api/contact-lists": {
            "post": upload,
            "get": operation(
                "listContactLists",
                "Every contact list",
                tag="contact lists",
                responses={"200": answer("The lists.", "ContactListList")},
            ),
        },
        "/api/contact-lists/{id}": {
            "get": operation(
                "getContactList",
                "One contact list",
                tag="contact lists",
                parameters=(list_id,),
                responses={"200": answer("The list.", "ContactList")},
                errors=(404,),
            )
        },
    }


# Campaign activity (F7, F4/F18), carriers (F19, F20) and message links (F8).


ESTIMATE_TEXT = """\
What the wizard's Summary shows: the audience as preparation would fix it now (the lists
merged, each number once, opted-out numbers removed) and, per variant, its encoding, parts and
cost. Texts are rendered with links exactly as long as real ones (`https://<domain>/s/` and a
10-character code) and with the first recipient's columns for the contact placeholders.
Recipients get variants by the ratio exactly as the engine gives them (by their position in
the audience) and are priced per part by destination prefix, so the estimate is the cost the
campaign will have unless the ratio, the prices, the audience or the placeholders' lengths
differ.

The first recipient's columns are personal data: `support`, `manager` and `admin` see them in
the samples, and each such answer is written down first (see
`GET /api/campaigns/{id}/disclosures`); other roles see the placeholders instead.
"""

STATS_TEXT = """\
F7: counts over the campaign's messages. Outcomes are final receipts; `delivered + undelivered
+ failed + no_route + rejected` never exceeds `sent`, and equals it once every receipt is in.
Percentages have two decimals.

With `as_of`, the counts are summed from the per-minute series up to and including the minute
that holds `as_of`, so they are precise to the minute; the campaign's own fields (`recipients`,
`status`, times) are as they were at `as_of`. Before the campaign first started, every count is
0 (nothing is sent before then).
"""


MESSAGES_TEXT = """\
In audience order. Recipients' numbers, the links and the texts as sent are personal data:
roles `support`, `manager` and `admin` read them, and each page of them is written down
first (who, when, from where, which page; the same page read again by the same actor within a
minute once), listed by `GET /api/campaigns/{id}/disclosures`. Other roles read numbers
masked, no links and the variants' texts as written, which is not written down."""

DISCLOSURES_TEXT = """\
Every answer that showed this campaign's personal data (recipients' numbers and links in the
message log, a contact's columns in the Summary's sample) to `support`, `manager` or `admin`:
who, with which role, when, from which address, and what. Written before the answer left;
the same read again by the same actor from the same address within a minute is written once.
Not events: they take no campaign version and are not in `GET /api/events`."""


def activity_paths() -> dict[str, Schema]:
    campaign_id = path_parameter("id", ref("Uuid"), "The campaign's id.")
    return {
        "/api/campaigns/{id}/stats": {
            "get": operation(
                "campaignStats",
                "A campaign's stats, now or as of a moment",
                tag="campaigns",
                description=STATS_TEXT,
                parameters=(campaign_id, *query_parameters(StatsQuery)),
                responses={"200": answer("The stats.", "CampaignStats")},
                errors=(404, 422),
            )
        },
        "/api/campaigns/{id}/messages": {
            "get": operation(
                "campaignMessages",
                "A campaign's message log",
                tag="campaigns",
                description=MESSAGES_TEXT,
                parameters=(campaign_id, *query_parameters(PageQuery)),
                responses={"200": answer("One page.", "MessagePage")},
                errors=(404, 422),
            )
        },
        "/api/campaigns/{id}/disclosures": {
            "get": operation(
                "campaignDisclosures",
                "Who was shown the campaign's personal data",
                tag="campaigns",
                description=DISCLOSURES_TEXT,
                parameters=(campaign_id, *query_parameters(DisclosuresQuery)),
                responses={
                    "200": {
                        "description": "One page, newest first. As CSV: every match, newest "
                        "first: a header line, then one line per disclosure with the columns "
                        + ", ".join(DISCLOSURE_COLUMNS)
                        + " (a name a spreadsheet would run as a formula starts with `'`).",
                        "content": {
                            JSON: {"schema": ref("DisclosurePage")},
                            "text/csv": {"schema": string()},
                        },
                    }
                },
                errors=(404, 422),
            )
        },
        "/api/campaigns/{id}/estimate": {
            "get": operation(
                "campaignEstimate",
                "The Summary: recipients, parts and estimated cost",
                tag="campaigns",
                description=ESTIMATE_TEXT,
                parameters=(campaign_id,),
                responses={"200": answer("The estimate.", "Estimate")},
                errors=(404,),
            )
        },
        "/api/carrier/receipts": {
            "post": operation(
                "carrierReceipts",
                "Take delivery receipts",
                tag="carriers",
                description=f"At most {MAX_RECEIPTS} receipts a call, in a body of at most "
                f"{MAX_RECEIPTS_BODY // (1024 * 1024)} MiB; a single receipt object is taken "
                "too. Receipts may come late, out of order and more than once: a message's "
                "status only moves forwards (queued, sent, then one final outcome), so a late "
                "`sent` never overwrites `delivered`, and a repeat counts once. Every receipt "
                "is checked first; when one is not acceptable (422, `details` names each) none "
                "is applied.",
                request={
                    "required": True,
                    "content": {JSON: {"schema": {"oneOf": [ref("ReceiptBatch"), ref("Receipt")]}}},
                },
                responses={"200": answer("What was applied.", "ReceiptsApplied")},
            )
        },
        "/api/streams/{name}/receipts": {
            "post": operation(
                "streamReceipts",
                "Take an HTTP carrier's signed delivery receipts for its stream",
                tag="carriers",
                description=RECEIPTS_DESCRIPTION,
                parameters=(
                    path_parameter("name", string(), "The stream's name."),
                    {
                        "name": "X-Signature",
                        "in": "header",
                        "required": True,
                        "schema": string(pattern="^sha256=[0-9a-f]{64}$"),
                        "description": "`sha256=` and the hex HMAC-SHA256 of the raw body, "
                        "keyed by the stream's signing secret.",
                    },
                ),
                request=body("StreamReceiptBatch"),
                responses={"200": answer("What was matched and applied.", "StreamReceiptsTaken")},
                errors=(401, 404),
            )
        },
        "/api/inbound": {
            "post": operation(
                "inboundReply",
                "Take a reply",
                tag="carriers",
                description="F19: recorded against the latest campaign that messaged the "
                "number. A reply whose first word is a stop word opts the number out of "
                "every later campaign. A number that cannot be read is 422.",
                request=body("InboundReply"),
                responses={"200": answer("The reply was recorded.", "ReplyRecorded")},
            )
        },
    }


def link_paths() -> dict[str, Schema]:
    html = {"text/html": {"schema": string()}}
    code = path_parameter("code", string(pattern="^[0-9A-Za-z_-]{1,64}$"), "The link's code.")
    missing = {"description": "No message has this code: an HTML page.", "content": html}
    page = {"description": "The opt-out page (HTML).", "content": html}
    return {
        "/s/{code}": {
            "get": operation(
                "shortLink",
                "Follow a message's short link",
                tag="links",
                description="Redirects to the campaign's Short URL target (as it is now) and "
                "counts a click. `HEAD` answers the same redirect without counting, and so do "
                "link previews and scanners, recognised by a User-Agent containing any of "
                f"(case-insensitively): {', '.join(PREVIEW_AGENTS)}.",
                parameters=(code,),
                responses={
                    "302": {
                        "description": "To the target; not to be cached.",
                        "headers": {
                            "Location": {
                                "schema": string(examples=["https://shop.example.com/spring"])
                            }
                        },
                    },
                    "404": missing,
                },
            )
        },
        "/o/{code}": {
            "get": operation(
                "optoutPage",
                "The opt-out page",
                tag="links",
                description='Asks "Stop messages from <sender>?" with the number masked '
                "(`+44••••••0123`) and a Stop messages button; says so when the number is "
                "opted out already. Nothing changes until the button is pressed.",
                parameters=(code,),
                responses={"200": page, "404": missing},
            ),
            "post": operation(
                "optOut",
                "Opt the number out",
                tag="links",
                description="The page's form (no body needed): opts the message's number out "
                "of every later campaign and shows a confirmation. Repeating it changes "
                "nothing and says the number is opted out already.",
                parameters=(code,),
                responses={"200": page, "404": missing},
            ),
        },
    }


def sorted_by_name(schemas: dict[str, Schema]) -> dict[str, Schema]:
    return {name: schemas[name] for name in sorted(schemas)}


@functools.cache
def openapi_json() -> bytes:
    """The document as served: the same bytes every time it is built."""
    return json.dumps(
        openapi_document(), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Campaigns",
            "version": API_VERSION,
            "description": DESCRIPTION + "\n" + ACCESS_DESCRIPTION,
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "tags": [
            {"name": "campaigns", "description": "Campaigns, their lifecycle and history."},
            {"name": "domains", "description": "Link domains for short and opt-out links."},
            {"name": "pools", "description": "Named sets of link domains."},
            {"name": "contact lists", "description": "Uploaded contacts, with placeholders."},
            {"name": "settings", "description": "Platform settings."},
            {"name": "streams", "description": "Sending streams."},
            {"name": "events", "description": "The stored event history, for analysts."},
            {"name": "operations", "description": "Health, readiness and this document."},
            {"name": "carriers", "description": "Delivery receipts and replies from carriers."},
            {"name": "links", "description": "The short and opt-out links in messages (HTML)."},
            {"name": "pages", "description": "HTML pages."},
            {"name": "access", "description": "Tokens, signing in and out."},
        ],
        "paths": with_access_rules(
            {
                **operations_paths(),
                **campaign_paths(),
                **domain_paths(),
                **pool_and_stream_paths(),
                **contact_list_paths(),
                **activity_paths(),
                **link_paths(),
                **page_paths(),
                **realtime_paths({"text/html": {"schema": string()}}),
                **token_paths(),
                **sign_in_paths(),
            }
        ),
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": sorted_by_name(
                {
                    **field_schemas(),
                    **declared_components(),
                    **stream_schemas(),
                }
            ),
            "responses": {name: error_response(s) for s, (name, _t, _c) in ERRORS.items()},
        },
    }
