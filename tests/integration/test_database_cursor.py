"""Our cursor over both databases: `?` placeholders, and statements read as written."""

from __future__ import annotations

from infra.bootstrap import Platform


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
