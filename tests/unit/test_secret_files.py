"""Secrets from files: CAMPAIGNS_DATABASE_URL_FILE, CAMPAIGNS_BOOTSTRAP_TOKEN_FILE and
CAMPAIGNS_KAFKA_SASL_PASSWORD_FILE stand for their variables, read once at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings, SettingsError

URL = "postgresql://campaigns:s3cret@db.example.net:5432/campaigns"


def test_the_database_url_and_the_bootstrap_token_come_from_their_files(tmp_path: Path) -> None:
    (tmp_path / "url").write_text(URL + "\n")
    (tmp_path / "token").write_text("cmp_a-token-of-enough-length\r\n")
    settings = Settings.from_environment(
        {
            "CAMPAIGNS_DATABASE_URL_FILE": str(tmp_path / "url"),
            "CAMPAIGNS_BOOTSTRAP_TOKEN_FILE": str(tmp_path / "token"),
        }
    )
    assert settings.postgres is not None and settings.postgres.url == URL
    assert settings.bootstrap_token == "cmp_a-token-of-enough-length"


def test_a_kafka_password_from_a_file_keeps_its_spaces_but_not_the_line_break(
    tmp_path: Path,
) -> None:
    (tmp_path / "password").write_text(" pass word \n")
    settings = Settings.from_environment(
        {
            "CAMPAIGNS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CAMPAIGNS_KAFKA_SASL_MECHANISM": "PLAIN",
            "CAMPAIGNS_KAFKA_SASL_USERNAME": "campaigns",
            "CAMPAIGNS_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "password"),
        }
    )
    assert settings.kafka_security.sasl_password == " pass word "


def test_a_secret_given_both_as_a_variable_and_as_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "url").write_text(URL)
    with pytest.raises(
        SettingsError, match="CAMPAIGNS_DATABASE_URL and CAMPAIGNS_DATABASE_URL_FILE"
    ):
        Settings.from_environment(
            {"CAMPAIGNS_DATABASE_URL": URL, "CAMPAIGNS_DATABASE_URL_FILE": str(tmp_path / "url")}
        )


def test_a_secret_file_that_cannot_be_read_is_refused_by_its_variable_not_its_content(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SettingsError, match="CAMPAIGNS_BOOTSTRAP_TOKEN_FILE names no file"):
        Settings.from_environment({"CAMPAIGNS_BOOTSTRAP_TOKEN_FILE": str(missing)})
