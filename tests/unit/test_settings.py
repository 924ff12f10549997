"""Settings: env vars over the env file over defaults; placeholders refused outside development."""

import pytest
from pydantic import ValidationError

from llm_engineering.settings import Settings


def test_env_file_then_env_vars_take_precedence(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_NAME=from_file\nDATABASE_HOST=mongodb://db.example:27017\n")
    monkeypatch.setenv("DATABASE_NAME", "from_env")
    settings = Settings(_env_file=env_file)
    assert settings.database_name == "from_env"
    assert settings.database_host == "mongodb://db.example:27017"
    assert not settings.uses_embedded_warehouse


def test_defaults_use_the_embedded_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    monkeypatch.delenv("DATABASE_NAME", raising=False)
    settings = Settings(_env_file=tmp_path / "absent.env")
    assert settings.database_name == "twin"
    assert settings.uses_embedded_warehouse


def test_placeholder_secrets_are_refused_outside_development(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "changeme")
    assert Settings(_env_file=tmp_path / "absent.env").openai_api_key.get_secret_value() == "changeme"
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="OPENAI_API_KEY is still the placeholder"):
        Settings(_env_file=tmp_path / "absent.env")
