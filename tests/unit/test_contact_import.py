"""Reading an uploaded contacts CSV: the header, each line accepted or rejected with why."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from domain.contact_import import (
    MAX_LINE,
    MAX_VALUE,
    Contact,
    ContactFile,
    Rejection,
    lines_of,
)
from domain.errors import ValidationFailed


def read(text: str) -> tuple[list[str], list[Contact | Rejection]]:
    contacts = ContactFile.of_stream(io.StringIO(text, newline=None))
    return contacts.columns, list(contacts)


def refusal(text: str) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as refused:
        ContactFile.of_stream(io.StringIO(text))
    details: list[dict[str, str]] = refused.value.details
    return details


def test_numbers_are_normalised_to_e164_and_other_columns_become_fields() -> None:
    columns, lines = read(
        "phone,first_name,city\n+49 151 1234-5678,Ann,Berlin\n0044 20 7946 0018,Bob,London\n"
    )

    assert columns == ["first_name", "city"]
    assert lines == [
        Contact(2, "+4915112345678", {"first_name": "Ann", "city": "Berlin"}),
        Contact(3, "+442079460018", {"first_name": "Bob", "city": "London"}),
    ]


def test_headers_are_lower_cased_and_trimmed() -> None:
    columns, lines = read("PHONE , First_Name ,CITY\n+4915112345678,Ann,Berlin\n")

    assert columns == ["first_name", "city"]
    assert lines[0] == Contact(2, "+4915112345678", {"first_name": "Ann", "city": "Berlin"})


def test_a_file_with_only_phones_has_no_columns() -> None:
    columns, lines = read("phone\n+4915112345678\n")

    assert columns == []
    assert lines == [Contact(2, "+4915112345678", {})]


def test_a_byte_order_mark_and_crlf_line_ends_are_understood() -> None:
    columns, lines = read("\ufeffphone,name\r\n+4915112345678,Ann\r\n+4915112345679,Bob\r\n")

    assert columns == ["name"]
    assert [c.phone for c in lines if isinstance(c, Contact)] == [
        "+4915112345678",
        "+4915112345679",
    ]


def test_quoted_fields_may_hold_commas_quotes_and_line_breaks() -> None:
    _columns, lines = read(
        'phone,name,note\n"+4915112345678","Doe, Ann","said ""hi""\ntwice"\n+4915112345679,Bob,x\n'
    )

    assert lines == [
        Contact(2, "+4915112345678", {"name": "Doe, Ann", "note": 'said "hi"\ntwice'}),
        Contact(4, "+4915112345679", {"name": "Bob", "note": "x"}),
    ]


def test_blank_lines_are_skipped_not_rejected_and_line_numbers_count_them() -> None:
    _columns, lines = read("\nphone,name\n\n+4915112345678,Ann\n   \n,\n+4915112345679,Bob\n\n")

    assert lines == [
        Contact(4, "+4915112345678", {"name": "Ann"}),
        Contact(7, "+4915112345679", {"name": "Bob"}),
    ]


def test_unusable_numbers_are_rejected_with_their_line_value_and_reason() -> None:
    _columns, lines = read(
        "phone,name\n0151 1234567,Ann\nabc,Bob\n+12,Cy\n,Dee\n+4915112345678,Eve\n"
    )

    assert lines[:4] == [
        Rejection(
            2, "0151 1234567", "phone: no country code (write it as +<country code><number>)"
        ),
        Rejection(3, "abc", "phone: not a phone number"),
        Rejection(4, "+12", "phone: must have 8 to 15 digits with its country code"),
        Rejection(5, "", "no phone number"),
    ]
    assert lines[4] == Contact(6, "+4915112345678", {"name": "Eve"})


def test_lines_with_too_many_or_too_few_columns_are_rejected() -> None:
    _columns, lines = read("phone,name\n+4915112345678\n+4915112345679,Bob,extra\n")

    assert lines == [
        Rejection(2, "+4915112345678", "has 1 columns; the header has 2"),
        Rejection(3, "+4915112345679", "has 3 columns; the header has 2"),
    ]


def test_an_over_long_field_rejects_its_line() -> None:
    long_name = "x" * (MAX_VALUE + 1)
    _columns, lines = read(
        f"phone,name\n+4915112345678,{long_name}\n+4915112345679,{'y' * MAX_VALUE}\n"
    )

    assert lines[0] == Rejection(2, "+4915112345678", f"name is longer than {MAX_VALUE} characters")
    assert isinstance(lines[1], Contact)


def test_an_over_long_line_is_rejected_without_being_held_whole() -> None:
    huge = "+4915112345678," + "z" * (MAX_LINE * 3)
    stream = io.StringIO(f"phone,name\n{huge}\n+4915112345679,Bob\n")

    pieces = list(lines_of(stream))
    assert max(len(piece) for piece in pieces) <= MAX_LINE + 2
    _columns, lines = read(f"phone,name\n{huge}\n+4915112345679,Bob\n")
    assert lines == [
        Rejection(2, "", f"the line is longer than {MAX_LINE} characters"),
        Contact(3, "+4915112345679", {"name": "Bob"}),
    ]


def test_lines_that_are_not_utf8_or_hold_nul_are_rejected() -> None:
    raw = b"phone,name\n+4915112345678,\xff\xfe\n+4915112345679,a\x00b\n+4915112345670,ok\n"
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="surrogateescape")

    lines = list(ContactFile.of_stream(stream))

    assert lines == [
        Rejection(2, "", "is not UTF-8 text"),
        Rejection(3, "", "contains a NUL character"),
        Contact(4, "+4915112345670", {"name": "ok"}),
    ]


def test_values_are_trimmed() -> None:
    _columns, lines = read("phone,name\n  +4915112345678 ,  Ann  \n")

    assert lines == [Contact(2, "+4915112345678", {"name": "Ann"})]


def test_the_first_header_must_be_phone() -> None:
    details = refusal("mobile,name\n+4915112345678,Ann\n")

    assert details == [
        {"field": "header", "message": "the first column must be phone, not 'mobile'"}
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("phone,first name", "not a placeholder name"),
        ("phone,1st", "not a placeholder name"),
        ("phone,prénom", "not a placeholder name"),
        ("phone,", "has no name"),
        ("phone,short_url", "short_url is reserved"),
        ("phone,OPTOUT_URL", "optout_url is reserved"),
        ("phone,name,Name", "name is already an earlier column"),
        ("phone,Phone", "phone is already an earlier column"),
    ],
)
def test_a_bad_placeholder_header_refuses_the_whole_file(header: str, message: str) -> None:
    details = refusal(f"{header}\n+4915112345678,a,b\n")

    assert len(details) == 1
    assert details[0]["field"].startswith("header column")
    assert message in details[0]["message"]


def test_every_bad_header_is_named_at_once() -> None:
    details = refusal("phone,short_url,bad name,ok\n")

    assert [d["field"] for d in details] == ["header column 2", "header column 3"]


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff"])
def test_an_empty_file_is_refused(text: str) -> None:
    details = refusal(text)

    assert details == [
        {
            "field": "file",
            "message": "is empty: the first line must be a header starting with phone",
        }
    ]


def test_reading_is_lazy_one_line_at_a_time() -> None:
    consumed = []

    def lines() -> Iterator[str]:
        for line in ["phone\n", "+4915112345678\n", "+4915112345679\n", "+4915112345670\n"]:
            consumed.append(line)
            yield line

    contacts = ContactFile(lines())
    first = next(iter(contacts))

    assert first == Contact(2, "+4915112345678", {})
    assert len(consumed) <= 3
