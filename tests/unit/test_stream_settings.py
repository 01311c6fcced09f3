"""A carrier's settings: parsed once for every carrier, secrets kept apart from events."""

from __future__ import annotations

import pytest

from domain.fields import Invalid
from domain.stream import Stream, parse_stream_settings


def test_smpp_settings_take_their_defaults_and_keep_the_password_apart() -> None:
    parsed = parse_stream_settings(
        "smpp", {"host": "smsc.example", "system_id": "shop", "password": "pw"}, creating=True
    )
    assert parsed.secrets == {"password": "pw"}
    assert "password" not in parsed.options
    assert parsed.options["port"] == 2775 and parsed.options["window"] == 10
    assert parsed.options["bind"] == "transceiver" and parsed.options["long_messages"] == "udh"


def test_every_problem_of_the_settings_is_named() -> None:
    with pytest.raises(Invalid) as refused:
        parse_stream_settings("smpp", {"port": 0, "window": 0}, creating=True)
    message = str(refused.value)
    for part in ("host is required", "system_id is required", "port must be", "window must be"):
        assert part in message


def test_a_change_names_only_what_it_changes() -> None:
    parsed = parse_stream_settings("http", {"timeout": 3}, creating=False)
    assert parsed.options == {"timeout": 3.0} and parsed.secrets == {}


def test_a_setting_of_another_carrier_is_refused() -> None:
    with pytest.raises(Invalid, match="unknown field 'url'"):
        parse_stream_settings("smpp", {"url": "https://x.example"}, creating=False)


def test_the_settings_version_moves_with_settings_and_secrets_not_with_the_rate() -> None:
    stream = Stream.register("smsc", "smpp", 10, {"host": "a.example"}, actor="alice")
    assert stream.settings_version == 1
    stream.change({"rate": 20}, actor="alice")
    assert stream.settings_version == 1
    stream.change({"options": {"host": "b.example"}}, actor="alice")
    assert stream.settings_version == stream.version
    stream.change({"rate": 30}, actor="alice")
    stream.change({"secrets": ["password"]}, actor="bob", reason="secrets changed: password")
    assert stream.settings_version == stream.version and stream.secrets == ["password"]


def test_an_endpoint_with_credentials_is_refused_they_belong_in_the_token() -> None:
    with pytest.raises(Invalid, match="token"):
        parse_stream_settings("http", {"url": "https://shop:pw@sms.example/send"}, creating=False)
