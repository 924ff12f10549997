"""`tools.twin generate` streams the newest twin's answer, or a named folder's or the base model's."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.integration


def test_generate_uses_the_newest_twin_and_a_named_folder(
    tiny_model_dir: Path, tmp_path, monkeypatch
) -> None:
    from llm_engineering.model.registry import ModelRegistry, ModelVersion
    from llm_engineering.settings import get_settings
    from tools.twin import cli

    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LLM_TWIN_ENV_FILE", str(tmp_path / "no.env"))
    monkeypatch.setenv("BASE_MODEL", str(tiny_model_dir))
    get_settings.cache_clear()
    registry = ModelRegistry(tmp_path / "state" / "models")
    registry.register(
        ModelVersion(
            name="r1-sft", stage="sft", folder=tiny_model_dir, base_model="tiny", author="Ada Lovelace"
        )
    )
    try:
        newest = CliRunner().invoke(cli, ["generate", "Hello", "--max-tokens", "5"])
        named = CliRunner().invoke(
            cli,
            [
                "generate",
                "Hello",
                "--max-tokens",
                "5",
                "--model",
                str(tiny_model_dir),
                "--author",
                "Ada Lovelace",
            ],
        )
        unknown = CliRunner().invoke(cli, ["generate", "Hello", "--model", "r9-dpo"])
        base = CliRunner().invoke(cli, ["generate", "Hello", "--max-tokens", "5", "--model", "base"])
    finally:
        get_settings.cache_clear()
    assert newest.exit_code == 0, newest.output
    assert "[r1-sft, as the twin of Ada Lovelace]" in newest.output
    assert "5 tokens in" in newest.output
    answer = newest.output.splitlines()[1]
    assert answer.strip() and answer in named.output  # greedy: the same model and prompt, the same answer
    assert unknown.exit_code == 1 and "no model version 'r9-dpo'" in unknown.output
    assert (
        base.exit_code == 0 and f"[{tiny_model_dir}, as the twin of the author]" in base.output
    )  # not yet registered
