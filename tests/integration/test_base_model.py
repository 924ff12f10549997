"""The base model resolves to a local Hugging Face folder offline; bad settings name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.model.base_model import resolve_base_model

pytestmark = pytest.mark.integration


def test_packaged_smollm2_converts_once_into_a_plain_bf16_folder(smollm2_dir: Path) -> None:
    import json

    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config  # the GGUF flags are cleared: trainable and saveable
    assert config["dtype"] == "bfloat16"
    assert (smollm2_dir / "tokenizer.json").is_file()
    before = (smollm2_dir / "model.safetensors").stat().st_mtime_ns
    again = resolve_base_model(None, models_dir=smollm2_dir.parent.parent)
    assert again == smollm2_dir
    assert (again / "model.safetensors").stat().st_mtime_ns == before  # reused, not converted again


def test_a_local_folder_is_returned_as_is(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert resolve_base_model(str(tiny_model_dir), models_dir=tmp_path) == tiny_model_dir


def test_a_missing_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="does not exist or has no config.json"):
        resolve_base_model(str(tmp_path / "nowhere"), models_dir=tmp_path)


def test_an_unreachable_hub_id_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ImproperlyConfigured, match="set base_model to the local folder"):
        resolve_base_model("nobody/no-such-model-xyz", models_dir=tmp_path)
