"""Contact lists (F16) over HTTP: an upload is streamed to a temporary file, then imported.

`POST /api/contact-lists` takes the CSV as the raw body (`text/csv`) or as the `file` part of
`multipart/form-data`; neither is ever held in memory whole (multipart file parts spool to
disk past 1 MiB). Bodies over MAX_UPLOAD bytes are refused with 413 while they arrive.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import IO, Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.application import parse_id
from domain.contact_list import CATALOGUE, ContactList, ImportResult
from domain.fields import MAX_NAME, Invalid, format_time, parse_name
from gateway.errors import ApiError
from gateway.inputs import declared_length, is_storable
from gateway.schemas import contact_list_answers as answers
from gateway.schemas.answers import answer
from gateway.schemas.queries import ContactImportQuery, read_query
from gateway.services import ContactImports, Services

MAX_UPLOAD = 100 * 1024 * 1024  # bytes of one upload's body
WRITE_CHUNK = 1024 * 1024  # bytes gathered before each write to the temporary file
CSV_TYPES = (
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
    "application/vnd.ms-excel",  # what some browsers call a .csv file
)
MULTIPART = "multipart/form-data"
FORM_FIELDS = ("file", "name")
ANONYMOUS = "anonymous"


def platform_of(request: Request) -> Services:
    platform: Services = request.app.state.platform
    return platform


def actor_of(request: Request) -> str:
    return getattr(request.state, "actor", ANONYMOUS)


def problem(field: str, message: str) -> ApiError:
    return ApiError(
        "validation_failed", f"{field}: {message}", [{"field": field, "message": message}]
    )


def too_large() -> ApiError:
    return ApiError("payload_too_large", f"the upload is over {MAX_UPLOAD // (1024 * 1024)} MiB")


# Reading the upload.


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def refuse_declared_oversize(request: Request) -> None:
    declared = declared_length(request)
    if declared is not None and declared > MAX_UPLOAD:
        raise too_large()


async def limited_body(request: Request) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive, refused as soon as they pass MAX_UPLOAD."""
    refuse_declared_oversize(request)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise too_large()
            yield chunk
    except ClientDisconnect:  # an abandoned upload is not a fault of ours: no traceback
        raise ApiError("client_disconnected", "the upload was interrupted") from None


async def save_body(request: Request, target: IO[bytes]) -> None:
    """Writes the raw body to `target` in chunks of about WRITE_CHUNK, off the event loop."""
    pending = bytearray()
    async for chunk in limited_body(request):
        pending += chunk
        if len(pending) >= WRITE_CHUNK:
            data, pending = pending, bytearray()
            await run_in_threadpool(target.write, data)
    if pending:
        await run_in_threadpool(target.write, pending)


async def read_form(request: Request) -> FormData:
    parser = MultiPartParser(
        request.headers, limited_body(request), max_files=1, max_fields=4, max_part_size=4096
    )
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise problem("body", f"is not valid multipart/form-data: {error.message}") from None


def form_file(form: FormData) -> UploadFile:
    unknown = sorted(set(form.keys()) - set(FORM_FIELDS))
    if unknown:
        raise problem(unknown[0], f"unknown field; allowed: {', '.join(FORM_FIELDS)}")
    upload = form.get("file")
    if upload is None:
        raise problem("file", "is required: the CSV file")
    if not isinstance(upload, UploadFile):
        raise problem("file", "must be a file part (as with curl -F file=@contacts.csv)")
    return upload


def form_text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


# The list's name and the command id.


def list_name(given: str | None, filename: str | None) -> str:
    """The name given, or the file's name, or `Contacts <UTC time>`."""
    if given:
        if not is_storable(given):
            raise problem("name", "must be valid Unicode text without NUL characters")
        try:
            return parse_name(given)
        except Invalid as error:
            raise problem("name", str(error)) from None
    base = (filename or "").replace("\\", "/").rpartition("/")[2].strip()
    if base and is_storable(base):
        return base[:MAX_NAME]
    return f"Contacts {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"


# Importing.


def import_upload(
    store: ContactImports, upload: IO[bytes], name: str, *, actor: str, command_id: str | None
) -> ImportResult:
    """Imports the bytes of an uploaded file (UTF-8, with or without a BOM)."""
    upload.seek(0)
    text = io.TextIOWrapper(upload, encoding="utf-8", errors="surrogateescape")
    try:
        return store.import_stream(text, name, actor=actor, command_id=command_id)
    finally:
        text.detach()


async def import_contact_list(request: Request) -> Response:
    query = read_query(request.query_params, ContactImportQuery)
    command_id = query.command_id
    kind = media_type(request)
    if kind == MULTIPART:
        form = await read_form(request)
        try:
            upload = form_file(form)
            given = form_text(form, "name") or query.name
            name = list_name(given, upload.filename)
            result = await imported(request, upload.file, name, command_id)
        finally:
            await form.close()
    elif kind in CSV_TYPES:
        name = list_name(query.name, None)
        with tempfile.TemporaryFile(prefix="contacts-") as body:
            await save_body(request, body)
            result = await imported(request, body, name, command_id)
    else:
        raise ApiError(
            "unsupported_media_type",
            f"send the CSV as text/csv or as the file field of {MULTIPART}",
        )
    return JSONResponse(result.to_json(), status_code=201)


async def imported(
    request: Request, upload: IO[bytes], name: str, command_id: str | None
) -> ImportResult:
    store = platform_of(request).contacts
    return await run_in_threadpool(
        import_upload, store, upload, name, actor=actor_of(request), command_id=command_id
    )


# Reading lists.


def contact_list_answer(contact_list: ContactList) -> answers.ContactList:
    return answers.ContactList(
        id=str(contact_list.id),
        version=contact_list.version,
        name=contact_list.name,
        accepted=contact_list.accepted,
        duplicates=contact_list.duplicates,
        rejected_total=contact_list.rejected + contact_list.duplicates,
        columns=list(contact_list.columns),
        created_at=format_time(contact_list.created_on),
    )


def contact_list_json(contact_list: ContactList) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.to_builtins(contact_list_answer(contact_list))
    return found


def every_list(platform: Services) -> list[ContactList]:
    """Every contact list, newest first."""
    app = platform.app
    found = (app.find(ContactList, list_id) for list_id in app.catalogue_ids(CATALOGUE))
    return sorted((c for c in found if c), key=lambda c: c.created_on, reverse=True)


async def list_contact_lists(request: Request) -> Response:
    lists = await run_in_threadpool(every_list, platform_of(request))
    return answer(answers.ContactListList(items=[contact_list_answer(c) for c in lists]))


async def get_contact_list(request: Request) -> Response:
    list_id = parse_id(request.path_params["id"], "contact list")
    app = platform_of(request).app
    contact_list = await run_in_threadpool(app.load, ContactList, list_id, "contact list")
    return answer(contact_list_answer(contact_list))


routes = [
    Route("/api/contact-lists", import_contact_list, methods=["POST"]),
    Route("/api/contact-lists", list_contact_lists, methods=["GET"]),
    Route("/api/contact-lists/{id}", get_contact_list, methods=["GET"]),
]
