"""The OpenAPI document is generated: the same bytes at every build, its request bodies
from the declarations the gateway decodes with."""

from __future__ import annotations

import os
import subprocess
import sys

import msgspec
import pytest

from domain.errors import ValidationFailed
from gateway import openapi, openapi_streams
from gateway.openapi import openapi_document, openapi_json
from gateway.schemas.decoding import decoded
from gateway.schemas.document import EVERY_ANSWER, REQUESTS, declared_components

BUILD = (
    "import sys; from gateway.openapi import openapi_json; sys.stdout.buffer.write(openapi_json())"
)


def built_in_a_process(hash_seed: str) -> bytes:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", BUILD], capture_output=True, check=True, env=environment
    ).stdout


def test_two_builds_of_the_document_are_the_same_bytes() -> None:
    assert built_in_a_process("1") == built_in_a_process("2") == openapi_json()


def test_the_served_bytes_are_the_document() -> None:
    assert msgspec.json.decode(openapi_json()) == openapi_document()


def test_every_declared_body_is_in_the_document_as_generated() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name, schema in declared_components().items():
        assert schemas[name] == schema, name
    assert {declaration.__name__ for declaration in REQUESTS} <= set(schemas)
    assert {declaration.__name__ for declaration in EVERY_ANSWER} <= set(schemas)


def test_no_component_is_both_declared_and_written_by_hand() -> None:
    written = {
        *openapi.field_schemas(),
        *openapi_streams.stream_schemas(),
    }
    assert not written & set(declared_components())


@pytest.mark.parametrize("declaration", REQUESTS, ids=lambda d: d.__name__)
def test_a_body_with_an_unknown_field_is_refused_naming_it(declaration: type) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decoded({"colour": "red"}, declaration)
    assert "colour" in [problem["field"] for problem in refused.value.details]
