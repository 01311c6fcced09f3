"""Our cursor over both databases: `?` placeholders, statements read as written, and text
arrays that come back as they were given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.bootstrap import Platform
from projections.database import PostgresDatabase
from tests.integration.conftest import postgres_url


def test_a_statement_without_parameters_keeps_its_percent_signs(platform: Platform) -> None:
    with platform.database.transaction() as cursor:
        cursor.execute("SELECT 'a%b' LIKE 'a%'")
        row = cursor.fetchone()
    assert row is not None and bool(row[0]) is True


def test_parameters_fill_question_marks(platform: Platform) -> None:
    with platform.database.transaction() as cursor:
        cursor.execute("SELECT ? || ?", ("50", "%"))
        row = cursor.fetchone()
    assert row is not None and row[0] == "50%"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(postgres_url(), max_connections=2)
    try:
        yield database
    finally:
        database.close()


TRICKY_TEXTS = [
    "plain",
    "",
    "NULL",
    "null",
    "a,b",
    "two words",
    " padded ",
    'quote " inside',
    "back\\slash",
    "{braces}",
    "tab\tnew\nline",
    "(0,1)",
    "émoji 🎉",
    "\u00a0no-break space",
]
ORDERED = "SELECT t FROM unnest(?::text[]) WITH ORDINALITY AS v(t, n) ORDER BY n"


def test_text_arrays_come_back_as_given(postgres: PostgresDatabase) -> None:
    cases = [["+447700900001", "sent", "2026-11-29T18:00:00.000000Z"], []]
    cases += [[text] for text in TRICKY_TEXTS] + [TRICKY_TEXTS]
    with postgres.read() as cursor:
        for values in cases:
            cursor.execute(ORDERED, (values,))
            assert [row[0] for row in cursor.fetchall()] == values
        cursor.execute(ORDERED, (["a", None],))  # not all text: the driver's own encoding
        assert [row[0] for row in cursor.fetchall()] == ["a", None]


@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_list_of_texts_comes_back_as_given(
    postgres: PostgresDatabase, values: list[str]
) -> None:
    with postgres.read() as cursor:
        cursor.execute(ORDERED, (values,))
        assert [row[0] for row in cursor.fetchall()] == values
