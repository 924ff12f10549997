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


@pytest.mark.parametrize(
    "variable", ["HUGGINGFACE_ACCESS_TOKEN", "SERVING_API_KEY", "POE_ACCESS_KEY", "GITHUB_TOKEN"]
)
def test_every_secret_placeholder_is_refused_outside_development(tmp_path, monkeypatch, variable):
    monkeypatch.setenv(variable, "changeme")
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match=f"{variable} is still the placeholder"):
        Settings(_env_file=tmp_path / "absent.env")


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://twin:changeme@db.example:27017/?authSource=admin",
        "mongodb+srv://twin:changeme@cluster0.example.net/twin",
        "mongodb://twin:changeme@h1:27017,h2:27017/twin?replicaSet=rs0",
    ],
)
def test_a_placeholder_password_in_database_host_is_refused_without_echoing_secrets(
    tmp_path, monkeypatch, uri
):
    monkeypatch.setenv("DATABASE_HOST", uri)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a-real-looking-secret")
    assert Settings(_env_file=tmp_path / "absent.env").database_host == uri  # fine in development
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="DATABASE_HOST holds the placeholder password") as caught:
        Settings(_env_file=tmp_path / "absent.env")
    assert "sk-a-real-looking-secret" not in str(caught.value)
    assert "twin:changeme@" not in str(caught.value)


@pytest.mark.parametrize(
    "uri", ["mongodb://twin:s3cret@db.example:27017", "mongodb://db.example:27017", "mongodb://changeme@db:1"]
)
def test_real_database_passwords_pass_outside_development(tmp_path, monkeypatch, uri):
    monkeypatch.setenv("DATABASE_HOST", uri)
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert Settings(_env_file=tmp_path / "absent.env").database_host == uri
