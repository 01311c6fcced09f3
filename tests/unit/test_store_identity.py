"""Records on the store's topics are taken only when the store itself published them."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from projections.identity import ForeignRecord, check_records, header


class Record(NamedTuple):
    partition: int
    offset: int
    headers: list[tuple[str, bytes]] | None


def batch(*records: Record) -> dict[Any, list[Any]]:
    return {"partition-0": list(records)}


def test_records_of_this_store_are_taken() -> None:
    check_records("abc", "events", batch(Record(0, 1, [header("abc"), ("seq", b"1")])))


def test_records_of_another_store_are_refused() -> None:
    with pytest.raises(ForeignRecord, match="another store"):
        check_records("abc", "events", batch(Record(0, 1, [header("xyz")])))


def test_kafka_records_without_the_store_header_are_refused() -> None:
    """Finding 15: a record without the header (written by hand, or by another tool) is
    not taken as this store's own."""
    for headers in (None, [], [("seq", b"1")]):
        with pytest.raises(ForeignRecord, match="no 'store' header"):
            check_records("abc", "events", batch(Record(0, 7, headers)))
