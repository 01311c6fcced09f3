"""The events topic's records: many messages to a record, read back in order."""

from __future__ import annotations

from datetime import UTC, datetime

from infra import relay
from infra.kafka_feed import decode
from projections.messages import EventMessage


def message(position: int, name: str = "x") -> EventMessage:
    return EventMessage(
        position=position,
        aggregate_id=f"aggregate-{position % 3}",
        version=position,
        type="Campaign.Renamed",
        at=datetime(2026, 12, 8, 1, 0, position % 60, 123456, tzinfo=UTC),
        data={"name": name, "ratio": [1, 2.5], "note": 'été \u2028 "quoted"'},
    )


def test_a_batch_of_messages_goes_out_in_few_records_and_reads_back_in_order() -> None:
    messages = [message(n) for n in range(1, 1201)]
    records = relay.encode_many(messages, "store-1")
    assert len(records) == 3  # 500, 500 and 200
    read = [m for _key, value, _headers in records for m in decode(value)]
    assert read == messages
    key, _value, headers = records[-1]
    assert key == b"store-1"
    assert dict(headers)["position"] == b"1200" and dict(headers)["messages"] == b"200"
    assert dict(headers)["store"] == b"store-1"


def test_a_record_stays_well_under_the_brokers_limit() -> None:
    messages = [message(n, "x" * 10_000) for n in range(1, 101)]
    records = relay.encode_many(messages, "store-1")
    assert len(records) > 1
    assert all(len(value) < 300 * 1024 for _key, value, _headers in records)
    assert [m for _k, v, _h in records for m in decode(v)] == messages


def test_a_record_of_one_message_as_records_were_first_is_still_read() -> None:
    one = message(7)
    _key, value, _headers = relay.encode(one, "store-1")
    assert decode(value) == [one]


def test_a_message_larger_than_a_record_goes_alone_not_beside_others() -> None:
    big = message(2, "x" * (relay.RECORD_BYTES + 1000))
    messages = [message(1), big, message(3)]
    records = relay.encode_many(messages, "store-1")
    assert [len(decode(value)) for _key, value, _headers in records] == [1, 1, 1]
    assert [m for _k, v, _h in records for m in decode(v)] == messages
